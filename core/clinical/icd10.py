"""ICD-10-CM codes for diagnoses: search by code or words, and validate a chosen code.

The codes and titles come from ``simple-icd-10-cm`` (MIT code) which ships CMS's ICD-10-CM
April 2026 release; ICD-10-CM is a US government work in the public domain, so unlike WHO's
ICD-10 text it may be redistributed. The package parses its 10 MB XML on import (~3 s), so it
is imported on first use and the flat index built once per process.
"""

from __future__ import annotations

import functools
import re
import warnings
from dataclasses import dataclass

from core.errors import ValidationFailed

MAX_RESULTS = 50
_CODE = re.compile(r"^[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?$")


@dataclass(frozen=True)
class Icd10Code:
    """A billable or grouping ICD-10-CM code with its title (code with the dot: ``M17.1``)."""

    code: str
    title: str


def search_icd10(query: str, *, limit: int = 20) -> list[Icd10Code]:
    """Find codes whose code starts with ``query`` or whose title holds all its words.

    Categories (three characters) rank before their subcategories, then shorter codes first.
    """
    text = (query or "").strip()
    if len(text) < 2:
        raise ValidationFailed("Type at least 2 characters of a code or diagnosis", field="query")
    limit = max(1, min(limit, MAX_RESULTS))
    if _CODE.match(text.upper()):
        prefix = text.upper().replace(".", "")
        found = [c for c in _index() if c[0].replace(".", "").startswith(prefix)]
    else:
        words = text.casefold().split()
        found = [c for c in _index() if all(w in c[2] for w in words)]
    found.sort(key=lambda c: (len(c[0]), c[0]))
    return [Icd10Code(code, title) for code, title, _ in found[:limit]]


def icd10_title(code: str) -> str:
    """Return the title of a valid ICD-10-CM code, or raise ``ValidationFailed``."""
    normal = normalise_code(code)
    title = _titles().get(normal)
    if title is None:
        raise ValidationFailed(f"{code!r} is not an ICD-10-CM code", field="icd10_code")
    return title


def normalise_code(code: str) -> str:
    """Upper-case a code and put its dot after the third character (``m171`` → ``M17.1``)."""
    raw = (code or "").strip().upper().replace(".", "")
    if not _CODE.match(raw):
        raise ValidationFailed(f"{code!r} is not an ICD-10-CM code", field="icd10_code")
    return raw if len(raw) == 3 else f"{raw[:3]}.{raw[3:]}"


@functools.cache
def _index() -> tuple[tuple[str, str, str], ...]:
    return tuple((code, title, title.casefold()) for code, title in _titles().items())


@functools.cache
def _titles() -> dict[str, str]:
    with warnings.catch_warnings():
        # The package reads its data with importlib.resources' legacy read_text.
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10_cm as cm
    return {
        code: cm.get_description(code)
        for code in cm.get_all_codes(with_dots=True)
        if cm.is_category_or_subcategory(code)
    }
