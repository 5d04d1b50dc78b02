"""Cost of an LLM call from `config/model_prices.yaml`: a pure lookup and a sum.

Loading reads the file once; `PriceTable.cost()` is a function of its inputs.
The file's rules (units, matching order, cache reads) are documented in it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fnmatch import fnmatchcase
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from ailogs.store.columns import COST_SCALE

_UNITS: Mapping[str, int] = {"per_1m_tokens": 1_000_000, "per_1k_tokens": 1_000, "per_token": 1}


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """USD per token for one model."""

    name: str
    input: Decimal
    output: Decimal
    cache_read: Decimal
    aliases: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Rates:
    """A price as whole units of 10**-scale USD per token: a cost is exact integer math.

    The scale is at least nano-dollars; `nano_dollar` units make one.
    """

    price: ModelPrice
    nano_dollar: int
    input: int
    output: int
    cache_read: int

    @classmethod
    def of(cls, price: ModelPrice) -> _Rates:
        """The price's three rates over their common decimal scale."""
        prices = (price.input, price.output, price.cache_read)
        scale = max(COST_SCALE, *(-int(p.as_tuple().exponent) for p in prices))
        units = [int(p.scaleb(scale)) for p in prices]
        return cls(price, 10 ** (scale - COST_SCALE), units[0], units[1], units[2])


@dataclass(slots=True)
class PricedCost:
    """A computed cost and the price entry and version that produced it.

    Treat it as immutable (not declared frozen: it is built once per ingested
    operation, and a frozen dataclass's constructor costs several times more).
    """

    cost_usd: Decimal
    model: str
    version: str


class PriceTable:
    """Model prices with exact-name, alias and glob-pattern lookup."""

    def __init__(self, version: str, prices: Sequence[ModelPrice]) -> None:
        self.version = version
        self.prices = tuple(prices)
        self._exact: dict[str, ModelPrice] = {}
        for price in self.prices:
            for name in (price.name, *price.aliases):
                self._exact.setdefault(name.lower(), price)
        self.lookup = lru_cache(maxsize=4096)(self._lookup)
        self._rates = lru_cache(maxsize=4096)(self._rates_of)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> PriceTable:
        """Build from the parsed YAML document; ValueError names what is wrong."""
        unit = str(data.get("unit", "per_1m_tokens"))
        if unit not in _UNITS:
            raise ValueError(f"unit must be one of {sorted(_UNITS)}, not {unit!r}")
        divisor = Decimal(_UNITS[unit])
        version = str(data.get("version") or "")
        if not version:
            raise ValueError("model prices need a `version`")
        prices = []
        for index, entry in enumerate(data.get("models") or []):
            try:
                input_price = Decimal(str(entry["input"])) / divisor
                prices.append(
                    ModelPrice(
                        name=str(entry["name"]),
                        input=input_price,
                        output=Decimal(str(entry["output"])) / divisor,
                        cache_read=(
                            Decimal(str(entry["cache_read"])) / divisor
                            if entry.get("cache_read") is not None
                            else input_price
                        ),
                        aliases=tuple(str(a) for a in entry.get("aliases") or ()),
                        patterns=tuple(str(p).lower() for p in entry.get("patterns") or ()),
                    )
                )
            except (KeyError, TypeError, ArithmeticError) as exc:
                raise ValueError(f"models[{index}] is invalid: {exc!r}") from None
            last = prices[-1]
            if not all(p.is_finite() for p in (last.input, last.output, last.cache_read)):
                raise ValueError(f"models[{index}] is invalid: prices must be finite numbers")
        return cls(version, prices)

    @classmethod
    def load(cls, path: Path) -> PriceTable:
        """Read a model_prices.yaml file."""
        with path.open(encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping with version, unit and models")
        return cls.from_mapping(data)

    def _lookup(self, model: str) -> ModelPrice | None:
        key = model.lower()
        exact = self._exact.get(key)
        if exact is not None:
            return exact
        for price in self.prices:
            if any(fnmatchcase(key, pattern) for pattern in price.patterns):
                return price
        return None

    def _rates_of(self, model: str) -> _Rates | None:
        price = self.lookup(model)
        return None if price is None else _Rates.of(price)

    def cost(
        self,
        models: Sequence[str | None],
        *,
        input_tokens: int,
        output_tokens: int,
        cache_read_tokens: int = 0,
    ) -> PricedCost | None:
        """Price a call by the first model name that matches; None when none does."""
        for model in models:
            if not model:
                continue
            rates = self._rates(model)
            if rates is None:
                continue
            cached = cache_read_tokens if cache_read_tokens < input_tokens else input_tokens
            units = (
                (input_tokens - cached) * rates.input
                + cached * rates.cache_read
                + output_tokens * rates.output
            )
            # Rounded to nano-dollars half to even, as quantize_cost rounds.
            nanos, rest = divmod(units, rates.nano_dollar)
            if 2 * rest > rates.nano_dollar or (2 * rest == rates.nano_dollar and nanos % 2):
                nanos += 1
            cost = Decimal(nanos).scaleb(-COST_SCALE)
            return PricedCost(cost, rates.price.name, self.version)
        return None


def find_prices(configured: str = "") -> Path:
    """The prices file: the configured path, else the checkout's or the package's copy."""
    if configured:
        return Path(configured)
    package = Path(__file__).resolve().parents[1]
    for candidate in (
        package / "_config" / "model_prices.yaml",
        package.parents[1] / "config" / "model_prices.yaml",
    ):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("config/model_prices.yaml not found; set AILOGS_INGEST_PRICES_PATH")
