"""Free follow-up visits: N visits within D days of a paid consultation, per doctor.

A grant is a ``free_followups`` row numbered ``seq`` among the uses of one source bill; UNIQUE
(tenant_id, source_bill_id, seq) means two desks racing for the last free visit cannot both
get it: the loser's insert fails, it counts again, and finds none left.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import audit
from core.context import Actor
from core.tenancy import tenant_timezone
from db.models import Bill, BillItem, Doctor
from db.models.billing import FreeFollowUp

_CONSULTATION = "consultation"


def grant_free_followup(session: Session, actor: Actor, *, bill: Bill, doctor: Doctor) -> bool:
    """Record ``bill`` as a free follow-up of the patient's last paid consultation, if one is left.

    The caller (``open_bill``) loaded the bill and doctor through the actor's clinic.
    """
    if doctor.free_followup_days <= 0 or doctor.free_followup_visits <= 0:
        return False
    source = _source_bill(session, actor, bill, doctor)
    if source is None:
        return False
    for _ in range(doctor.free_followup_visits + 1):
        used = _uses(session, bill.tenant_id, source)
        if used >= doctor.free_followup_visits:
            return False
        grant = FreeFollowUp(
            tenant_id=bill.tenant_id,
            source_bill_id=source,
            bill_id=bill.id,
            doctor_id=doctor.id,
            patient_id=bill.patient_id,
            seq=used + 1,
            created_at=actor.clock(),
        )
        try:
            with session.begin_nested():
                session.add(grant)
                session.flush()
        except IntegrityError:
            continue  # another desk took this number: count again
        audit.record(
            session,
            actor,
            "bill.free_followup",
            entity="bill",
            entity_id=bill.id,
            detail={"source_bill_id": source, "seq": used + 1},
        )
        return True
    return False


def _source_bill(session: Session, actor: Actor, bill: Bill, doctor: Doctor) -> int | None:
    """The latest paid, charged consultation of this patient with this doctor in the window."""
    zone = tenant_timezone(session, bill.tenant_id)
    today = actor.clock().astimezone(zone).date()
    first_day = today - dt.timedelta(days=doctor.free_followup_days)
    since = dt.datetime.combine(first_day, dt.time(), zone).astimezone(dt.UTC)
    charged = exists().where(
        BillItem.tenant_id == Bill.tenant_id,
        BillItem.bill_id == Bill.id,
        BillItem.kind == _CONSULTATION,
        BillItem.discount_minor < BillItem.unit_price_minor,
    )
    was_free = exists().where(
        FreeFollowUp.tenant_id == Bill.tenant_id, FreeFollowUp.bill_id == Bill.id
    )
    return session.scalar(
        select(Bill.id)
        .where(
            Bill.tenant_id == bill.tenant_id,
            Bill.patient_id == bill.patient_id,
            Bill.doctor_id == doctor.id,
            Bill.id != bill.id,
            Bill.status == "paid",
            Bill.issued_at >= since,
            charged,
            ~was_free,
        )
        .order_by(Bill.issued_at.desc(), Bill.id.desc())
        .limit(1)
    )


def _uses(session: Session, tenant_id: int, source_bill_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(FreeFollowUp)
            .where(
                FreeFollowUp.tenant_id == tenant_id,
                FreeFollowUp.source_bill_id == source_bill_id,
            )
        )
        or 0
    )
