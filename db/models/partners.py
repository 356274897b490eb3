"""Partner API clients, their clinic's allowed web origins, replayable requests, and patient links.

``api_clients`` keeps only the SHA-256 of a key's secret (the key is shown once); a revoked
client has ``revoked_at``. ``api_requests`` remembers each ``Idempotency-Key`` with the hash of
its body, so a retry replays and a reused key with another body is refused.
``patient_record_links`` holds a patient's self-service link generation: raising it revokes every
link signed before.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, CreatedMixin, IdMixin, TenantMixin, UTCDateTime, tenant_ref


class ApiClient(IdMixin, TenantMixin, CreatedMixin, Base):
    """One partner's key for one clinic."""

    __tablename__ = "api_clients"
    name: Mapped[str] = mapped_column(String(80))
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(80))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ApiOrigin(IdMixin, TenantMixin, CreatedMixin, Base):
    """A web origin (scheme://host[:port]) allowed to call the API from a browser (CORS)."""

    __tablename__ = "api_origins"
    __table_args__ = (UniqueConstraint("tenant_id", "origin"),)
    origin: Mapped[str] = mapped_column(String(200))


class ApiRequest(IdMixin, TenantMixin, CreatedMixin, Base):
    """A booking request made with an ``Idempotency-Key``, kept to replay its answer."""

    __tablename__ = "api_requests"
    __table_args__ = (UniqueConstraint("tenant_id", "client_id", "idempotency_key"),)
    client_id: Mapped[int] = tenant_ref("api_clients")
    idempotency_key: Mapped[str] = mapped_column(String(80))
    body_sha256: Mapped[str] = mapped_column(String(64))
    appointment_id: Mapped[int] = tenant_ref("appointments")


class PatientRecordLink(IdMixin, TenantMixin, Base):
    """The current generation of a patient's self-service links (older ones are revoked)."""

    __tablename__ = "patient_record_links"
    __table_args__ = (
        UniqueConstraint("tenant_id", "patient_id"),
        CheckConstraint("generation >= 1", name="generation"),
    )
    patient_id: Mapped[int] = tenant_ref("patients")
    generation: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
