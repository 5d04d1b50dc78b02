"""Costs from the price table: exact, rounded half to even at nano-dollars."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ailogs.services.pricing import ModelPrice, PriceTable, find_prices
from ailogs.store.columns import quantize_cost

SHIPPED = PriceTable.load(find_prices())
AWKWARD = PriceTable.from_mapping(
    {
        "version": "test",
        "unit": "per_1m_tokens",
        "models": [
            {"name": "fine", "input": 1.23456789, "output": 0.0375, "cache_read": 0.000001},
            {"name": "round", "input": 3, "output": 15},
        ],
    }
)


def by_the_rule(price: ModelPrice, input_tokens: int, output_tokens: int, cached: int) -> Decimal:
    """The file's rule in Decimal arithmetic, then rounded to the stored precision."""
    cached = min(cached, input_tokens)
    total = (
        (input_tokens - cached) * price.input
        + cached * price.cache_read
        + output_tokens * price.output
    )
    return quantize_cost(total)


tokens = st.integers(min_value=0, max_value=100_000_000)


@given(
    model=st.sampled_from(["gpt-4o", "gpt-4o-mini-2024-07-18", "claude-3-5-haiku-20241022"]),
    input_tokens=tokens,
    output_tokens=tokens,
    cached=tokens,
)
def test_shipped_prices_cost_what_the_rule_says(
    model: str, input_tokens: int, output_tokens: int, cached: int
) -> None:
    priced = SHIPPED.cost(
        [model], input_tokens=input_tokens, output_tokens=output_tokens, cache_read_tokens=cached
    )
    price = SHIPPED.lookup(model)

    assert priced is not None
    assert price is not None
    expected = by_the_rule(price, input_tokens, output_tokens, cached)
    assert (priced.cost_usd, priced.cost_usd.as_tuple().exponent) == (expected, -9)


@given(model=st.sampled_from(["fine", "round"]), input_tokens=tokens, output_tokens=tokens)
def test_prices_finer_than_a_nano_dollar_round_half_to_even(
    model: str, input_tokens: int, output_tokens: int
) -> None:
    priced = AWKWARD.cost(
        [model], input_tokens=input_tokens, output_tokens=output_tokens, cache_read_tokens=7
    )
    price = AWKWARD.lookup(model)

    assert priced is not None
    assert price is not None
    assert priced.cost_usd == by_the_rule(price, input_tokens, output_tokens, 7)


@pytest.mark.parametrize(
    ("tokens", "nano_dollars"), [(1, 0), (3, 2), (5, 2), (7, 4), (2, 1), (0, 0)]
)
def test_half_a_nano_dollar_rounds_to_even(tokens: int, nano_dollars: int) -> None:
    table = PriceTable.from_mapping(
        {
            "version": "v",
            "unit": "per_token",
            "models": [{"name": "m", "input": 0, "output": 5e-10}],
        }
    )

    priced = table.cost(["m"], input_tokens=0, output_tokens=tokens)

    assert priced is not None
    assert priced.cost_usd == Decimal(nano_dollars).scaleb(-9)


def test_prices_must_be_finite() -> None:
    with pytest.raises(ValueError, match="finite"):
        PriceTable.from_mapping(
            {"version": "v", "models": [{"name": "m", "input": float("inf"), "output": 1}]}
        )
