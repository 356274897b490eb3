"""Patients, their clinical background and consents; staff users and sessions."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, BigId, CreatedMixin, IdMixin, TenantMixin, UTCDateTime, tenant_ref, utcnow


class Patient(IdMixin, TenantMixin, CreatedMixin, Base):
    __tablename__ = "patients"
    __table_args__ = (
        UniqueConstraint("tenant_id", "code"),
        UniqueConstraint("tenant_id", "wa_bsuid"),
        Index("ix_patients_tenant_phone_hash", "tenant_id", "phone_hash"),
        Index("ix_patients_tenant_phone_last4", "tenant_id", "phone_last4"),
        Index("ix_patients_tenant_name_key", "tenant_id", "name_key"),
    )
    code: Mapped[str] = mapped_column(String(20))  # PAT0001
    full_name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200))  # casefolded, for search
    date_of_birth: Mapped[dt.date | None] = mapped_column(Date)
    age_years: Mapped[int | None] = mapped_column(SmallInteger)  # when DOB is unknown
    gender: Mapped[str | None] = mapped_column(String(16))
    # Phone: ciphertext (Fernet), keyed hash of E.164 for exact match, last four for lookup.
    phone_cipher: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_hash: Mapped[str | None] = mapped_column(String(64))
    phone_last4: Mapped[str | None] = mapped_column(String(4))
    # WhatsApp may identify a user by a business-scoped user id instead of a number.
    wa_bsuid: Mapped[str | None] = mapped_column(String(128))
    email: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(Text)
    blood_group: Mapped[str | None] = mapped_column(String(4))
    preferred_language: Mapped[str] = mapped_column(String(10), default="en")
    guardian_patient_id: Mapped[int | None] = tenant_ref("patients")
    guardian_relation: Mapped[str | None] = mapped_column(String(40))
    registered_by: Mapped[int | None] = mapped_column(BigId)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    erased_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class _PatientFact(IdMixin, TenantMixin, CreatedMixin):
    """Shared shape of append-only background facts; retraction keeps the row."""

    patient_id: Mapped[int] = tenant_ref("patients", index=True)
    recorded_by: Mapped[int | None] = mapped_column(BigId)
    retracted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    retracted_by: Mapped[int | None] = mapped_column(BigId)
    retraction_reason: Mapped[str | None] = mapped_column(String(200))


class PatientAllergy(_PatientFact, Base):
    __tablename__ = "patient_allergies"
    substance: Mapped[str] = mapped_column(String(120))
    reaction: Mapped[str | None] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(16), default="unknown")


class PatientCondition(_PatientFact, Base):
    __tablename__ = "patient_conditions"
    name: Mapped[str] = mapped_column(String(200))
    icd10_code: Mapped[str | None] = mapped_column(String(10))
    since: Mapped[dt.date | None] = mapped_column(Date)


class PatientMedication(_PatientFact, Base):
    __tablename__ = "patient_medications"
    name: Mapped[str] = mapped_column(String(200))
    dosage: Mapped[str | None] = mapped_column(String(120))


class Consent(IdMixin, TenantMixin, CreatedMixin, Base):
    """An append-only consent record (DPDP): latest row per purpose wins."""

    __tablename__ = "consents"
    __table_args__ = (Index("ix_consents_patient_purpose", "tenant_id", "patient_id", "purpose"),)
    patient_id: Mapped[int] = tenant_ref("patients")
    purpose: Mapped[str] = mapped_column(String(40))  # treatment, whatsapp, reminders, research
    granted: Mapped[bool] = mapped_column(Boolean)
    given_by_guardian_id: Mapped[int | None] = tenant_ref("patients")
    method: Mapped[str] = mapped_column(String(30), default="desk")
    recorded_by: Mapped[int | None] = mapped_column(BigId)


class DataRequest(IdMixin, TenantMixin, CreatedMixin, Base):
    """A data principal's request (erasure, export) and how it was handled."""

    __tablename__ = "data_requests"
    patient_id: Mapped[int] = tenant_ref("patients")
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="open")
    notes: Mapped[str | None] = mapped_column(Text)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class User(IdMixin, CreatedMixin, Base):
    """A staff login; tenant_id is NULL only for platform administrators."""

    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("tenant_id", "username"),
        # A composite key skips its check when tenant_id is NULL: platform users link to no
        # clinic's doctor or branch.
        CheckConstraint(
            "tenant_id IS NOT NULL OR (doctor_id IS NULL AND branch_id IS NULL)",
            name="platform_unlinked",
        ),
    )
    tenant_id: Mapped[int | None] = mapped_column(BigId, index=True)
    username: Mapped[str] = mapped_column(String(60))
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(30))
    password_hash: Mapped[str] = mapped_column(String(200))
    doctor_id: Mapped[int | None] = tenant_ref("doctors")
    branch_id: Mapped[int | None] = tenant_ref("branches")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class UserSession(IdMixin, CreatedMixin, Base):
    """A signed-in staff session; only a hash of the bearer secret is stored."""

    __tablename__ = "user_sessions"
    tenant_id: Mapped[int | None] = mapped_column(BigId, index=True)
    user_id: Mapped[int] = tenant_ref("users", index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
