"""The doctor app's lab and documents through AppTest: two tests ordered from the room, the
patient back from the lab marked in the queue (abnormal in red) with the results beside the
glance; a certificate uploaded (a renamed executable and an oversized file refused with core's
message), downloaded (audited) and sent on WhatsApp; the referral summary PDF made and kept."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import select

from apps.doctor.documents import fetch
from core.clinical.lab import enter_result
from core.clinical.lab_catalogue import LabTestSpec
from db.engine import ALL_TENANTS
from db.models import AuditEntry, Consultation, Document, LabOrder, OutboxMessage
from qlink import builder
from tests.ui.doctor_support import (
    Room,
    app_database,
    make_room,
    signed_in,
    text,
    token,
    walk_in,
)

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 54
TESTS = (
    LabTestSpec("FBS", "Blood sugar (fasting)", "mg/dL", 70, 100),
    LabTestSpec("HB", "Haemoglobin", "g/dL", 13, 17, 12, 15),
    LabTestSpec("XRK", "X-ray knee (AP/lateral)", result_kind="text"),
)


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    with app_database(tmp_path_factory, "doctor-lab-docs") as database:
        yield database


@pytest.fixture
def room(database) -> Room:
    room = make_room(database)
    with database.transaction(room.tenant_id) as session:
        builder.add_lab_tests(session, room.clinic.admin, TESTS)
    return room


def rows(room: Room, model):
    with room.database.transaction(ALL_TENANTS, readonly=True) as session:
        return list(session.scalars(select(model).where(model.tenant_id == room.tenant_id)))


def upload(at, file: tuple[str, bytes]) -> None:
    at.file_uploader(key="doc_up_file_0").set_value((*file, "application/pdf")).run()


def popovers(at) -> list[str]:
    return [block.proto.popover.label for block in at.get("popover")]


def in_consultation(room: Room):
    token_id = walk_in(room)
    at = signed_in(room)
    at.button(key="doc_call_next").click().run()
    at.button(key="doc_start").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    (cid,) = [c.id for c in rows(room, Consultation) if c.token_id == token_id]
    return at, token_id, cid


def test_order_two_tests_then_the_results_come_back_marked_and_tabled(room):
    at, token_id, cid = in_consultation(room)
    picker = at.multiselect(key=f"doc_lab_tests_{cid}")
    names = {o.split(" · ")[0]: o for o in picker.options}
    picker.select(names["FBS"]).select(names["HB"]).run()
    at.button(key=f"doc_lab_order_{cid}").click().run()
    assert not at.error, [e.value for e in at.error]
    assert token(room, token_id).status == "at_lab"
    orders = sorted(rows(room, LabOrder), key=lambda o: o.id)
    assert [o.test_name for o in orders] == ["Blood sugar (fasting)", "Haemoglobin"]
    assert "is at the lab" in text(at)

    with room.database.transaction(room.tenant_id) as session:
        enter_result(session, room.clinic.lab, order_id=orders[0].id, value="182")
        enter_result(session, room.clinic.lab, order_id=orders[1].id, value="14.2")
    at.run()
    assert not at.error, [e.value for e in at.error]
    page = text(at)
    assert "results ready · 1 abnormal" in page  # the queue column, red
    assert token(room, token_id).kind == "lab_return"

    at.button(key="doc_call_next").click().run()
    at.button(key="doc_start").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    page = text(at)
    assert "Lab results · 2 of 2 · back" in page
    assert (
        '<tr class="qd-abnormal"><td>Blood sugar (fasting)</td><td>182 mg/dL</td>'
        "<td>70–100</td><td><b>HIGH</b></td></tr>"
    ) in page
    assert "<tr><td>Haemoglobin</td><td>14.2 g/dL</td><td>13–17</td><td></td></tr>" in page


def test_upload_refuses_a_renamed_executable_and_an_oversized_file(room):
    at, _, _ = in_consultation(room)
    upload(at, ("sick-note.pdf", EXE))
    at.button(key="doc_up_go").click().run()
    assert [e.value for e in at.error] == [
        "sick-note.pdf was not uploaded: Only PDF, JPEG or PNG files can be uploaded "
        "(it looks like application/x-msdownload)"
    ]
    big = PDF + b"0" * (10 * 1024 * 1024)
    upload(at, ("scan.pdf", big))
    at.button(key="doc_up_go").click().run()
    assert [e.value for e in at.error] == [
        "scan.pdf was not uploaded: The file is larger than 10 MB"
    ]
    assert rows(room, Document) == []


def test_upload_a_certificate_then_download_and_send_it(room):
    at, _, cid = in_consultation(room)
    at.selectbox(key="doc_up_kind").set_value("certificate")
    upload(at, ("fitness.pdf", PDF))
    at.button(key="doc_up_go").click().run()
    assert not at.error, [e.value for e in at.error]
    (doc,) = rows(room, Document)
    assert (doc.kind, doc.consultation_id, doc.patient_id) == ("certificate", cid, room.ravi_id)
    assert "Documents · 1" in popovers(at)
    assert "fitness.pdf" in text(at)

    staff = at.session_state["qlink_staff"]
    assert fetch(SimpleNamespace(db=room.database), staff.actor, doc.id)() == PDF
    audits = [a.action for a in rows(room, AuditEntry) if a.entity_id == str(doc.id)]
    assert "document.download" in audits

    at.button(key=f"doc_send_{doc.id}").click().run()
    assert not at.error, [e.value for e in at.error]
    sent = [o for o in rows(room, OutboxMessage) if o.payload.get("document_id") == doc.id]
    assert len(sent) == 1


def test_the_referral_summary_pdf_is_made_and_kept_to_send(room):
    at, _, _ = in_consultation(room)
    at.text_input(key="doc_ref_to").input("Dr. Mehta, orthopaedics")
    at.button(key="doc_ref_make").click().run()
    assert not at.error, [e.value for e in at.error]
    (doc,) = rows(room, Document)
    assert (doc.kind, doc.filename) == ("summary", "record-summary.pdf")
    assert "Referral summary" in text(at) and "Documents · 1" in popovers(at)
    at.button(key=f"doc_send_{doc.id}").click().run()
    assert not at.error, [e.value for e in at.error]
    assert [o.payload.get("document_id") for o in rows(room, OutboxMessage)].count(doc.id) == 1
