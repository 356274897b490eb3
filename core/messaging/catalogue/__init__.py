"""Every patient-facing string, one catalogue per language, looked up by key.

Keys are namespaced: ``conv.*`` for the conversation, ``notify.*`` for notifications. A key
missing from a language falls back to English, so a half-translated key never goes silent;
a test keeps both catalogues on the same keys.
"""

from __future__ import annotations

from collections.abc import Mapping

from core.messaging.catalogue import en, hi

LANGUAGES: Mapping[str, Mapping[str, str]] = {"en": en.TEXTS, "hi": hi.TEXTS}
DEFAULT_LANGUAGE = "en"


def text(lang: str, key: str, **params: object) -> str:
    """Return the catalogue string ``key`` in ``lang`` with ``params`` filled in."""
    table = LANGUAGES.get(lang, LANGUAGES[DEFAULT_LANGUAGE])
    template = table.get(key) or LANGUAGES[DEFAULT_LANGUAGE][key]
    return template.format(**params)
