"""Exact money in SQLite, which has no decimal type.

Each amount is stored twice: as its exact decimal text, and as an INTEGER count of 1e-12 units
when it is a whole number of them (NULL otherwise). SQL sums the integers (exact, fast); rows
without units, and any sum that would pass SQLite's 64-bit range (about 9.2 million per group),
are summed in Python from the text. Either way a total is exact to the last digit.
"""

from __future__ import annotations

from decimal import Context, Decimal

SCALE = 12
_MAX_UNITS = 2**63 - 1
# Wide enough that adding any stored amounts never rounds.
EXACT = Context(prec=80)


def to_units(amount: Decimal) -> int | None:
    """``amount`` as a whole number of 1e-12 units, or None when it is not one (or too large)."""
    sign, digits, exponent = amount.as_tuple()
    if not isinstance(exponent, int):  # NaN or infinity
        return None
    magnitude = int("".join(map(str, digits)) or "0")
    shift = exponent + SCALE
    if shift >= 0:
        units = magnitude * 10**shift
    else:
        units, remainder = divmod(magnitude, 10**-shift)
        if remainder:
            return None
    if units > _MAX_UNITS:
        return None
    return int(-units if sign else units)


def from_units(units: int) -> Decimal:
    return EXACT.scaleb(Decimal(units), -SCALE)


def exact_sum(amounts: list[Decimal], start: Decimal | None = None) -> Decimal:
    total = start if start is not None else Decimal(0)
    for amount in amounts:
        total = EXACT.add(total, amount)
    return total
