"""Money as integer paise: Indian formatting, parsing typed rupees, and per-line tax."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel.numbers import format_currency

from core.errors import ValidationFailed

_RUPEES = re.compile(r"^\d{1,7}(\.\d{1,2})?$")
MAX_MINOR = 10**9  # ₹1 crore: far above an OPD bill; the amount columns are 32-bit


def format_inr(minor: int) -> str:
    """Format paise the Indian way: 12345650 -> '₹1,23,456.50' (lakh grouping)."""
    return str(format_currency(Decimal(minor) / 100, "INR", locale="en_IN"))


def parse_rupees(text: str, *, field: str = "amount") -> int:
    """Turn typed rupees ('1,234.5', '₹500') into paise, or raise ``ValidationFailed``."""
    cleaned = text.strip().replace(",", "").replace("₹", "").replace(" ", "")
    if not _RUPEES.match(cleaned):
        raise ValidationFailed("Enter an amount in rupees, e.g. 500 or 1250.50", field=field)
    try:
        return int((Decimal(cleaned) * 100).to_integral_value(ROUND_HALF_UP))
    except InvalidOperation as exc:  # pragma: no cover - the pattern already refused it
        raise ValidationFailed("Enter an amount in rupees", field=field) from exc


def tax_on(net_minor: int, rate_bp: int) -> int:
    """Return the tax on ``net_minor`` at ``rate_bp`` basis points, rounded half up to a paisa."""
    return (net_minor * rate_bp + 5000) // 10000


def check_amount(minor: int, *, field: str, allow_zero: bool = True) -> int:
    """Refuse a negative, zero (unless allowed) or absurdly large amount of paise."""
    if minor < 0 or (minor == 0 and not allow_zero) or minor > MAX_MINOR:
        raise ValidationFailed("Amount out of range", field=field)
    return minor
