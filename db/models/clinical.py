"""Consultations and append-only clinical records: vitals, notes, diagnoses, prescriptions, labs."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    Float,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.base import (
    Base,
    BigId,
    CreatedMixin,
    IdMixin,
    JsonDoc,
    TenantMixin,
    UTCDateTime,
    tenant_ref,
)


class Consultation(IdMixin, TenantMixin, CreatedMixin, Base):
    """One visit with a doctor; its clinical content lives in versioned child rows."""

    __tablename__ = "consultations"
    __table_args__ = (
        UniqueConstraint("tenant_id", "token_id"),
        Index("ix_consultations_started", "tenant_id", "started_at"),  # BI case mix (0019)
    )
    patient_id: Mapped[int] = tenant_ref("patients", index=True)
    doctor_id: Mapped[int] = tenant_ref("doctors")
    branch_id: Mapped[int] = tenant_ref("branches")
    appointment_id: Mapped[int | None] = tenant_ref("appointments")
    token_id: Mapped[int | None] = tenant_ref("queue_tokens")
    status: Mapped[str] = mapped_column(String(16), default="open")
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class _Versioned(IdMixin, TenantMixin, CreatedMixin):
    """A correction is a new row pointing at the one it supersedes, with who and why."""

    patient_id: Mapped[int] = tenant_ref("patients", index=True)
    recorded_by: Mapped[int | None] = mapped_column(BigId)
    supersedes_id: Mapped[int | None] = mapped_column(BigId)
    correction_reason: Mapped[str | None] = mapped_column(String(300))


class ConsultationNote(_Versioned, Base):
    __tablename__ = "consultation_notes"
    consultation_id: Mapped[int] = tenant_ref("consultations", index=True)
    chief_complaint: Mapped[str | None] = mapped_column(Text)
    examination: Mapped[str | None] = mapped_column(Text)
    treatment_plan: Mapped[str | None] = mapped_column(Text)
    follow_up_date: Mapped[dt.date | None] = mapped_column(Date)


class Vitals(_Versioned, Base):
    __tablename__ = "vitals"
    consultation_id: Mapped[int] = tenant_ref("consultations", index=True)
    temperature_c: Mapped[float | None] = mapped_column(Float)
    bp_systolic: Mapped[int | None] = mapped_column(SmallInteger)
    bp_diastolic: Mapped[int | None] = mapped_column(SmallInteger)
    pulse_bpm: Mapped[int | None] = mapped_column(SmallInteger)
    spo2_pct: Mapped[int | None] = mapped_column(SmallInteger)
    weight_kg: Mapped[float | None] = mapped_column(Float)
    height_cm: Mapped[float | None] = mapped_column(Float)
    bmi: Mapped[float | None] = mapped_column(Float)


class Diagnosis(_Versioned, Base):
    __tablename__ = "diagnoses"
    consultation_id: Mapped[int] = tenant_ref("consultations", index=True)
    icd10_code: Mapped[str | None] = mapped_column(String(10), index=True)
    description: Mapped[str] = mapped_column(String(300))
    is_primary: Mapped[bool] = mapped_column(Boolean, default=True)
    retracted: Mapped[bool] = mapped_column(Boolean, default=False)


class Prescription(_Versioned, Base):
    __tablename__ = "prescriptions"
    consultation_id: Mapped[int] = tenant_ref("consultations", index=True)
    doctor_id: Mapped[int] = tenant_ref("doctors")
    advice: Mapped[str | None] = mapped_column(Text)
    document_id: Mapped[int | None] = tenant_ref("documents")
    issued_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class PrescriptionItem(IdMixin, TenantMixin, Base):
    __tablename__ = "prescription_items"
    prescription_id: Mapped[int] = tenant_ref("prescriptions", index=True)
    position: Mapped[int] = mapped_column(SmallInteger)
    medicine: Mapped[str] = mapped_column(String(200))
    strength: Mapped[str | None] = mapped_column(String(60))
    dosage_pattern: Mapped[str] = mapped_column(String(20))  # 1-0-1
    timing: Mapped[str | None] = mapped_column(String(30))  # before_food | after_food
    duration_days: Mapped[int | None] = mapped_column(SmallInteger)
    instructions: Mapped[str | None] = mapped_column(String(300))


class PrescriptionFavourite(IdMixin, TenantMixin, CreatedMixin, Base):
    __tablename__ = "prescription_favourites"
    __table_args__ = (UniqueConstraint("tenant_id", "doctor_id", "name"),)
    doctor_id: Mapped[int] = tenant_ref("doctors")
    name: Mapped[str] = mapped_column(String(120))
    items: Mapped[list[Any]] = mapped_column(JsonDoc, default=list)


class LabTest(IdMixin, TenantMixin, Base):
    """A tenant's catalogue entry for a test, with reference range and price."""

    __tablename__ = "lab_tests"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str | None] = mapped_column(String(20))
    ref_low: Mapped[float | None] = mapped_column(Float)
    ref_high: Mapped[float | None] = mapped_column(Float)
    price_minor: Mapped[int] = mapped_column(Integer, default=0)
    tax_rate_bp: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # numeric (a value against the range) or text (an imaging or culture report); 0013
    result_kind: Mapped[str] = mapped_column(
        String(10), default="numeric", server_default="numeric"
    )
    ref_low_female: Mapped[float | None] = mapped_column(Float)
    ref_high_female: Mapped[float | None] = mapped_column(Float)


class LabOrder(IdMixin, TenantMixin, CreatedMixin, Base):
    __tablename__ = "lab_orders"
    __table_args__ = (Index("ix_lab_orders_created", "tenant_id", "created_at"),)  # BI (0019)
    consultation_id: Mapped[int] = tenant_ref("consultations", index=True)
    patient_id: Mapped[int] = tenant_ref("patients", index=True)
    doctor_id: Mapped[int] = tenant_ref("doctors")
    lab_test_id: Mapped[int | None] = tenant_ref("lab_tests")
    test_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="ordered")
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    ordered_by: Mapped[int | None] = mapped_column(BigId)
    sample_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    resulted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    turnaround_seconds: Mapped[int | None] = mapped_column(Integer)  # resulted - ordered; 0013


class LabResult(_Versioned, Base):
    __tablename__ = "lab_results"
    lab_order_id: Mapped[int] = tenant_ref("lab_orders", index=True)
    value_text: Mapped[str | None] = mapped_column(String(300))
    value_num: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String(20))
    ref_low: Mapped[float | None] = mapped_column(Float)
    ref_high: Mapped[float | None] = mapped_column(Float)
    abnormal: Mapped[str | None] = mapped_column(String(8))  # low | high | critical


class Document(IdMixin, TenantMixin, CreatedMixin, Base):
    """An uploaded or generated file attached to a patient; bytes live in the blob store."""

    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("tenant_id", "storage_key"),)
    patient_id: Mapped[int] = tenant_ref("patients", index=True)
    consultation_id: Mapped[int | None] = tenant_ref("consultations")
    kind: Mapped[str] = mapped_column(String(30))  # prescription, report, certificate, bill
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(80))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200))
    uploaded_by: Mapped[int | None] = mapped_column(BigId)
    retracted: Mapped[bool] = mapped_column(Boolean, default=False)

    @property
    def mime(self) -> str:
        return self.content_type

    @property
    def size(self) -> int:
        return self.size_bytes

    @property
    def created_by(self) -> int | None:
        return self.uploaded_by


class DocumentContent(IdMixin, TenantMixin, CreatedMixin, Base):
    """The bytes of a document stored in the database (``storage_key`` ``db:<uuid>``)."""

    __tablename__ = "document_contents"
    __table_args__ = (UniqueConstraint("tenant_id", "document_id"),)
    document_id: Mapped[int] = tenant_ref("documents", ondelete="CASCADE")
    content: Mapped[bytes] = mapped_column(LargeBinary)
