"""Prescription builder and the glance: formulary, favourites, repeat last, allergies first."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from core.clinical import formulary, records
from core.clinical.consultations import open_consultation
from core.clinical.finish import finish_visit
from core.clinical.glance import patient_at_a_glance
from core.clinical.medicines import MedicineLine, check_pattern
from core.clinical.prescriptions import repeat_last_prescription, save_prescription
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from core.patients import background
from qlink import builder
from qlink.seed.formulary import COMMON_MEDICINES
from tests.clinical_support import NOW, call_in, room

IBU = MedicineLine("Ibuprofen", "1-0-1", strength="400mg", timing="after_food", duration_days=7)


def test_dosage_patterns_are_validated():
    assert check_pattern("1 - 0 - 1") == "1-0-1"
    assert check_pattern("1-1-1-1") == "1-1-1-1"
    assert check_pattern("0-0-1/2") == "0-0-½"
    assert check_pattern("sos") == "SOS"
    for bad in ("1-0", "0-0-0", "3x daily", "1-0-1-0-1", "5-0-5"):
        with pytest.raises(ValidationFailed, match="1-0-1"):
            check_pattern(bad)


def test_prescription_lines_are_checked_with_the_line_named(session, clinic_a):
    r = room(session, clinic_a)
    bad = dataclasses.replace(IBU, timing="twice")
    with pytest.raises(ValidationFailed, match="Medicine 2: timing"):
        save_prescription(session, r.dr, consultation_id=r.consultation.id, lines=[IBU, bad])
    with pytest.raises(ValidationFailed, match="Medicine 1: duration"):
        save_prescription(
            session,
            r.dr,
            consultation_id=r.consultation.id,
            lines=[dataclasses.replace(IBU, duration_days=0)],
        )
    with pytest.raises(PermissionDenied):
        save_prescription(
            session, clinic_a.receptionist, consultation_id=r.consultation.id, lines=[IBU]
        )


def test_formulary_search_and_the_seed_list(session, clinic_a):
    builder.add_formulary(session, clinic_a.system, COMMON_MEDICINES)
    r = room(session, clinic_a)
    found = formulary.search_formulary(session, r.dr, "ibu")
    assert [(m.medicine, m.strength, m.dosage_pattern) for m in found] == [
        ("Ibuprofen", "400mg", "1-0-1")
    ]
    assert {m.strength for m in formulary.search_formulary(session, r.dr, "para")} == {
        "500mg",
        "650mg",
    }
    assert formulary.search_formulary(session, r.dr, "vitamin d")  # a later word
    with pytest.raises(Conflict):
        formulary.add_formulary_medicine(
            session, r.dr, spec=formulary.FormularySpec("ibuprofen", "400MG")
        )
    with pytest.raises(PermissionDenied):
        formulary.add_formulary_medicine(
            session, clinic_a.receptionist, spec=formulary.FormularySpec("X")
        )


def test_favourites_are_the_doctors_own(session, clinic_a):
    r = room(session, clinic_a)
    other = room(session, clinic_a, name="Dr. Mehta")
    fav = formulary.save_favourite(session, r.dr, name="Knee OA", lines=[IBU])
    assert [f.name for f in formulary.list_favourites(session, r.dr)] == ["Knee OA"]
    assert formulary.favourite_lines(session, r.dr, fav.id) == [IBU]
    assert formulary.list_favourites(session, other.dr) == []
    with pytest.raises(NotFound):
        formulary.favourite_lines(session, other.dr, fav.id)


def test_repeat_last_prescription_copies_the_previous_visit(session, clinic_a):
    r = room(session, clinic_a)
    save_prescription(session, r.dr, consultation_id=r.consultation.id, lines=[IBU], advice="Rest")
    finish_visit(session, r.dr, consultation_id=r.consultation.id)
    with pytest.raises(ValidationFailed, match="no earlier prescription"):
        repeat_last_prescription(session, r.dr, consultation_id=r.consultation.id)
    later = dataclasses.replace(r.dr, clock=lambda: NOW + dt.timedelta(hours=2))
    token_id = call_in(session, clinic_a, r.doctor, later, r.patient_id)
    second = open_consultation(session, later, token_id=token_id)
    copy = repeat_last_prescription(session, later, consultation_id=second.id)
    assert (copy.lines, copy.advice, copy.consultation_id) == ((IBU,), "Rest", second.id)


def test_glance_lists_allergies_first_and_the_visit_timeline(session, clinic_a, clinic_b):
    r = room(session, clinic_a)
    background.add_allergy(
        session, clinic_a.receptionist, r.patient_id, substance="Penicillin", severity="severe"
    )
    background.add_condition(session, clinic_a.receptionist, r.patient_id, name="Hypertension")
    cid = r.consultation.id
    records.record_notes(session, r.dr, consultation_id=cid, chief_complaint="Knee pain")
    records.add_diagnosis(session, r.dr, consultation_id=cid, icd10_code="M17.9")
    save_prescription(session, r.dr, consultation_id=cid, lines=[IBU])
    glance = patient_at_a_glance(session, r.dr, r.patient_id)
    assert [(a.substance, a.severity) for a in glance.allergies] == [("Penicillin", "severe")]
    assert [c.name for c in glance.conditions] == ["Hypertension"]
    (visit,) = glance.visits
    assert visit.complaint == "Knee pain"
    assert visit.diagnoses == ("Osteoarthritis of knee, unspecified (M17.9)",)
    assert visit.prescription is not None and visit.prescription.lines == (IBU,)
    with pytest.raises(PermissionDenied):
        patient_at_a_glance(session, clinic_a.receptionist, r.patient_id)
    other = room(session, clinic_b, name="Dr. Other")
    with pytest.raises(NotFound):
        patient_at_a_glance(session, other.dr, r.patient_id)
