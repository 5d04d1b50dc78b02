"""Column types that behave the same on PostgreSQL and SQLite.

Times are stored as integer Unix nanoseconds everywhere (`*_ns` columns): exact on
both dialects and the same unit as `domain.TimeWindow`. Money is exact too: a
NUMERIC on PostgreSQL and an integer count of nano-dollars on SQLite, whose
NUMERIC is a float and would make rollups drift from a recount.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Dialect, Numeric
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator, TypeEngine

COST_SCALE = 9
COST_QUANTUM = Decimal(1).scaleb(-COST_SCALE)
_COST_FACTOR = 10**COST_SCALE

# JSON everywhere, JSONB (indexable, compact) on PostgreSQL.
JsonColumn = JSON().with_variant(JSONB(), "postgresql")


def quantize_cost(value: Decimal) -> Decimal:
    """Round a cost to the stored precision (nano-dollars, banker's rounding)."""
    return value.quantize(COST_QUANTUM, rounding=ROUND_HALF_EVEN)


class Money(TypeDecorator[Decimal]):
    """USD amounts with 9 decimals: NUMERIC(20, 9) on PostgreSQL, nano-dollars elsewhere."""

    impl = Numeric(20, COST_SCALE)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """Pick the storage type for the dialect."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(20, COST_SCALE, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        """Decimal in, the dialect's representation out."""
        if value is None:
            return None
        value = quantize_cost(Decimal(value))
        if dialect.name == "sqlite":
            return int(value * _COST_FACTOR)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        """The dialect's representation in, Decimal out."""
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)).scaleb(-COST_SCALE)
        return quantize_cost(Decimal(value))
