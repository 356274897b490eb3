"""The fingerprint of the data key the stored ciphertexts and lookup hashes belong to (global)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UTCDateTime


class KeyFingerprint(Base):
    """One row per key name; ``next_fingerprint`` is set while a rotation is under way."""

    __tablename__ = "key_fingerprints"
    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    next_fingerprint: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
