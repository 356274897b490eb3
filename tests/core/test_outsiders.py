"""Every read path and loader, called as clinic_b with clinic_a's ids, answers ``NotFound``.

The enumerating test walks ``core`` for public functions that take a session and are handed
an id (a ``*_id``/``*_ids`` parameter, or a value carrying one such as a ``BranchRef``), and
every ``access_*`` loader. It fails when one is neither in a registry below nor in the
commented exemption set: a new read without an outsider test fails the suite.

Each registered call is made twice with the same clinic_a ids: as clinic_b (must find nothing
and write nothing) and as clinic_a (must find the row), so an entry whose ids do not exist
cannot pass by accident.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import inspect
import pkgutil
import typing
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import core
from core import audit_views, clinic_config, tenancy
from core.analytics import bi, no_show, peaks
from core.analytics.bi import base as bi_base
from core.auth import staff, users
from core.billing import bills, payments, upi
from core.billing import catalogue as billing_catalogue
from core.billing import pdfs as billing_pdfs
from core.billing import sending as billing_sending
from core.billing import views as billing_views
from core.clinical import (
    consultations,
    delivery,
    doctor_view,
    finish,
    formulary,
    glance,
    lab_catalogue,
    lab_returns,
    lab_worklist,
    prescription_pdf,
    prescriptions,
    summary_pdf,
    uploads,
)
from core.clinical import lab as clinical_lab
from core.clinical import records as clinical_records
from core.clinical import views as clinical_views
from core.clinical.consultations import open_consultation
from core.clinical.medicines import MedicineLine
from core.clinical.vitals import VitalsInput
from core.clock import FrozenClock
from core.context import Actor, load_owned
from core.documents import store as documents
from core.errors import (
    DoctorNotAvailable,
    DomainError,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from core.messaging import templates
from core.messaging.conversation import handle_inbound
from core.messaging.flows import booking as flow_booking
from core.messaging.flows import tokens as flow_tokens
from core.messaging.inbound_types import InboundMessage
from core.partners import bookings as partner_bookings
from core.partners import keys as partner_keys
from core.patients import (
    background,
    consent,
    importing,
    profile,
    record_links,
    registry,
    rules,
    self_service,
    views,
)
from core.patients.consent import ConsentGrant
from core.patients.phones import PhoneVault
from core.plans import catalogue as plans_catalogue
from core.plans import limits, subscriptions, usage
from core.privacy import breaches, consents, erasure
from core.queue import (
    call_sql,
    calling,
    desk_view,
    doctor_day,
    issue_sql,
    issuing,
    lifecycle,
    line,
    line_sql,
    place,
    wait_estimate,
)
from core.queue.scoring import QueueRules
from core.scheduling import (
    booking,
    calendar,
    calendar_feeds,
    day_calendar,
    day_view,
    doctors,
    proposals,
    roster,
    slots,
    waitlist,
    web_booking,
    web_requests,
)
from core.signage import (
    announcements,
    board,
    branches,
    deltas,
    feed,
    lanes,
    slip,
    token_view,
    welcome,
)
from db.base import Base
from db.models import Patient, User, WaitlistOffer
from db.models.scheduling import BookingRequest
from tests.support import Clinic, add_doctor

VAULT = PhoneVault("test-key")
NOW = dt.datetime(2026, 12, 7, 4, 0, tzinfo=dt.UTC)  # Monday 09:30 in Kolkata
DAY = dt.date(2026, 12, 7)
SLOT = dt.datetime(2026, 12, 7, 6, 30, tzinfo=dt.UTC)  # 12:00 local, a free slot
ELEVEN = dt.datetime(2026, 12, 7, 5, 30, tzinfo=dt.UTC)  # 11:00 local, offered to the waiting list
LATER = dt.datetime(2026, 12, 7, 9, 30, tzinfo=dt.UTC)  # 15:00 local
RULES = QueueRules()
PDF = b"%PDF-1.7\n%%EOF\n"


@dataclasses.dataclass
class World:
    """clinic_a with a doctor, patients, an appointment, a token and a fact; clinic_b empty."""

    s: Session
    a: Clinic
    b: Clinic
    doctor: int
    patient: Patient
    guardian: int
    appointment: int
    token: int
    allergy: int
    document: int
    bill: int = 0
    bill_line: int = 0
    catalogue_item: int = 0
    payment: int = 0
    waitlist_entry: int = 0
    waitlist_offer: int = 0
    lab: dict[str, int] = dataclasses.field(default_factory=dict)

    def actor(self, who: Clinic) -> Actor:
        """The clinic's system actor (every permission, so only the tenant wall can refuse)."""
        return dataclasses.replace(who.system, clock=FrozenClock(NOW))

    def ref(self) -> branches.BranchRef:
        return branches.branch_ref(self.s, self.a.tenant_id, self.a.branch.id)

    def place(self) -> Any:
        return place.queue_place(self.s, self.a.tenant_id, self.a.department.id)

    def events(self) -> list[feed.EventRow]:
        return feed.branch_events(self.s, self.a.tenant_id, self.a.branch.id, after=0)


@pytest.fixture
def world(session: Session, clinic_a: Clinic, clinic_b: Clinic) -> World:
    desk = dataclasses.replace(clinic_a.system, clock=FrozenClock(NOW))
    doctor = add_doctor(session, clinic_a)
    guardian = registry.register_patient(session, desk, vault=VAULT, full_name="Meena Rao")
    patient = registry.register_patient(
        session, desk, vault=VAULT, full_name="Ravi Rao", phone="98765 43210", wa_bsuid="IN.ravi"
    ).patient
    consent.record_consent(
        session, desk, patient.id, grant=ConsentGrant("treatment", by_guardian=True)
    )
    appointment = booking.book_appointment(
        session, desk, doctor_id=doctor.id, patient_id=patient.id, slot_start=SLOT
    )
    token = issuing.issue_token(
        session,
        desk,
        patient_id=guardian.patient.id,
        department_id=clinic_a.department.id,
        kind="walk_in",
    )
    allergy = background.add_allergy(session, desk, patient.id, substance="Penicillin")
    document = documents.save_document(
        session, desk, patient_id=patient.id, kind="receipt", filename="R.pdf", content=PDF
    )
    world = World(
        session,
        clinic_a,
        clinic_b,
        doctor.id,
        patient,
        guardian.patient.id,
        appointment.id,
        token.id,
        allergy.id,
        document.id,
        *_billing(session, desk, token.id),
    )
    world.waitlist_entry, world.waitlist_offer = _waitlist(session, desk, world)
    world.lab = _lab(session, desk, world)
    world.lab.update(_clinical(session, desk, world))
    world.lab.update(_configuration(session, desk, world))
    world.lab["web_request"] = _web_request(session, world)
    world.lab.update(_partners(session, world))
    return world


def _partners(session: Session, w: World) -> dict[str, int]:
    """A partner API client of clinic_a and one booking it made (16:00 local)."""
    new = partner_keys.create_api_client(session, w.actor(w.a), name="Partner")
    client = partner_keys.authenticate_key(session, partner_keys.parse_key(new.key))
    actor = partner_keys.partner_actor(client, clock=FrozenClock(NOW))
    ask = partner_bookings.BookingAsk(
        client.id,
        "order-1",
        "0" * 64,
        w.doctor,
        dt.datetime(2026, 12, 7, 10, 30, tzinfo=dt.UTC),
        partner_bookings.PatientDetails("Asha Nair", "98111 11111"),
    )
    view, _ = partner_bookings.book_for_partner(session, actor, ask=ask, vault=VAULT)
    for patient_id in (w.patient.id, w.guardian):  # self-service links of generation 1
        record_links.issue_records_link(session, w.actor(w.a), patient_id=patient_id, secret="s")
    return {"api_client": client.id, "api_booking": view.appointment_id}


def _web_request(session: Session, w: World) -> int:
    """A pending web booking request of clinic_a (request mode), as the public page stores it."""
    row = BookingRequest(
        tenant_id=w.a.tenant_id,
        branch_id=w.a.branch.id,
        preferred_date=DAY,
        preferred_window="morning",
        patient_name="Meera Nair",
        phone_cipher=VAULT.encrypt("+919812345678"),
        phone_hash=VAULT.lookup_hash("+919812345678"),
        status="pending",
        created_at=NOW,
    )
    session.add(row)
    session.flush()
    return row.id


def _configuration(session: Session, desk: Actor, w: World) -> dict[str, int]:
    """clinic_a's TV announcement and message template (the owner's configuration)."""
    note = announcements.add_announcement(session, desk, branch_id=w.a.branch.id, body="Welcome")
    template = templates.save_template(
        session, desk, name="token_issued", language="en", category="utility", body="Token {{1}}"
    )
    breach = breaches.record_breach(
        session, desk, detected_at=NOW, description="Day list left at the stop", affected_count=3
    )
    plans_catalogue.ensure_plans(session, desk)
    subscriptions.subscribe(session, desk, tenant_id=w.a.tenant_id, plan_code="growth", start=DAY)
    return {"announcement": note.id, "template": template.id, "breach": breach.id}


def _clinical(session: Session, desk: Actor, w: World) -> dict[str, int]:
    """Ravi's consultation gets a diagnosis, a prescription and his doctor a favourite."""
    cid = w.lab["consultation"]
    diagnosis = clinical_records.add_diagnosis(session, desk, consultation_id=cid, description="OA")
    line = MedicineLine("Ibuprofen", "1-0-1", strength="400mg", duration_days=7)
    script = prescriptions.save_prescription(session, desk, consultation_id=cid, lines=[line])
    dr = dataclasses.replace(desk, doctor_id=w.doctor)
    favourite = formulary.save_favourite(session, dr, name="Knee", lines=[line])
    return {"diagnosis": diagnosis.id, "prescription": script.id, "favourite": favourite.id}


def _lab(session: Session, desk: Actor, w: World) -> dict[str, int]:
    """Ravi, called as an emergency, with a consultation, a lab order and an uploaded report."""
    token = issuing.issue_token(
        session,
        desk,
        patient_id=w.patient.id,
        department_id=w.a.department.id,
        kind="emergency",
        doctor_id=w.doctor,
    )
    assert calling.call_next(session, desk, doctor_id=w.doctor).id == token.id
    consultation = open_consultation(session, desk, token_id=token.id)
    spec = lab_catalogue.LabTestSpec("FBS", "Blood sugar (fasting)", "mg/dL", 70, 100)
    test = lab_catalogue.add_lab_test(session, desk, spec=spec)
    ordered = clinical_lab.order_tests(
        session, desk, consultation_id=consultation.id, lab_test_ids=[test.id], send_patient=False
    )
    report = uploads.upload_document(
        session, desk, patient_id=w.patient.id, kind="report", filename="r.pdf", content=PDF
    )
    return {
        "consultation": consultation.id,
        "test": test.id,
        "order": ordered.order_ids[0],
        "report": report.id,
    }


def _waitlist(session: Session, desk: Actor, w: World) -> tuple[int, int]:
    """Ravi waits for the doctor's day; the guardian's cancelled 11:00 is offered to him."""
    wish = waitlist.Wish(w.patient.id, w.a.branch.id, DAY, doctor_id=w.doctor)
    entry = waitlist.add_to_waitlist(session, desk, wish)
    freed = booking.book_appointment(
        session, desk, doctor_id=w.doctor, patient_id=w.guardian, slot_start=ELEVEN
    )
    booking.cancel_appointment(session, desk, appointment_id=freed.id, reason="travelling")
    offer = session.scalars(select(WaitlistOffer).where(WaitlistOffer.entry_id == entry.id)).one()
    return entry.id, offer.id


def _billing(session: Session, desk: Actor, token_id: int) -> tuple[int, int, int, int]:
    """clinic_a's bill for the token, with a catalogue line and a part payment."""
    bill = bills.open_bill(session, desk, token_id=token_id)
    item = billing_catalogue.add_catalogue_item(
        session, desk, code="ECG", name="ECG", kind="test", unit_price_minor=30000
    )
    line = bills.add_item(session, desk, bill_id=bill.id, catalogue_item_id=item.id)
    payment = payments.record_payment(
        session, desk, bill_id=bill.id, mode="cash", amount_minor=10000
    )
    return bill.id, line.id, item.id, payment.id


Call = Callable[[World, Clinic], object]

# Calls as ``who`` with clinic_a's ids that must raise NotFound for an outsider.
NOT_FOUND: dict[Callable[..., Any], Call] = {
    # loaders
    load_owned: lambda w, who: load_owned(w.s, w.actor(who), Patient, w.patient.id, "Patient"),
    tenancy.access_branch: lambda w, who: tenancy.access_branch(w.s, w.actor(who), w.a.branch.id),
    tenancy.access_department: lambda w, who: tenancy.access_department(
        w.s, w.actor(who), w.a.department.id
    ),
    tenancy.branch_departments: lambda w, who: tenancy.branch_departments(
        w.s, w.actor(who), branch_id=w.a.branch.id
    ),
    doctors.access_doctor: lambda w, who: doctors.access_doctor(w.s, w.actor(who), w.doctor),
    registry.access_patient: lambda w, who: registry.access_patient(
        w.s, w.actor(who), w.patient.id
    ),
    booking.access_appointment: lambda w, who: booking.access_appointment(
        w.s, w.actor(who), w.appointment
    ),
    lifecycle.access_token: lambda w, who: lifecycle.access_token(w.s, w.actor(who), w.token),
    # reads
    background.patient_background: lambda w, who: background.patient_background(
        w.s, w.actor(who), w.patient.id
    ),
    consent.current_consents: lambda w, who: consent.current_consents(
        w.s, w.actor(who), w.patient.id
    ),
    no_show.appointment_risk: lambda w, who: no_show.appointment_risk(
        w.s, w.actor(who), appointment_id=w.appointment
    ),
    no_show.no_show_scores: lambda w, who: no_show.no_show_scores(
        w.s, w.actor(who), day=DAY, branch_id=w.a.branch.id
    ),
    peaks.peak_hour_forecast: lambda w, who: peaks.peak_hour_forecast(
        w.s, w.actor(who), branch_id=w.a.branch.id, day=DAY
    ),
    day_view.day_board: lambda w, who: day_view.day_board(
        w.s, w.actor(who), branch_id=w.a.branch.id, on_date=DAY
    ),
    slots.available_slots: lambda w, who: slots.available_slots(
        w.s, w.actor(who), doctor_id=w.doctor, on_date=DAY
    ),
    slots.next_free_slots: lambda w, who: slots.next_free_slots(
        w.s, w.actor(who), doctor_id=w.doctor, after=NOW
    ),
    wait_estimate.doctor_queue_etas: lambda w, who: wait_estimate.doctor_queue_etas(
        w.s, w.actor(who), doctor_id=w.doctor
    ),
    wait_estimate.pool_order: lambda w, who: wait_estimate.pool_order(
        w.s, w.actor(who), department_id=w.a.department.id, day=DAY
    ),
    lanes.doctor_lane: lambda w, who: lanes.doctor_lane(
        w.s, w.actor(who), doctor_id=w.doctor, day=DAY
    ),
    lanes.department_pool: lambda w, who: lanes.department_pool(
        w.s, w.actor(who), department_id=w.a.department.id, day=DAY
    ),
    board.branch_board: lambda w, who: board.branch_board(
        w.s, w.actor(who), w.ref(), codes=None, upto_event=2**31
    ),
    doctor_view.in_room: lambda w, who: doctor_view.in_room(w.s, w.actor(who), doctor_id=w.doctor),
    desk_view.latest_event_id: lambda w, who: desk_view.latest_event_id(
        w.s, w.actor(who), branch_id=w.a.branch.id
    ),
    desk_view.desk_snapshot: lambda w, who: desk_view.desk_snapshot(
        w.s, w.actor(who), branch_id=w.a.branch.id
    ),
    desk_view.todays_appointments: lambda w, who: desk_view.todays_appointments(
        w.s, w.actor(who), patient_id=w.patient.id, branch_id=w.a.branch.id
    ),
    deltas.render_updates: lambda w, who: deltas.render_updates(
        w.s, w.actor(who), w.ref(), w.events()
    ),
    branches.own_branch: lambda w, who: branches.own_branch(w.s, w.actor(who), w.ref()),
    welcome.whatsapp_contact: lambda w, who: welcome.whatsapp_contact(w.s, w.actor(who), w.ref()),
    token_view.token_view: lambda w, who: token_view.token_view(
        w.s, w.actor(who), token_id=w.token
    ),
    # commands naming clinic_a's rows
    users.create_user: lambda w, who: users.create_user(
        w.s,
        w.actor(who),
        username="dr.rao",
        password="correct-horse-1",
        full_name="Dr. Rao",
        role="doctor",
        doctor_id=w.doctor,
        branch_id=w.a.branch.id,
    ),
    tenancy.create_department: lambda w, who: tenancy.create_department(
        w.s, w.actor(who), branch_id=w.a.branch.id, code="ORT", name="Orthopaedics"
    ),
    tenancy.register_whatsapp_number: lambda w, who: tenancy.register_whatsapp_number(
        w.s, w.actor(who), phone_number_id="1234567", branch_id=w.a.branch.id
    ),
    tenancy.set_queue_settings: lambda w, who: tenancy.set_queue_settings(
        w.s, w.actor(who), settings={"cap_every": 4}, department_id=w.a.department.id
    ),
    tenancy.set_allocation_strategy: lambda w, who: tenancy.set_allocation_strategy(
        w.s, w.actor(who), department_id=w.a.department.id, strategy="round_robin"
    ),
    doctors.set_performance_weight: lambda w, who: doctors.set_performance_weight(
        w.s, w.actor(who), doctor_id=w.doctor, weight=2.0
    ),
    doctors.create_doctor: lambda w, who: doctors.create_doctor(
        w.s,
        w.actor(who),
        department_id=w.a.department.id,
        full_name="Dr. Iyer",
        specialization="Paediatrics",
        fee_minor=40000,
    ),
    doctors.assign_branch: lambda w, who: doctors.assign_branch(
        w.s, w.actor(who), doctor_id=w.doctor, branch_id=w.a.branch.id
    ),
    doctors.add_weekly_schedule: lambda w, who: doctors.add_weekly_schedule(
        w.s,
        w.actor(who),
        doctor_id=w.doctor,
        branch_id=w.a.branch.id,
        weekdays=(5,),
        start=dt.time(9),
        end=dt.time(12),
        slot_minutes=30,
    ),
    doctors.set_override: lambda w, who: doctors.set_override(
        w.s,
        w.actor(who),
        doctor_id=w.doctor,
        branch_id=w.a.branch.id,
        on_date=DAY + dt.timedelta(days=5),
        start=dt.time(9),
        end=dt.time(12),
        slot_minutes=30,
    ),
    doctors.add_leave: lambda w, who: doctors.add_leave(
        w.s, w.actor(who), doctor_id=w.doctor, start_date=DAY, end_date=DAY
    ),
    registry.register_patient: lambda w, who: registry.register_patient(
        w.s,
        w.actor(who),
        vault=VAULT,
        full_name="Anu Rao",
        age_years=8,
        guardian_patient_id=w.guardian,
        guardian_relation="mother",
        consents=[ConsentGrant("treatment", by_guardian=True)],
    ),
    importing.import_patients: lambda w, who: importing.import_patients(
        w.s,
        w.actor(who),
        vault=VAULT,
        rows=[
            importing.PatientRow(
                "Anu Rao",
                age_years=8,
                guardian_patient_id=w.guardian,
                guardian_relation="mother",
                consents=[ConsentGrant("treatment", by_guardian=True)],
            )
        ],
    ),
    registry.update_patient: lambda w, who: registry.update_patient(
        w.s, w.actor(who), w.patient.id, vault=VAULT, address="12 MG Road"
    ),
    consent.record_consent: lambda w, who: consent.record_consent(
        w.s, w.actor(who), w.patient.id, grant=ConsentGrant("reminders")
    ),
    background.add_allergy: lambda w, who: background.add_allergy(
        w.s, w.actor(who), w.patient.id, substance="Dust"
    ),
    background.add_condition: lambda w, who: background.add_condition(
        w.s, w.actor(who), w.patient.id, name="Asthma"
    ),
    background.add_medication: lambda w, who: background.add_medication(
        w.s, w.actor(who), w.patient.id, name="Salbutamol"
    ),
    background.retract_fact: lambda w, who: background.retract_fact(
        w.s, w.actor(who), kind="allergy", fact_id=w.allergy, reason="entered in error"
    ),
    booking.book_appointment: lambda w, who: booking.book_appointment(
        w.s, w.actor(who), doctor_id=w.doctor, patient_id=w.patient.id, slot_start=LATER
    ),
    booking.overbook_appointment: lambda w, who: booking.overbook_appointment(
        w.s, w.actor(who), doctor_id=w.doctor, patient_id=w.guardian, slot_start=SLOT
    ),
    booking.reschedule_appointment: lambda w, who: booking.reschedule_appointment(
        w.s, w.actor(who), appointment_id=w.appointment, new_slot_start=LATER
    ),
    booking.cancel_appointment: lambda w, who: booking.cancel_appointment(
        w.s, w.actor(who), appointment_id=w.appointment, reason="travelling"
    ),
    issuing.issue_token: lambda w, who: issuing.issue_token(
        w.s,
        w.actor(who),
        patient_id=w.patient.id,
        department_id=w.a.department.id,
        kind="walk_in",
    ),
    calling.call_next: lambda w, who: calling.call_next(w.s, w.actor(who), doctor_id=w.doctor),
    doctor_day.pause_doctor: lambda w, who: doctor_day.pause_doctor(
        w.s, w.actor(who), doctor_id=w.doctor, minutes=10
    ),
    doctor_day.resume_doctor: lambda w, who: doctor_day.resume_doctor(
        w.s, w.actor(who), doctor_id=w.doctor
    ),
    doctor_day.announce_delay: lambda w, who: doctor_day.announce_delay(
        w.s, w.actor(who), doctor_id=w.doctor, minutes=20
    ),
    lifecycle.cancel_token: lambda w, who: lifecycle.cancel_token(
        w.s, w.actor(who), token_id=w.token
    ),
    lifecycle.finish_token: lambda w, who: lifecycle.finish_token(
        w.s, w.actor(who), token_id=w.token
    ),
    lifecycle.mark_missed: lambda w, who: lifecycle.mark_missed(
        w.s, w.actor(who), token_id=w.token
    ),
    lifecycle.recall_token: lambda w, who: lifecycle.recall_token(
        w.s, w.actor(who), token_id=w.token
    ),
    lifecycle.start_consultation: lambda w, who: lifecycle.start_consultation(
        w.s, w.actor(who), token_id=w.token
    ),
    lifecycle.send_to_lab: lambda w, who: lifecycle.send_to_lab(
        w.s, w.actor(who), token_id=w.token
    ),
    lifecycle.return_from_lab: lambda w, who: lifecycle.return_from_lab(
        w.s, w.actor(who), token_id=w.token
    ),
    lifecycle.transfer_token: lambda w, who: lifecycle.transfer_token(
        w.s, w.actor(who), token_id=w.token, to_doctor_id=w.doctor
    ),
    documents.save_document: lambda w, who: documents.save_document(
        w.s, w.actor(who), patient_id=w.patient.id, kind="receipt", filename="R.pdf", content=PDF
    ),
    documents.access_document: lambda w, who: documents.access_document(
        w.s, w.actor(who), w.document
    ),
    documents.document_content: lambda w, who: documents.document_content(
        w.s, w.actor(who), w.document
    ),
    documents.send_document: lambda w, who: documents.send_document(
        w.s, w.actor(who), document_id=w.document, caption="Your receipt"
    ),
    # helpers taking a tenant id from a caller that checked it: clinic_b's id must find nothing
    views.load_patient: lambda w, who: views.load_patient(w.s, who.tenant_id, w.patient.id),
    place.queue_place: lambda w, who: place.queue_place(w.s, who.tenant_id, w.a.department.id),
    branches.branch_ref: lambda w, who: branches.branch_ref(w.s, who.tenant_id, w.a.branch.id),
    issue_sql.issue_place: lambda w, who: issue_sql.issue_place(
        w.s, who.tenant_id, w.patient.id, w.a.department.id, w.doctor
    ),
    call_sql.read_caller: lambda w, who: call_sql.read_caller(
        w.s, who.tenant_id, w.doctor, lock=True
    ),
}

NOT_FOUND.update(
    {
        bills.access_bill: lambda w, who: bills.access_bill(w.s, w.actor(who), w.bill),
        bills.lock_bill: lambda w, who: bills.lock_bill(w.s, w.actor(who), w.bill),
        bills.open_bill: lambda w, who: bills.open_bill(w.s, w.actor(who), token_id=w.token),
        bills.add_item: lambda w, who: bills.add_item(
            w.s, w.actor(who), bill_id=w.bill, catalogue_item_id=w.catalogue_item
        ),
        bills.remove_item: lambda w, who: bills.remove_item(
            w.s, w.actor(who), bill_id=w.bill, item_id=w.bill_line
        ),
        bills.set_item_discount: lambda w, who: bills.set_item_discount(
            w.s, w.actor(who), bill_id=w.bill, item_id=w.bill_line, discount_minor=100
        ),
        billing_catalogue.access_catalogue_item: lambda w, who: (
            billing_catalogue.access_catalogue_item(w.s, w.actor(who), w.catalogue_item)
        ),
        billing_catalogue.set_item_active: lambda w, who: billing_catalogue.set_item_active(
            w.s, w.actor(who), item_id=w.catalogue_item, active=False
        ),
        billing_catalogue.set_free_followup: lambda w, who: billing_catalogue.set_free_followup(
            w.s, w.actor(who), doctor_id=w.doctor, days=7, visits=1
        ),
        payments.record_payment: lambda w, who: payments.record_payment(
            w.s, w.actor(who), bill_id=w.bill, mode="upi", amount_minor=100
        ),
        payments.access_payment: lambda w, who: payments.access_payment(
            w.s, w.actor(who), w.payment
        ),
        billing_views.bill_view: lambda w, who: billing_views.bill_view(
            w.s, w.actor(who), bill_id=w.bill
        ),
        billing_views.receipt_bill: lambda w, who: billing_views.receipt_bill(
            w.s, w.actor(who), payment_id=w.payment
        ),
        billing_views.todays_visits: lambda w, who: billing_views.todays_visits(
            w.s, w.actor(who), branch_id=w.a.branch.id, day=DAY
        ),
        billing_views.daily_collection: lambda w, who: billing_views.daily_collection(
            w.s, w.actor(who), day=DAY, branch_id=w.a.branch.id
        ),
        upi.bill_upi_uri: lambda w, who: upi.bill_upi_uri(w.s, w.actor(who), bill_id=w.bill),
        billing_pdfs.bill_pdf: lambda w, who: billing_pdfs.bill_pdf(
            w.s, w.actor(who), bill_id=w.bill
        ),
        billing_pdfs.receipt_pdf: lambda w, who: billing_pdfs.receipt_pdf(
            w.s, w.actor(who), payment_id=w.payment
        ),
        billing_sending.send_receipt: lambda w, who: billing_sending.send_receipt(
            w.s, w.actor(who), payment_id=w.payment
        ),
        slip.token_slip_pdf: lambda w, who: slip.token_slip_pdf(
            w.s, w.actor(who), token_id=w.token, secret="s", base_url="https://q.in"
        ),
    }
)

NOT_FOUND.update(
    {
        # web booking (issue 15): the public page's clinic is who.tenant_id, the ids clinic_a's
        web_booking.public_branch: lambda w, who: web_booking.public_branch(
            w.s, who.tenant_id, w.a.branch.id
        ),
        web_booking.booking_mode: lambda w, who: web_booking.booking_mode(
            w.s, who.tenant_id, w.a.branch.id
        ),
        web_booking.set_booking_mode: lambda w, who: web_booking.set_booking_mode(
            w.s, w.actor(who), branch_id=w.a.branch.id, mode="request"
        ),
        web_booking.public_slots: lambda w, who: web_booking.public_slots(
            w.s, who.tenant_id, doctor_id=w.doctor, branch_id=w.a.branch.id, on_date=DAY, now=NOW
        ),
        web_booking.next_public_slots: lambda w, who: web_booking.next_public_slots(
            w.s, who.tenant_id, doctor_id=w.doctor, branch_id=w.a.branch.id, after=NOW, now=NOW
        ),
        web_booking.issue_code: lambda w, who: web_booking.issue_code(
            w.s,
            who.tenant_id,
            phone="+919812345678",
            vault=VAULT,
            now=NOW,
            branch_id=w.a.branch.id,
        ),
        web_booking.book_online: lambda w, who: web_booking.book_online(
            w.s,
            who.tenant_id,
            ticket="t",
            phone="+919812345678",
            full_name="Meera Nair",
            age_years=30,
            doctor_id=w.doctor,
            branch_id=w.a.branch.id,
            slot_start=SLOT,
            vault=VAULT,
            now=NOW,
        ),
        web_booking.cancel_web_booking: lambda w, who: web_booking.cancel_web_booking(
            w.s, w.actor(who), appointment_id=w.appointment, reason="Travelling"
        ),
        web_requests.request_booking: lambda w, who: web_requests.request_booking(
            w.s,
            who.tenant_id,
            ticket="t",
            phone="+919812345678",
            full_name="Meera Nair",
            age_years=30,
            branch_id=w.a.branch.id,
            preferred_date=DAY,
            window="any",
            vault=VAULT,
            now=NOW,
        ),
        web_requests.list_booking_requests: lambda w, who: web_requests.list_booking_requests(
            w.s, w.actor(who), vault=VAULT, branch_id=w.a.branch.id
        ),
        web_requests.access_booking_request: lambda w, who: web_requests.access_booking_request(
            w.s, w.actor(who), w.lab["web_request"]
        ),
        web_requests.confirm_booking_request: lambda w, who: web_requests.confirm_booking_request(
            w.s,
            w.actor(who),
            request_id=w.lab["web_request"],
            doctor_id=w.doctor,
            slot_start=LATER,
            vault=VAULT,
        ),
        web_requests.propose_booking_request: lambda w, who: web_requests.propose_booking_request(
            w.s, w.actor(who), request_id=w.lab["web_request"], proposed_start=LATER
        ),
        # the patient's tap on a proposed time names a request id (issue 15)
        proposals.proposal_patient: lambda w, who: proposals.proposal_patient(
            w.s, w.actor(who), request_id=w.lab["web_request"], phone="+919812345678", vault=VAULT
        ),
        proposals.accept_proposal: lambda w, who: proposals.accept_proposal(
            w.s, w.actor(who), request_id=w.lab["web_request"], phone="+919812345678", vault=VAULT
        ),
        proposals.decline_proposal: lambda w, who: proposals.decline_proposal(
            w.s, w.actor(who), request_id=w.lab["web_request"], phone="+919812345678", vault=VAULT
        ),
        calendar_feeds.set_calendar_feed: lambda w, who: calendar_feeds.set_calendar_feed(
            w.s, w.actor(who), doctor_id=w.doctor, url="https://cal.example/a.ics"
        ),
    }
)

# Where another error than NotFound is the honest answer: it reads the same for a row that
# does not exist at all, so it tells the outsider nothing.
OUTSIDER_ERROR: dict[Callable[..., Any], type[DomainError]] = {
    # the guardian is a form field: "Guardian not found" on that field, as for a wrong number
    registry.register_patient: ValidationFailed,
    importing.import_patients: ValidationFailed,
    rules.check_relations: ValidationFailed,
    # the slot is checked after access: a doctor with no calendar here has no such slot
    slots.resolve_slot: DoctorNotAvailable,
}

# Helpers taking a tenant id that return rows: clinic_b's id with clinic_a's ids sees nothing.
SEES_NOTHING: dict[Callable[..., Any], Call] = {
    views.by_bsuid: lambda w, who: views.by_bsuid(w.s, who.tenant_id, "IN.ravi"),
    views.by_phone_hash: lambda w, who: views.by_phone_hash(
        w.s, who.tenant_id, w.patient.phone_hash or ""
    ),
    consent.has_guardian_consent: lambda w, who: consent.has_guardian_consent(
        w.s, who.tenant_id, w.patient.id
    ),
    line_sql.todays_tokens: lambda w, who: line_sql.todays_tokens(
        w.s, who.tenant_id, w.a.department.id, [w.doctor], DAY, None
    ),
    line_sql.doctors_on_duty: lambda w, who: line_sql.doctors_on_duty(
        w.s, who.tenant_id, w.place(), DAY, None
    ),
    line.department_roster: lambda w, who: line.department_roster(
        w.s, who.tenant_id, w.place(), DAY, RULES
    ),
    line.load_line: lambda w, who: line.load_line(w.s, who.tenant_id, w.place(), DAY, RULES).roster,
    call_sql.caller_state: lambda w, who: call_sql.caller_state(
        w.s,
        who.tenant_id,
        call_sql.read_caller(w.s, w.a.tenant_id, w.doctor, lock=False),
        DAY,
        RULES,
    ),
    calendar.load_calendar: lambda w, who: calendar.load_calendar(
        w.s, who.tenant_id, w.doctor, DAY, DAY, None
    ).windows(DAY),
    slots.free_slots: lambda w, who: slots.free_slots(
        w.s, who.tenant_id, doctor_id=w.doctor, first=DAY, last=DAY, branch_id=None, now=NOW
    ),
    slots.free_slots_after: lambda w, who: slots.free_slots_after(
        w.s, who.tenant_id, doctor_id=w.doctor, after=NOW, now=NOW
    ),
    slots.seats_taken: lambda w, who: slots.seats_taken(
        w.s,
        who.tenant_id,
        doctor_id=w.doctor,
        slots=[slots.resolve_slot(w.s, w.a.tenant_id, doctor_id=w.doctor, slot_start=SLOT)],
    ).get(SLOT),
    documents.stored_bytes: lambda w, who: documents.stored_bytes(w.s, who.tenant_id, w.document),
    feed.branch_events: lambda w, who: feed.branch_events(
        w.s, who.tenant_id, w.a.branch.id, after=0
    ),
    feed.events_by_id: lambda w, who: feed.events_by_id(
        w.s, who.tenant_id, w.a.branch.id, [e.id for e in w.events()]
    ),
}

NOT_FOUND.update(
    {
        slots.resolve_slot: lambda w, who: slots.resolve_slot(
            w.s, who.tenant_id, doctor_id=w.doctor, slot_start=SLOT
        ),
        rules.check_relations: lambda w, who: rules.check_relations(
            w.s, who.tenant_id, {"guardian_patient_id": w.guardian}, DAY, patient_id=None
        ),
    }
)


NOT_FOUND.update(
    {
        waitlist.add_to_waitlist: lambda w, who: waitlist.add_to_waitlist(
            w.s, w.actor(who), waitlist.Wish(w.guardian, w.a.branch.id, DAY, doctor_id=w.doctor)
        ),
        waitlist.remove_from_waitlist: lambda w, who: waitlist.remove_from_waitlist(
            w.s, w.actor(who), entry_id=w.waitlist_entry
        ),
        waitlist.accept_offer: lambda w, who: waitlist.accept_offer(
            w.s, w.actor(who), offer_id=w.waitlist_offer
        ),
        waitlist.decline_offer: lambda w, who: waitlist.decline_offer(
            w.s, w.actor(who), offer_id=w.waitlist_offer
        ),
        waitlist.access_waitlist_entry: lambda w, who: waitlist.access_waitlist_entry(
            w.s, w.actor(who), w.waitlist_entry
        ),
        waitlist.access_waitlist_offer: lambda w, who: waitlist.access_waitlist_offer(
            w.s, w.actor(who), w.waitlist_offer
        ),
        waitlist.waitlist_day: lambda w, who: waitlist.waitlist_day(
            w.s, w.actor(who), branch_id=w.a.branch.id, on_date=DAY
        ),
        day_calendar.day_calendar: lambda w, who: day_calendar.day_calendar(
            w.s, w.actor(who), branch_id=w.a.branch.id, on_date=DAY
        ),
        profile.patient_profile: lambda w, who: profile.patient_profile(
            w.s, w.actor(who), patient_id=w.patient.id, vault=VAULT
        ),
    }
)


def _handle_clinic_a_message(w: World, who: Clinic) -> None:
    """A WhatsApp message of clinic_a handled as ``who`` (the insider routes its number first)."""
    if who is w.a:
        tenancy.register_whatsapp_number(
            w.s, w.actor(who), phone_number_id="5550001", branch_id=w.a.branch.id
        )
    message = InboundMessage(
        tenant_id=w.a.tenant_id,
        phone_number_id="5550001",
        wa_message_id="wamid.OUTSIDER",
        contact_key="919876543210",
        kind="text",
        received_at=NOW,
        wa_id="919876543210",
        text="hello",
    )
    handle_inbound(w.s, w.actor(who), message=message, vault=VAULT)


NOT_FOUND[handle_inbound] = _handle_clinic_a_message
OUTSIDER_ERROR[handle_inbound] = PermissionDenied  # a message of another clinic: refused outright


def _answer_booking_flow(w: World, who: Clinic) -> object:
    """clinic_a's open flow token answered as ``who``; an outsider's token is never open here."""
    if who is w.a:
        raw = flow_booking.open_booking_flow(
            w.s, w.actor(who), secret="s", contact_key="919800000001", patient_id=w.patient.id
        )
    else:
        claims = flow_tokens.FlowToken(w.a.tenant_id, "919800000001", LATER, w.patient.id)
        raw = flow_tokens.sign_flow_token("s", claims)
    token = flow_tokens.read_flow_token("s", raw, now=NOW)
    request = flow_booking.FlowRequest("4.0", "INIT", raw)
    return flow_booking.answer_flow(w.s, w.actor(who), token=token, raw_token=raw, request=request)


NOT_FOUND.update(
    {
        flow_booking.open_booking_flow: lambda w, who: flow_booking.open_booking_flow(
            w.s, w.actor(who), secret="s", contact_key="919800000001", patient_id=w.patient.id
        ),
        flow_booking.answer_flow: _answer_booking_flow,
        flow_booking.mint_booking_flow: lambda w, who: flow_booking.mint_booking_flow(
            w.s, w.actor(who), secret="s", contact_key="919800000001", patient_id=w.patient.id
        ),
    }
)
OUTSIDER_ERROR[flow_booking.answer_flow] = flow_tokens.StaleFlowToken

NOT_FOUND.update(
    {
        lab_catalogue.access_lab_test: lambda w, who: lab_catalogue.access_lab_test(
            w.s, w.actor(who), w.lab["test"]
        ),
        clinical_lab.order_tests: lambda w, who: clinical_lab.order_tests(
            w.s,
            w.actor(who),
            consultation_id=w.lab["consultation"],
            lab_test_ids=[w.lab["test"]],
            send_patient=False,
        ),
        clinical_lab.enter_result: lambda w, who: clinical_lab.enter_result(
            w.s, w.actor(who), order_id=w.lab["order"], value="90"
        ),
        lab_worklist.lab_worklist: lambda w, who: lab_worklist.lab_worklist(
            w.s, w.actor(who), branch_id=w.a.branch.id
        ),
        lab_worklist.resulted_today: lambda w, who: lab_worklist.resulted_today(
            w.s, w.actor(who), branch_id=w.a.branch.id
        ),
        lab_worklist.consultation_results: lambda w, who: lab_worklist.consultation_results(
            w.s, w.actor(who), consultation_id=w.lab["consultation"]
        ),
        lab_worklist.patient_results: lambda w, who: lab_worklist.patient_results(
            w.s, w.actor(who), patient_id=w.patient.id
        ),
        lab_returns.results_back: lambda w, who: lab_returns.results_back(
            w.s, w.actor(who), doctor_id=w.doctor
        ),
        uploads.upload_document: lambda w, who: uploads.upload_document(
            w.s, w.actor(who), patient_id=w.patient.id, kind="report", filename="r", content=PDF
        ),
        uploads.download_document: lambda w, who: uploads.download_document(
            w.s, w.actor(who), w.lab["report"]
        ),
        uploads.patient_documents: lambda w, who: uploads.patient_documents(
            w.s, w.actor(who), patient_id=w.patient.id
        ),
        uploads.send_upload: lambda w, who: uploads.send_upload(
            w.s, w.actor(who), document_id=w.lab["report"]
        ),
        summary_pdf.referral_summary: lambda w, who: summary_pdf.referral_summary(
            w.s, w.actor(who), patient_id=w.patient.id
        ),
        summary_pdf.store_summary: lambda w, who: summary_pdf.store_summary(
            w.s, w.actor(who), patient_id=w.patient.id, content=PDF
        ),
    }
)

_LINE = MedicineLine("Paracetamol", "1-1-1", duration_days=3)
NOT_FOUND.update(
    {
        consultations.access_consultation: lambda w, who: consultations.access_consultation(
            w.s, w.actor(who), w.lab["consultation"]
        ),
        consultations.writable_consultation: lambda w, who: consultations.writable_consultation(
            w.s, w.actor(who), w.lab["consultation"], "clinical.write", None
        ),
        open_consultation: lambda w, who: open_consultation(w.s, w.actor(who), token_id=w.token),
        clinical_records.record_vitals: lambda w, who: clinical_records.record_vitals(
            w.s,
            w.actor(who),
            consultation_id=w.lab["consultation"],
            vitals=VitalsInput(pulse_bpm=72),
        ),
        clinical_records.record_notes: lambda w, who: clinical_records.record_notes(
            w.s, w.actor(who), consultation_id=w.lab["consultation"], chief_complaint="x"
        ),
        clinical_records.add_diagnosis: lambda w, who: clinical_records.add_diagnosis(
            w.s, w.actor(who), consultation_id=w.lab["consultation"], description="x", primary=False
        ),
        clinical_records.amend_diagnosis: lambda w, who: clinical_records.amend_diagnosis(
            w.s, w.actor(who), diagnosis_id=w.lab["diagnosis"], description="x"
        ),
        clinical_records.retract_diagnosis: lambda w, who: clinical_records.retract_diagnosis(
            w.s, w.actor(who), diagnosis_id=w.lab["diagnosis"], reason="error"
        ),
        clinical_views.consultation_record: lambda w, who: clinical_views.consultation_record(
            w.s, w.actor(who), consultation_id=w.lab["consultation"]
        ),
        glance.patient_at_a_glance: lambda w, who: glance.patient_at_a_glance(
            w.s, w.actor(who), w.patient.id
        ),
        prescriptions.save_prescription: lambda w, who: prescriptions.save_prescription(
            w.s, w.actor(who), consultation_id=w.lab["consultation"], lines=[_LINE]
        ),
        prescriptions.last_prescription: lambda w, who: prescriptions.last_prescription(
            w.s, w.actor(who), patient_id=w.patient.id
        ),
        prescriptions.repeat_last_prescription: lambda w, who: (
            prescriptions.repeat_last_prescription(
                w.s, w.actor(who), consultation_id=w.lab["consultation"]
            )
        ),
        prescription_pdf.prescription_document: lambda w, who: (
            prescription_pdf.prescription_document(
                w.s, w.actor(who), prescription_id=w.lab["prescription"]
            )
        ),
        delivery.deliver_prescription: lambda w, who: delivery.deliver_prescription(
            w.s, w.actor(who), prescription_id=w.lab["prescription"]
        ),
        finish.finish_visit: lambda w, who: finish.finish_visit(
            w.s, w.actor(who), consultation_id=w.lab["consultation"]
        ),
        formulary.favourite_lines: lambda w, who: formulary.favourite_lines(
            w.s, dataclasses.replace(w.actor(who), doctor_id=w.doctor), w.lab["favourite"]
        ),
    }
)


# Public functions the walk finds that take no row of another clinic by id, or are primitives
# of the commands above (those commands load their ids through access_* first). Keep it small.


def _bi_call(kpi: Callable[..., Any], **extra: Any) -> Call:
    """A BI KPI narrowed to clinic_a's branch, department and doctor."""

    def call(w: World, who: Clinic) -> object:
        f = bi.BIFilter(DAY, DAY, w.a.branch.id, w.a.department.id, w.doctor)
        return kpi(w.s, w.actor(who), f, **extra)

    return call


_BI_KPIS: list[Callable[..., Any]] = [
    bi_base.resolve,
    bi.daily_summary,
    bi.footfall,
    bi.wait_heatmap,
    bi.peak_hours,
    bi.tomorrow_forecast,
    bi.doctor_productivity,
    bi.no_show_rate,
    bi.ewt_accuracy,
    bi.popular_slots,
    bi.revenue,
    bi.revenue_by_doctor,
    bi.case_mix,
    bi.lab_volumes,
    bi.ratings,
    bi.recent_feedback,
]
NOT_FOUND.update({kpi: _bi_call(kpi) for kpi in _BI_KPIS})
NOT_FOUND.update(
    {
        # the owner's configuration
        announcements.access_announcement: lambda w, who: announcements.access_announcement(
            w.s, w.actor(who), w.lab["announcement"]
        ),
        announcements.list_announcements: lambda w, who: announcements.list_announcements(
            w.s, w.actor(who), branch_id=w.a.branch.id
        ),
        announcements.add_announcement: lambda w, who: announcements.add_announcement(
            w.s, w.actor(who), branch_id=w.a.branch.id, body="Hello"
        ),
        announcements.edit_announcement: lambda w, who: announcements.edit_announcement(
            w.s, w.actor(who), announcement_id=w.lab["announcement"], body="Changed"
        ),
        board.branch_notices: lambda w, who: board.branch_notices(w.s, w.actor(who), w.ref()),
        clinic_config.edit_branch: lambda w, who: clinic_config.edit_branch(
            w.s, w.actor(who), branch_id=w.a.branch.id, name="Renamed"
        ),
        clinic_config.edit_department: lambda w, who: clinic_config.edit_department(
            w.s, w.actor(who), department_id=w.a.department.id, name="Renamed"
        ),
        staff.access_user: lambda w, who: staff.access_user(
            w.s, w.actor(who), w.a.receptionist.user_id or 0
        ),
        staff.set_user_active: lambda w, who: staff.set_user_active(
            w.s, w.actor(who), user_id=w.a.receptionist.user_id or 0, active=False
        ),
        staff.reset_password: lambda w, who: staff.reset_password(
            w.s, w.actor(who), user_id=w.a.receptionist.user_id or 0, new_password="long-enough-1"
        ),
        staff.unlock_user: lambda w, who: staff.unlock_user(
            w.s, w.actor(who), user_id=w.a.receptionist.user_id or 0
        ),
        templates.access_template: lambda w, who: templates.access_template(
            w.s, w.actor(who), w.lab["template"]
        ),
        roster.edit_doctor: lambda w, who: roster.edit_doctor(
            w.s,
            w.actor(who),
            doctor_id=w.doctor,
            full_name="Dr. B",
            specialization="X",
            fee_minor=1,
        ),
        roster.doctor_hours: lambda w, who: roster.doctor_hours(
            w.s, w.actor(who), doctor_id=w.doctor
        ),
        roster.doctor_leaves: lambda w, who: roster.doctor_leaves(
            w.s, w.actor(who), doctor_id=w.doctor, since=DAY
        ),
        # plans: a clinic's own system actor may act on its own clinic only
        subscriptions.access_clinic: lambda w, who: subscriptions.access_clinic(
            w.s, w.actor(who), w.a.tenant_id
        ),
        subscriptions.subscribe: lambda w, who: subscriptions.subscribe(
            w.s, w.actor(who), tenant_id=w.a.tenant_id, plan_code="starter", start=DAY
        ),
        subscriptions.suspend_clinic: lambda w, who: subscriptions.suspend_clinic(
            w.s, w.actor(who), tenant_id=w.a.tenant_id, reason="unpaid"
        ),
        subscriptions.resume_clinic: lambda w, who: subscriptions.resume_clinic(
            w.s, w.actor(who), tenant_id=w.a.tenant_id
        ),
        usage.clinic_usage: lambda w, who: usage.clinic_usage(
            w.s, w.actor(who), tenant_id=w.a.tenant_id, now=NOW
        ),
        # DPDP
        consents.consent_history: lambda w, who: consents.consent_history(
            w.s, w.actor(who), patient_id=w.patient.id
        ),
        erasure.erase_patient: lambda w, who: erasure.erase_patient(
            w.s, w.actor(who), patient_id=w.patient.id
        ),
        breaches.access_breach: lambda w, who: breaches.access_breach(
            w.s, w.actor(who), w.lab["breach"]
        ),
        breaches.mark_notified: lambda w, who: breaches.mark_notified(
            w.s, w.actor(who), breach_id=w.lab["breach"]
        ),
    }
)
SEES_NOTHING.update(
    {
        limits.tokens_issued: lambda w, who: limits.tokens_issued(w.s, who.tenant_id, DAY),
        subscriptions.current_subscription: lambda w, who: subscriptions.current_subscription(
            w.s, who.tenant_id
        ),
    }
)
NOT_FOUND[bi.highest_risk_upcoming] = _bi_call(bi.highest_risk_upcoming, today=DAY)
for _report in (bi.report_view, bi.report_pdf):
    NOT_FOUND[_report] = lambda w, who, report=_report: report(
        w.s, w.actor(who), day=DAY, branch_id=w.a.branch.id, doctor_id=w.doctor
    )
NOT_FOUND[audit_views.audit_entries] = lambda w, who: audit_views.audit_entries(
    w.s, w.actor(who), patient_id=w.patient.id
)

EXEMPT = {
    # the tenant id is the scope itself, not a row looked up in it
    "core.audit.verify_chain",
    "core.patients.views.tenant_today",
    "core.tenancy.tenant_timezone",
    "core.analytics.bi.base.doctor_names",
    "core.scheduling.booking_rules.booking_rules",
    "core.sequences.next_value",
    "core.sequences.reserve_values",
    "core.plans.limits.check_booking_allowed",
    # a step of issue_token, handed the tenant its queue_place read
    "core.plans.limits.check_token_allowed",
    # the screen URL is public and names any clinic's branch (resolve_branch, platform scope);
    # its department codes are what that screen shows anyway
    "core.signage.board.departments",
    # handed a BranchRef its caller resolved (resolve_branch for the TV, access_branch for the desk)
    "core.signage.board.working_doctors",
    # writers inside commands, given ids the command already loaded through access_*
    "core.audit.record",
    "core.patients.consent.append_consents",
    "core.queue.events.append_event",
    "core.queue.events.enqueue_intent",
    "core.queue.events.enqueue_intents",
    "core.queue.issue_sql.insert_token",
    # a step of call_next, handed the Caller its read_caller read for the tenant; filtered by
    # tenant_id (test_call_next_lean: another clinic's doctor is not found on the lean path)
    "core.queue.call_sql.read_candidates",
    "core.queue.eta_projection.refresh_etas",
    "core.queue.projection.defer_refresh",
    # the after-commit ETA projector (workers.projector): the tenant and department come from
    # the request a committed queue change left, never from a caller
    "core.queue.projection.mark_dirty",
    "core.queue.projection.project_department",
    # read by refresh_etas for the tenant it projects; filtered by tenant_id, so another
    # clinic's calls never count (test_eta_calibration: the isolation test)
    "core.queue.eta_calibration.recent_calls",
    "core.queue.eta_calibration.learned_calibration",
    # steps of issue_token and book_appointment, handed a request built after their access_*
    "core.queue.issue_sql.take_number",
    "core.queue.issue_sql.give_back",
    "core.queue.issue_sql.issue_in_one",
    "core.queue.issue_sql.open_day",
    # ... and counts the request's tenant's tokens above a watermark id (another clinic's
    # tokens never count: test_issue_eta_tails, the other-clinic test)
    "core.queue.issue_sql.issued_since",
    "core.scheduling.seats.take_seat",
    "core.scheduling.seats.take_extra_seat",
    # steps of cancel, reschedule and the waiting-list commands, handed the tenant and ids of
    # rows the command loaded through access_* (the sweep's tenant id is its scope)
    "core.scheduling.waitlist_offers.offer_freed_slot",
    "core.scheduling.waitlist_offers.set_entry_status",
    "core.scheduling.waitlist_offers.expire_offers",
    # appointment statuses moved by issue_token, the token lifecycle and the day-end expiry,
    # which loaded the token or appointment (or the clinic's branches) first
    "core.scheduling.attendance.follow_visit",
    "core.scheduling.attendance.mark_no_shows",
    # arithmetic over a roster or candidates its caller loaded (tenant-scoped counts inside)
    "core.queue.allocation.choose_doctor",
    "core.queue.calling.department_loads",
    # the outbox relay's platform-scope steps (no actor): the tenant and outbox ids come from
    # the outbox row it claimed or from Meta's status webhook routed by phone_number_id
    "core.messaging.relay.claim_due",
    "core.messaging.relay.begin_send",
    "core.messaging.relay.finish_send",
    "core.messaging.relay.defer_send",
    "core.messaging.notify.render",
    "core.messaging.reminders.reminder_for",
    "core.messaging.rating.rating_request_for",
    "core.messaging.slot_offer.slot_offer_for",
    # a step of the conversation, for the patient the turn already identified
    "core.messaging.rating.requested_visit",
    "core.messaging.outbound.approved_template",
    "core.messaging.outbound.block_tenant",
    "core.messaging.outbound.choose_message",
    "core.messaging.outbound.contact_undeliverable",
    "core.messaging.outbound.record_status",
    "core.messaging.outbound.tenant_blocked",
    "core.messaging.outbound.usage_by_category",
    "core.messaging.outbound.window_open",
    # a global inbox row: the clinic is read from the delivery itself (phone_number_id), and
    # each change runs under that clinic's scope (tests/web/test_whatsapp_inbound.py, outsider)
    "core.messaging.inbound.process_delivery",
    "core.messaging.inbound.note_failure",
    # finish_visit's outbox writer, handed the prescription it loaded through access_*, and the
    # render job run by the relay in the platform scope for the outbox row it claimed
    "core.clinical.delivery.queue_prescription_pdf",
    "core.clinical.delivery.render_job",
    "core.clinical.delivery.render_failed",
    # web booking (issue 15): the tenant id is the public page's clinic (its slug) or the API
    # key's; a code or ticket is looked up only inside it
    "core.scheduling.web_booking.public_directory",
    "core.scheduling.web_booking.verify_code",
    "core.scheduling.web_booking.consume_ticket",
    # handed a doctor its caller checked (public_slots, book_online)
    "core.scheduling.calendar_feeds.busy_blocks",
    # the ticker's platform-scope step, for a feed due_feeds listed
    "core.scheduling.calendar_feeds.refresh_feed",
    # the relay's renderer of web-booking notices (called by notify.render for a claimed row)
    "core.messaging.booking_notices.notice_for",
}


# the partner API (issue 15): a client of clinic_a and the booking it made
_PARTNER_ASK = partner_bookings.PatientDetails("Kiran Das", "98222 22222")
NOT_FOUND.update(
    {
        partner_keys.revoke_api_client: lambda w, who: partner_keys.revoke_api_client(
            w.s, w.actor(who), client_id=w.lab["api_client"]
        ),
        partner_bookings.partner_availability: lambda w, who: partner_bookings.partner_availability(
            w.s, w.actor(who), doctor_id=w.doctor, on_date=DAY, branch_id=w.a.branch.id
        ),
        partner_bookings.partner_booking: lambda w, who: partner_bookings.partner_booking(
            w.s, w.actor(who), client_id=w.lab["api_client"], appointment_id=w.lab["api_booking"]
        ),
        partner_bookings.cancel_partner_booking: lambda w, who: (
            partner_bookings.cancel_partner_booking(
                w.s,
                w.actor(who),
                client_id=w.lab["api_client"],
                appointment_id=w.lab["api_booking"],
                reason="x",
            )
        ),
        partner_bookings.reschedule_partner_booking: lambda w, who: (
            partner_bookings.reschedule_partner_booking(
                w.s,
                w.actor(who),
                client_id=w.lab["api_client"],
                appointment_id=w.lab["api_booking"],
                new_slot_start=LATER,
            )
        ),
        partner_bookings.book_for_partner: lambda w, who: partner_bookings.book_for_partner(
            w.s,
            w.actor(who),
            ask=partner_bookings.BookingAsk(
                w.lab["api_client"], "order-2", "1" * 64, w.doctor, LATER, _PARTNER_ASK
            ),
            vault=VAULT,
        ),
    }
)
SEES_NOTHING[partner_bookings.partner_bookings] = lambda w, who: partner_bookings.partner_bookings(
    w.s, w.actor(who), client_id=w.lab["api_client"]
)


def _ref(w: World, patient_id: int) -> record_links.RecordsRef:
    """A verified self-service link of clinic_a's patient (generation 1)."""
    return record_links.RecordsRef(w.a.tenant_id, patient_id, 1, NOW + dt.timedelta(days=1))


NOT_FOUND.update(
    {
        record_links.issue_records_link: lambda w, who: record_links.issue_records_link(
            w.s, w.actor(who), patient_id=w.patient.id, secret="s"
        ),
        record_links.revoke_records_links: lambda w, who: record_links.revoke_records_links(
            w.s, w.actor(who), patient_id=w.patient.id
        ),
        self_service.patient_records: lambda w, who: self_service.patient_records(
            w.s, w.actor(who), ref=_ref(w, w.patient.id)
        ),
        self_service.own_document: lambda w, who: self_service.own_document(
            w.s, w.actor(who), ref=_ref(w, w.patient.id), document_id=w.document
        ),
        self_service.own_bill_pdf: lambda w, who: self_service.own_bill_pdf(
            w.s, w.actor(who), ref=_ref(w, w.guardian), bill_id=w.bill
        ),
        self_service.own_receipt_pdf: lambda w, who: self_service.own_receipt_pdf(
            w.s, w.actor(who), ref=_ref(w, w.guardian), payment_id=w.payment
        ),
        self_service.cancel_own: lambda w, who: self_service.cancel_own(
            w.s, w.actor(who), ref=_ref(w, w.patient.id), appointment_id=w.appointment
        ),
        self_service.reschedule_choices: lambda w, who: self_service.reschedule_choices(
            w.s, w.actor(who), ref=_ref(w, w.patient.id), appointment_id=w.appointment
        ),
        self_service.reschedule_own: lambda w, who: self_service.reschedule_own(
            w.s,
            w.actor(who),
            ref=_ref(w, w.patient.id),
            appointment_id=w.appointment,
            slot_start=LATER,
        ),
    }
)
EXEMPT |= {
    # the partner API's key names its clinic; the service scopes the session from it first
    "core.partners.keys.authenticate_key",
    "core.partners.keys.clinic_origins",
    # handed a self-service link its caller verified; the session is scoped from it first
    "core.patients.record_links.check_generation",
}


def _name(fn: Callable[..., Any]) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


def _reads_by_id(name: str, fn: Callable[..., Any]) -> bool:
    """A loader, or a function with a session (it can read rows) that is handed an id.

    An id is a ``*_id``/``*_ids`` parameter or a value carrying such fields (a ``BranchRef``
    that a screen resolved in the platform scope, rows of a bulk import). The actor's own ids
    are its scope, not a row it asks for.
    """
    params = inspect.signature(fn).parameters
    hints = typing.get_type_hints(fn)
    handed_id = any(
        p.endswith(("_id", "_ids")) or _carries_id(hints.get(p)) for p in params if p != "actor"
    )
    return name.startswith("access_") or ("session" in params and handed_id)


def _carries_id(hint: object) -> bool:
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return any(f.name.endswith(("_id", "_ids")) for f in dataclasses.fields(hint))
    return any(_carries_id(arg) for arg in typing.get_args(hint))


def discovered() -> set[str]:
    """Public functions of ``core`` reading by id, and every ``access_*`` loader."""
    found = set()
    for info in pkgutil.walk_packages(core.__path__, "core."):
        module = importlib.import_module(info.name)
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            public = not name.startswith("_") and fn.__module__ == module.__name__
            if public and _reads_by_id(name, fn):
                found.add(_name(fn))
    return found


def test_every_read_and_loader_taking_an_id_has_an_outsider_test():
    registered = {_name(fn) for fn in [*NOT_FOUND, *SEES_NOTHING]}
    assert not registered & EXEMPT, "registered and exempt at once"
    found = discovered()
    assert sorted(found - registered - EXEMPT) == [], "no outsider test for these"
    assert sorted((registered | EXEMPT) - found) == [], "stale entries (renamed or removed?)"


def _row_counts(session: Session) -> dict[str, int]:
    tables = Base.metadata.sorted_tables
    counts = session.execute(
        select(*[select(func.count()).select_from(t).scalar_subquery() for t in tables])
    ).one()
    return {t.name: n for t, n in zip(tables, counts, strict=True)}


@pytest.mark.parametrize("fn", sorted(NOT_FOUND, key=_name), ids=_name)
def test_outsider_gets_not_found_and_nothing_is_written(session, world, fn):
    before = _row_counts(session)
    with pytest.raises(OUTSIDER_ERROR.get(fn, NotFound)):
        NOT_FOUND[fn](world, world.b)
    assert _row_counts(session) == before
    _insider_reaches(session, lambda: NOT_FOUND[fn](world, world.a), OUTSIDER_ERROR.get(fn))


@pytest.mark.parametrize("fn", sorted(SEES_NOTHING, key=_name), ids=_name)
def test_outsider_tenant_sees_nothing(session, world, fn):
    before = _row_counts(session)
    try:
        seen = SEES_NOTHING[fn](world, world.b)
    except NotFound:
        seen = None
    assert not seen
    assert _row_counts(session) == before
    assert SEES_NOTHING[fn](world, world.a), "the insider control found nothing either"


def _insider_reaches(
    session: Session, call: Callable[[], object], outsider_error: type[DomainError] | None
) -> None:
    """The same call as clinic_a gets past the lookup (it may still fail a later rule)."""
    refusals = (NotFound, outsider_error or NotFound)
    try:
        with session.begin_nested():
            call()
    except refusals as exc:
        pytest.fail(f"clinic_a's own call was refused too: {exc!r}")
    except DomainError:
        pass  # a state rule (e.g. a waiting token cannot be finished) after access succeeded


# --- The three defects of issue 8, each as its own scenario ---


def test_unknown_doctor_lane_is_not_found(session, clinic_a):
    actor = dataclasses.replace(clinic_a.receptionist, clock=FrozenClock(NOW))
    with pytest.raises(NotFound):
        lanes.doctor_lane(session, actor, doctor_id=987654321, day=DAY)


def test_another_clinics_board_and_updates_are_not_found(session, world):
    ref, staff = world.ref(), dataclasses.replace(world.b.receptionist, clock=FrozenClock(NOW))
    with pytest.raises(NotFound):
        board.branch_board(session, staff, ref, codes=None, upto_event=2**31)
    with pytest.raises(NotFound):
        deltas.render_updates(session, staff, ref, world.events())
    own = board.branch_board(session, world.actor(world.a), ref, codes=None, upto_event=2**31)
    assert [lane.doctor_id for lane in own.lanes] == [world.doctor]


def test_user_cannot_be_linked_to_another_clinics_doctor_or_branch(session, world):
    def create(**links: int) -> None:
        users.create_user(
            session,
            world.b.admin,
            username="dr.rao",
            password="correct-horse-1",
            full_name="Dr. Rao",
            role="doctor",
            **links,
        )

    with pytest.raises(NotFound):
        create(doctor_id=world.doctor)
    with pytest.raises(NotFound):
        create(branch_id=world.a.branch.id)
    assert session.scalar(select(User.id).where(User.username == "dr.rao")) is None
