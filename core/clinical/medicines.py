"""A prescription line as the doctor types it: medicine, strength, pattern, timing, course."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from core.errors import ValidationFailed

TIMINGS = {
    "before_food": "Before food",
    "after_food": "After food",
    "with_food": "With food",
    "empty_stomach": "Empty stomach",
    "bedtime": "At bedtime",
}
AS_NEEDED = ("SOS", "STAT")
MAX_DAYS = 365
MAX_LINES = 20
# Morning-noon-night (optionally a fourth dose): 1-0-1, 1-1-1-1, 0-0-½, 2-0-2.
_DOSE = r"(?:[0-4](?:\.5)?|½)"
_PATTERN = re.compile(rf"^{_DOSE}(?:-{_DOSE}){{2,3}}$")


@dataclass(frozen=True)
class MedicineLine:
    """One medicine of a prescription; ``dosage_pattern`` like ``1-0-1`` or ``SOS``."""

    medicine: str
    dosage_pattern: str
    strength: str | None = None
    timing: str | None = None
    duration_days: int | None = None
    instructions: str | None = None


def checked_line(line: MedicineLine, position: int) -> dict[str, Any]:
    """Return a line's column values; ``ValidationFailed`` names the line and the field."""
    where = f"Medicine {position}"
    name = (line.medicine or "").strip()
    if not name or len(name) > 200:
        raise ValidationFailed(f"{where}: a name of 1 to 200 characters", field="medicine")
    return {
        "position": position,
        "medicine": name,
        "strength": _short(line.strength, 60, f"{where}: strength", "strength"),
        "dosage_pattern": check_pattern(line.dosage_pattern, where),
        "timing": _timing(line.timing, where),
        "duration_days": _days(line.duration_days, where),
        "instructions": _short(line.instructions, 300, f"{where}: instructions", "instructions"),
    }


def check_pattern(pattern: str, where: str = "Dosage") -> str:
    """Normalise and validate a dosage pattern (``1 - 0 - 1`` → ``1-0-1``; ``sos`` → ``SOS``)."""
    text = re.sub(r"\s+", "", pattern or "").replace("1/2", "½").replace("0.5", "½")
    if text.upper() in AS_NEEDED:
        return text.upper()
    if not _PATTERN.match(text) or all(d == "0" for d in text.split("-")):
        raise ValidationFailed(
            f"{where}: dosage pattern {pattern!r} should look like 1-0-1 (morning-noon-night), "
            "1-1-1-1, or SOS",
            field="dosage_pattern",
        )
    return text


def timing_label(timing: str | None) -> str:
    return TIMINGS.get(timing or "", "")


def _timing(timing: str | None, where: str) -> str | None:
    if not timing:
        return None
    if timing not in TIMINGS:
        raise ValidationFailed(f"{where}: timing is one of {', '.join(TIMINGS)}", field="timing")
    return timing


def _days(days: int | None, where: str) -> int | None:
    if days is None:
        return None
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise ValidationFailed(f"{where}: duration is 1 to {MAX_DAYS} days", field="duration_days")
    return days


def _short(value: str | None, limit: int, label: str, field: str) -> str | None:
    text = (value or "").strip()
    if len(text) > limit:
        raise ValidationFailed(f"{label} has at most {limit} characters", field=field)
    return text or None
