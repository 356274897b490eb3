"""Patients: registration, search, background facts, consent and WhatsApp identity."""

from __future__ import annotations

from core.patients.background import (
    Background,
    add_allergy,
    add_condition,
    add_medication,
    patient_background,
    retract_fact,
)
from core.patients.consent import ConsentGrant, current_consents, record_consent
from core.patients.identity import find_by_whatsapp
from core.patients.phones import PhoneVault, mask_phone, normalise_phone
from core.patients.registry import (
    DuplicateWarning,
    PatientChanges,
    RegisteredPatient,
    access_patient,
    register_patient,
    update_patient,
)
from core.patients.search import search_patients
from core.patients.views import PatientSummary

__all__ = [
    "Background",
    "ConsentGrant",
    "DuplicateWarning",
    "PatientChanges",
    "PatientSummary",
    "PhoneVault",
    "RegisteredPatient",
    "access_patient",
    "add_allergy",
    "add_condition",
    "add_medication",
    "current_consents",
    "find_by_whatsapp",
    "mask_phone",
    "normalise_phone",
    "patient_background",
    "record_consent",
    "register_patient",
    "retract_fact",
    "search_patients",
    "update_patient",
]
