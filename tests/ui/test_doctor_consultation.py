"""The knee-pain consultation of seed 001 (workflow 2) through the doctor app, call to finish:
the patient at a glance (allergy first, a past visit one click from re-prescribing), vitals with
BMI, complaint, ICD-10 diagnosis, the prescription builder, and Finish visit writing the record,
the bill and the prescription PDF job; then an amendment with a reason."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select

from core.clinical.consultations import open_consultation
from core.clinical.finish import finish_visit
from core.clinical.formulary import FormularySpec, add_formulary_medicine
from core.clinical.medicines import MedicineLine
from core.clinical.prescriptions import save_prescription
from core.clinical.records import add_diagnosis, record_notes
from core.patients.background import add_allergy, add_condition
from core.queue.calling import call_next
from db.engine import ALL_TENANTS, Database, make_engine
from db.migrate import upgrade
from db.models import (
    Bill,
    Consultation,
    ConsultationNote,
    Diagnosis,
    OutboxMessage,
    Prescription,
    PrescriptionFavourite,
    PrescriptionItem,
    QueueToken,
    Vitals,
)
from tests.ui.doctor_support import DATA_KEY, Room, make_room, signed_in, text, token, walk_in


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    var = tmp_path_factory.mktemp("doctor-visit")
    url = f"sqlite:///{var / 'qlink.db'}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("QLINK_DATABASE_URL", url)
        env.setenv("QLINK_VAR_DIR", str(var))
        env.setenv("QLINK_DATA_KEY", DATA_KEY)
        for name in ("QLINK_SECRET_KEY", "QLINK_TIMEZONE", "QLINK_PUBLIC_URL"):
            env.delenv(name, raising=False)
        database = Database(make_engine(url))
        upgrade(database.engine)
        yield database
        database.dispose()


def doctor_actor(room: Room):
    return dataclasses.replace(room.clinic.system, role="doctor", doctor_id=room.doctor_id)


@pytest.fixture
def room(database) -> Room:
    """Ravi, allergic to penicillin, diabetic, seen once before for back pain."""
    room = make_room(database)
    walk_in(room)
    doctor = doctor_actor(room)
    with database.transaction(room.tenant_id) as session:
        admin = room.clinic.admin
        add_allergy(
            session, admin, room.ravi_id, substance="Penicillin", reaction="rash", severity="severe"
        )
        add_condition(session, admin, room.ravi_id, name="Type 2 diabetes", icd10_code="E11.9")
        call_next(session, doctor, doctor_id=room.doctor_id)
    with database.transaction(room.tenant_id) as session:
        token_id = session.scalar(
            select(QueueToken.id).where(QueueToken.tenant_id == room.tenant_id)
        )
        visit = open_consultation(session, doctor, token_id=token_id)
        record_notes(session, doctor, consultation_id=visit.id, chief_complaint="Low back pain")
        add_diagnosis(session, doctor, consultation_id=visit.id, icd10_code="M54.50")
        save_prescription(
            session, doctor, consultation_id=visit.id,
            lines=[MedicineLine("Paracetamol", "1-0-1", "650mg", "after_food", 5)],
        )  # fmt: skip
        finish_visit(session, doctor, consultation_id=visit.id)
    return room


def rows(room: Room, model):
    with room.database.transaction(ALL_TENANTS, readonly=True) as session:
        return list(session.scalars(select(model).where(model.tenant_id == room.tenant_id)))


def test_the_knee_pain_consultation_from_call_to_finish(room):
    token_id = walk_in(room)
    at = signed_in(room)
    at.button(key="doc_call_next").click().run()
    at.button(key="doc_start").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert token(room, token_id).status == "in_consultation"
    page = text(at)
    assert "⚠ Allergies: Penicillin (rash) — SEVERE" in page  # first, in the red banner
    assert "Type 2 diabetes" in page and "Low back pain" in page and "Paracetamol" in page
    (cid,) = [c.id for c in rows(room, Consultation) if c.token_id == token_id]

    at.number_input(key=f"doc_weight_kg_{cid}").set_value(78.0)
    at.number_input(key=f"doc_height_cm_{cid}").set_value(170.0)
    at.number_input(key=f"doc_bp_systolic_{cid}").set_value(130)
    at.number_input(key=f"doc_bp_diastolic_{cid}").set_value(85)
    at.text_input(key=f"doc_chief_complaint_{cid}").input("Knee pain for 2 weeks").run()
    assert any(m.value == "27.0" for m in at.metric)  # BMI computed as typed
    at.text_input(key=f"doc_dx_q_{cid}").input("osteoarthritis knee").run()
    options = at.selectbox(key=f"doc_dx_pick_{cid}").options
    assert any(o.startswith("M17") for o in options), options
    at.selectbox(key=f"doc_dx_pick_{cid}").set_value("__text__")
    at.button(key=f"doc_dx_add_{cid}").click().run()
    assert not at.error, [e.value for e in at.error]

    for name, strength, dose, days in (
        ("Ibuprofen", "400mg", "1-0-1", 7),
        ("Calcium", "500mg", "1-0-0", 30),
    ):
        at.text_input(key=f"doc_rx_med_{cid}").input(name)
        at.text_input(key=f"doc_rx_str_{cid}").input(strength)
        at.text_input(key=f"doc_rx_dose_{cid}").input(dose)
        at.number_input(key=f"doc_rx_days_{cid}").set_value(days)
        at.button(key=f"FormSubmitter:doc_rx_form_{cid}-Add").click().run()
        assert not at.error, [e.value for e in at.error]
    assert "Prescription · 2" in text(at)
    at.text_area(key=f"doc_advice_{cid}").input("Apply hot compress twice daily")
    at.button(key=f"doc_finish_{cid}").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]

    page = text(at)
    assert "Visit finished" in page and "sent to the patient on WhatsApp" in page
    assert "No patient with you" in page
    assert token(room, token_id).status == "done"
    visit = next(c for c in rows(room, Consultation) if c.id == cid)
    assert visit.status == "final"
    (note,) = [n for n in rows(room, ConsultationNote) if n.consultation_id == cid]
    assert note.chief_complaint == "Knee pain for 2 weeks"
    (vitals,) = [v for v in rows(room, Vitals) if v.consultation_id == cid]
    assert (vitals.bmi, vitals.bp_systolic) == (27.0, 130)
    (dx,) = [d for d in rows(room, Diagnosis) if d.consultation_id == cid]
    assert (dx.description, dx.is_primary) == ("osteoarthritis knee", True)
    (rx,) = [p for p in rows(room, Prescription) if p.consultation_id == cid]
    assert rx.issued_at is not None and rx.advice == "Apply hot compress twice daily"
    items = sorted(
        (i.position, i.medicine, i.dosage_pattern, i.timing, i.duration_days)
        for i in rows(room, PrescriptionItem)
        if i.prescription_id == rx.id
    )
    assert items == [
        (1, "Ibuprofen", "1-0-1", "after_food", 7),
        (2, "Calcium", "1-0-0", "after_food", 30),
    ]
    (bill,) = [b for b in rows(room, Bill) if b.consultation_id == cid or b.token_id == token_id]
    assert bill.total_minor == 50000  # the doctor's ₹500 fee, at the desk
    jobs = [o for o in rows(room, OutboxMessage) if o.kind == "clinical.prescription_pdf"]
    assert {"prescription_id": rx.id} in [j.payload for j in jobs]


def test_re_prescribe_a_past_prescription_in_one_click(room):
    walk_in(room)
    at = signed_in(room)
    at.button(key="doc_call_next").click().run()
    at.button(key="doc_start").click().run()
    past = next(c for c in rows(room, Consultation) if c.status == "final")
    at.button(key=f"doc_represcribe_{past.id}").click().run()
    assert not at.error
    assert "Prescription · 1" in text(at) and "Paracetamol 650mg 1-0-1" in text(at)


def test_amend_a_finished_visit_needs_a_reason_and_keeps_the_old_version(room):
    walk_in(room)
    at = signed_in(room)
    at.button(key="doc_call_next").click().run()
    at.button(key="doc_start").click().run()
    past = next(c for c in rows(room, Consultation) if c.status == "final")
    at.button(key=f"doc_amend_{past.id}").click().run()
    at.selectbox(key=f"doc_am_part_{past.id}").set_value("chief_complaint")
    at.text_area(key=f"doc_am_text_{past.id}").input("Low back pain radiating to the left leg")
    at.button(key=f"doc_am_save_{past.id}").click().run()
    assert "say why you are amending it" in text(at)
    at.text_input(key=f"doc_am_reason_{past.id}").input("Radiation noted after the visit")
    at.button(key=f"doc_am_save_{past.id}").click().run()
    assert not at.error, [e.value for e in at.error]
    notes = sorted(
        (n for n in rows(room, ConsultationNote) if n.consultation_id == past.id),
        key=lambda n: n.id,
    )
    assert [n.chief_complaint for n in notes] == [
        "Low back pain",
        "Low back pain radiating to the left leg",
    ]
    assert (notes[1].supersedes_id, notes[1].correction_reason) == (
        notes[0].id,
        "Radiation noted after the visit",
    )
    assert "radiating to the left leg" in text(at)  # the timeline read afresh


def test_formulary_pick_and_favourites_fill_the_prescription(room):
    with room.database.transaction(room.tenant_id) as session:
        add_formulary_medicine(
            session, room.clinic.admin,
            spec=FormularySpec("Ibuprofen", "400mg", "tablet", "1-0-1", "after_food", 5),
        )  # fmt: skip
    token_id = walk_in(room)
    at = signed_in(room)
    at.button(key="doc_call_next").click().run()
    at.button(key="doc_start").click().run()
    (cid,) = [c.id for c in rows(room, Consultation) if c.token_id == token_id]
    at.text_input(key=f"doc_rx_find_{cid}").input("ibu").run()
    at.button(key=f"doc_rx_pick_{cid}_0").click().run()
    assert not at.error, [e.value for e in at.error]
    assert "Prescription · 1" in text(at) and "Ibuprofen 400mg 1-0-1 after food × 5 d" in text(at)
    at.text_input(key=f"doc_fav_name_{cid}").input("Knee OA")
    at.button(key=f"doc_fav_save_{cid}").click().run()
    assert not at.error, [e.value for e in at.error]
    at.button(key=f"doc_rx_del_{cid}_0").click().run()
    assert "Prescription · 0" in text(at)
    (favourite,) = rows(room, PrescriptionFavourite)
    assert favourite.name == "Knee OA" and favourite.doctor_id == room.doctor_id
    at.selectbox(key=f"doc_fav_pick_{cid}").set_value(favourite.id).run()
    at.button(key=f"doc_fav_use_{cid}").click().run()
    assert "Prescription · 1" in text(at) and "Ibuprofen 400mg 1-0-1" in text(at)


def open_amendment(room: Room, what: str):
    walk_in(room)
    at = signed_in(room)
    at.button(key="doc_call_next").click().run()
    at.button(key="doc_start").click().run()
    past = next(c for c in rows(room, Consultation) if c.status == "final")
    at.button(key=f"doc_amend_{past.id}").click().run()
    at.segmented_control(key=f"doc_am_what_{past.id}").set_value(what).run()
    assert not at.error, [e.value for e in at.error]
    return at, past.id


def test_correct_then_retract_a_finished_visits_diagnosis_with_a_reason(room):
    at, cid = open_amendment(room, "diagnosis")
    at.text_input(key=f"doc_am_dx_q_{cid}").input("Lumbar radiculopathy").run()
    at.selectbox(key=f"doc_am_dx_pick_{cid}").set_value("__text__")
    at.button(key=f"doc_am_dx_save_{cid}").click().run()
    assert "say why you are amending it" in text(at)
    at.text_input(key=f"doc_am_reason_{cid}").input("Leg pain reported on review")
    at.button(key=f"doc_am_dx_save_{cid}").click().run()
    assert not at.error, [e.value for e in at.error]
    first, second = sorted(
        (d for d in rows(room, Diagnosis) if d.consultation_id == cid), key=lambda d: d.id
    )
    assert (first.icd10_code, second.description) == ("M54.50", "Lumbar radiculopathy")
    assert (second.supersedes_id, second.correction_reason) == (
        first.id,
        "Leg pain reported on review",
    )
    assert "Lumbar radiculopathy" in text(at)  # the timeline read afresh, panel closed

    at.button(key=f"doc_amend_{cid}").click().run()
    at.segmented_control(key=f"doc_am_what_{cid}").set_value("diagnosis").run()
    at.text_input(key=f"doc_am_reason_{cid}").input("Entered for the wrong patient")
    at.button(key=f"doc_am_dx_retract_{cid}").click().run()
    assert not at.error, [e.value for e in at.error]
    newest = max((d for d in rows(room, Diagnosis) if d.consultation_id == cid), key=lambda d: d.id)
    assert (newest.retracted, newest.supersedes_id) == (True, second.id)
    assert "Lumbar radiculopathy" not in text(at)


def test_amend_a_finished_visits_prescription_with_a_reason(room):
    at, cid = open_amendment(room, "prescription")
    assert "1. Paracetamol 650mg 1-0-1 after food × 5 d" in text(at)
    at.button(key=f"doc_am_rx_del_{cid}_0").click().run()
    at.text_input(key=f"doc_am_rx_med_{cid}").input("Etoricoxib")
    at.text_input(key=f"doc_am_rx_str_{cid}").input("60mg")
    at.text_input(key=f"doc_am_rx_dose_{cid}").input("0-0-1")
    at.number_input(key=f"doc_am_rx_days_{cid}").set_value(7)
    at.button(key=f"FormSubmitter:doc_am_rx_form_{cid}-Add medicine").click().run()
    assert not at.error, [e.value for e in at.error]
    assert "1. Etoricoxib 60mg 0-0-1 after food × 7 d" in text(at)
    at.button(key=f"doc_am_rx_save_{cid}").click().run()
    assert "say why you are amending it" in text(at)
    at.text_input(key=f"doc_am_reason_{cid}").input("Paracetamol not enough for the pain")
    at.button(key=f"doc_am_rx_save_{cid}").click().run()
    assert not at.error, [e.value for e in at.error]
    old, new = sorted(
        (p for p in rows(room, Prescription) if p.consultation_id == cid), key=lambda p: p.id
    )
    assert (new.supersedes_id, new.correction_reason) == (
        old.id,
        "Paracetamol not enough for the pain",
    )
    items = [(i.medicine, i.dosage_pattern) for i in rows(room, PrescriptionItem)]
    assert ("Etoricoxib", "0-0-1") in items and ("Paracetamol", "1-0-1") in items  # kept
    assert [
        (i.medicine, i.duration_days)
        for i in rows(room, PrescriptionItem)
        if i.prescription_id == new.id
    ] == [("Etoricoxib", 7)]
    assert "Rx: Etoricoxib 60mg 0-0-1" in text(at)
