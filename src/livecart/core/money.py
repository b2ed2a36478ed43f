"""Money is an integer number of minor units plus an ISO 4217 currency code."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

# Minor-unit exponents of the currencies livecart accepts (ISO 4217).
CURRENCY_EXPONENTS: dict[str, int] = {
    "CNY": 2,
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "HKD": 2,
    "SGD": 2,
    "AUD": 2,
    "CAD": 2,
    "BRL": 2,
    "MYR": 2,
    "THB": 2,
    "IDR": 2,
    "PHP": 2,
    "INR": 2,
    "VND": 0,
    "JPY": 0,
    "KRW": 0,
}


def _check_currency(code: str) -> str:
    if code not in CURRENCY_EXPONENTS:
        raise ValueError(f"unsupported currency {code!r}; use one of {sorted(CURRENCY_EXPONENTS)}")
    return code


Currency = Annotated[str, Field(min_length=3, max_length=3), AfterValidator(_check_currency)]
MINOR_UNITS_MAX = 10**12
MinorUnits = Annotated[int, Field(ge=0, le=MINOR_UNITS_MAX, strict=True)]


def format_money(amount: int, currency: str) -> str:
    """Render minor units for people, e.g. 12990 CNY -> 'CNY 129.90'."""
    exponent = CURRENCY_EXPONENTS.get(currency, 2)
    if exponent == 0:
        return f"{currency} {amount:,}"
    major, minor = divmod(amount, 10**exponent)
    return f"{currency} {major:,}.{minor:0{exponent}d}"
