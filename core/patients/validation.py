"""Field rules for patient demographics: each cleaner returns the stored value or raises."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Mapping
from difflib import SequenceMatcher
from typing import Any

from core.errors import ValidationFailed

MAX_AGE = 130
ADULT_AGE = 18
MAX_NAME = 120
GENDERS = ("female", "male", "other", "undisclosed")
BLOOD_GROUPS = ("A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-")
_GENDER_ALIASES = {"f": "female", "m": "male", "o": "other", "u": "undisclosed"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")


def clean_name(value: str) -> str:
    """Return the name with whitespace collapsed; it must hold a letter and fit the column."""
    name = " ".join((value or "").split())
    if not name:
        raise ValidationFailed("Name is required", field="full_name")
    if len(name) > MAX_NAME:
        raise ValidationFailed(f"Name is longer than {MAX_NAME} characters", field="full_name")
    if not any(ch.isalpha() for ch in name) or _has_control(name):
        raise ValidationFailed("Name must contain letters", field="full_name")
    return name


def name_key(full_name: str) -> str:
    """Return the casefolded search key of a (clean) name."""
    return " ".join(full_name.casefold().split())


def name_similarity(a: str, b: str) -> float:
    """Score two name keys 0..1; one name's words inside the other's count as 1; order ignored."""
    words_a, words_b = set(a.split()), set(b.split())
    if not words_a or not words_b:
        return 0.0
    # Whole words, not substrings: "priya" and "priyanka" sharing a phone are usually siblings.
    if words_a <= words_b or words_b <= words_a:
        return 1.0
    direct = SequenceMatcher(None, a, b).ratio()
    reordered = SequenceMatcher(None, " ".join(sorted(a.split())), " ".join(sorted(b.split())))
    return max(direct, reordered.ratio())


def check_date_of_birth(value: dt.date | None, today: dt.date) -> dt.date | None:
    """Accept a date of birth that is not in the future and at most 130 years ago."""
    if value is None:
        return None
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise ValidationFailed("Date of birth must be a date", field="date_of_birth")
    if value > today:
        raise ValidationFailed("Date of birth is in the future", field="date_of_birth")
    if years_between(value, today) > MAX_AGE:
        raise ValidationFailed(f"Date of birth is over {MAX_AGE} years ago", field="date_of_birth")
    return value


def check_age(value: int | None) -> int | None:
    """Accept an age in whole years from 0 to 130."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_AGE:
        raise ValidationFailed(f"Age must be a whole number from 0 to {MAX_AGE}", field="age_years")
    return value


def clean_gender(value: str | None) -> str | None:
    """Map a gender to one of ``GENDERS`` (single letters allowed)."""
    text = _blank_to_none(value)
    if text is None:
        return None
    gender = _GENDER_ALIASES.get(text.casefold(), text.casefold())
    if gender not in GENDERS:
        raise ValidationFailed(f"Gender must be one of {', '.join(GENDERS)}", field="gender")
    return gender


def clean_blood_group(value: str | None) -> str | None:
    """Normalise a blood group such as ``ab +`` to ``AB+``."""
    text = _blank_to_none(value)
    if text is None:
        return None
    group = "".join(text.split()).upper().replace("VE", "").replace("POS", "+").replace("NEG", "-")
    if group not in BLOOD_GROUPS:
        raise ValidationFailed(
            f"Blood group must be one of {' '.join(BLOOD_GROUPS)}", field="blood_group"
        )
    return group


def clean_email(value: str | None) -> str | None:
    """Accept an address of the shape ``name@domain.tld``."""
    text = _blank_to_none(value)
    if text is None:
        return None
    if len(text) > 200 or not _EMAIL.match(text):
        raise ValidationFailed("Enter a valid email address", field="email")
    local, domain = text.rsplit("@", 1)
    return f"{local}@{domain.lower()}"


def clean_language(value: str | None) -> str:
    """Accept a language tag such as ``en``, ``hi`` or ``en-IN``; default ``en``."""
    text = _blank_to_none(value) or "en"
    if not _LANGUAGE.match(text):
        raise ValidationFailed(
            "Language must be a code such as en, hi or ta", field="preferred_language"
        )
    return text


def clean_text(value: str | None, *, field: str, max_len: int) -> str | None:
    """Strip free text; blank means ``None``; too long or control characters are rejected."""
    text = _blank_to_none(value)
    if text is None:
        return None
    if len(text) > max_len:
        raise ValidationFailed(f"{_label(field)} is longer than {max_len} characters", field=field)
    if _has_control(text.replace("\n", " ")):
        raise ValidationFailed(f"{_label(field)} contains control characters", field=field)
    return text


def required_text(value: str | None, *, field: str, max_len: int) -> str:
    """Like ``clean_text`` but the value must be present."""
    text = clean_text(value, field=field, max_len=max_len)
    if text is None:
        raise ValidationFailed(f"{_label(field)} is required", field=field)
    return text


def check_id(value: int | None, *, field: str) -> int | None:
    """Accept a positive row id or ``None``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValidationFailed(f"{_label(field)} is not a valid id", field=field)
    return value


def clean_fields(values: Mapping[str, Any], *, today: dt.date) -> dict[str, Any]:
    """Clean every demographic field present in ``values`` (phone is handled by the caller)."""
    cleaners = _cleaners(today)
    unknown = set(values) - set(cleaners)
    if unknown:
        raise ValidationFailed(f"Unknown patient field {sorted(unknown)[0]!r}")
    return {name: cleaners[name](value) for name, value in values.items()}


def years_between(born: dt.date, today: dt.date) -> int:
    """Return completed years from ``born`` to ``today``."""
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def age_of(
    date_of_birth: dt.date | None, age_years: int | None, stated_on: dt.date, today: dt.date
) -> int | None:
    """Return today's age from the date of birth, else from an age stated on ``stated_on``."""
    if date_of_birth is not None:
        return years_between(date_of_birth, today)
    if age_years is None:
        return None
    return age_years + max(0, years_between(stated_on, today))


def _cleaners(today: dt.date) -> dict[str, Callable[[Any], Any]]:
    return {
        "full_name": clean_name,
        "date_of_birth": lambda v: check_date_of_birth(v, today),
        "age_years": check_age,
        "gender": clean_gender,
        "address": lambda v: clean_text(v, field="address", max_len=500),
        "blood_group": clean_blood_group,
        "email": clean_email,
        "guardian_patient_id": lambda v: check_id(v, field="guardian_patient_id"),
        "guardian_relation": lambda v: clean_text(v, field="guardian_relation", max_len=40),
        "preferred_language": clean_language,
        "wa_bsuid": lambda v: clean_text(v, field="wa_bsuid", max_len=128),
    }


def _blank_to_none(value: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationFailed("Expected text")
    return value.strip() or None


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" for ch in text)


def _label(field: str) -> str:
    return field.replace("_", " ").capitalize()
