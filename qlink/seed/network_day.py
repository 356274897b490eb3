"""Simulate a network's past days as rows: appointments, tokens, visits, bills, labs, ratings.

Pure and deterministic given one ``random.Random``: ``simulate_days`` returns rows whose ``id``
and references are positions in this batch (``Batch.shift`` turns them into reserved ids).

Patterns the BI and the no-show model can learn: Monday rush and quiet Sunday, morning and
early-evening arrival peaks, seasons (monsoon fevers in GEN/PED, summer skin, winter joints, a
Diwali dip), a growing network, and no-shows whose odds rise with lead time, the patient's past
no-shows, early/late slots and Saturdays (``no_show_probability``).

What the rows share with the live rules: token codes ``DEPT-NNN`` numbered 1..n per department
and day in order of issue (``issue_token``'s format), statuses only the lifecycle can reach,
bill lines priced with ``core.billing.money.tax_on``, the consultation line as ``open_bill``
writes it (GST-exempt doctor's fee), bill totals and status by ``bill_status``, lab results
flagged low/high against the test's range. What it does not replay: queue events, outbox
messages, audit entries and the per-step ETA updates (each token keeps the ETA it was issued
with).
"""

from __future__ import annotations

import bisect
import datetime as dt
import heapq
import itertools
import math
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from core.billing.bills import CONSULTATION, bill_status
from core.billing.money import tax_on
from core.clinical.lab import RESULTED
from qlink.seed.catalog import CANCEL_REASONS, PAYMENT_MODES, PROFILES, Procedure

Row = dict[str, Any]
WEEKDAY_LOAD = (1.25, 1.05, 1.0, 0.95, 1.0, 1.1, 0.55)
MORNING, LUNCH, EVENING = (540, 780), (780, 840), (840, 1080)  # minutes after midnight
SLOT = 10
CANCEL_RATE = 0.06
BOOKED_SHARE = 0.45
RATING_SHARE = 0.2
_MODES = tuple(m for m, _ in PAYMENT_MODES)
_MODE_WEIGHTS = tuple(itertools.accumulate(w for _, w in PAYMENT_MODES))
EXTRA_DIAGNOSES: dict[str, tuple[tuple[str, str], ...]] = {
    "CAR": (("I10", "Essential hypertension"), ("I20.9", "Angina pectoris"), ("I48", "AF")),
    "OPH": (("H10.9", "Conjunctivitis"), ("H52.1", "Myopia"), ("H25.9", "Senile cataract")),
    "DEN": (("K02.9", "Dental caries"), ("K05.1", "Chronic gingivitis"), ("K04.7", "Abscess")),
    "PSY": (
        ("F41.1", "Generalised anxiety"),
        ("F32.9", "Depressive episode"),
        ("G47.0", "Insomnia"),
    ),
}
EXTRA_PROCEDURES: dict[str, tuple[Procedure, ...]] = {
    "CAR": (Procedure("ECG", 300, 0, 0.4), Procedure("2D Echo", 1800, 0, 0.1)),
    "OPH": (Procedure("Refraction", 200, 0, 0.3),),
    "DEN": (Procedure("Scaling", 800, 1800, 0.2), Procedure("Filling", 1200, 0, 0.25)),
    "PSY": (),
}
FEEDBACK = {
    1: ("Waited far too long", "Nobody told us about the delay"),
    2: ("Long wait, doctor was rushed", "Token screen was confusing"),
    4: ("Good doctor", "Quick billing"),
    5: ("Excellent, explained everything", "On time and very kind"),
}


@dataclass(frozen=True)
class NetDoctor:
    id: int
    user_id: int
    name: str
    dept: str
    department_id: int
    branch_id: int
    fee_minor: int
    room: str
    load: float  # patients on an ordinary Wednesday
    consult_minutes: float
    sunday: bool


@dataclass(frozen=True)
class NetPatient:
    id: int
    age: int
    female: bool


@dataclass(frozen=True)
class NetLabTest:
    id: int
    name: str
    unit: str | None
    low: float | None
    high: float | None


@dataclass
class History:
    """What carries over from day to day: each patient's no-shows and last visit per doctor."""

    no_shows: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    last_seen: dict[tuple[int, int], dt.date] = field(default_factory=dict)


@dataclass
class Batch:
    """Rows of some days by table; ids and references are positions within the batch."""

    rows: dict[str, list[Row]] = field(default_factory=lambda: defaultdict(list))

    def add(self, table: str, row: Row) -> int:
        rows = self.rows[table]
        row["id"] = len(rows)
        rows.append(row)
        return len(rows) - 1

    def shift(self, firsts: dict[str, int], refs: dict[str, dict[str, str]]) -> None:
        """Turn positions into ids: ``firsts[table]`` is the id of position 0."""
        for table, rows in self.rows.items():
            if table not in firsts:
                continue
            own = firsts[table]
            links = [(col, firsts[other]) for col, other in refs.get(table, {}).items()]
            for row in rows:
                row["id"] += own
                for col, first in links:
                    if row.get(col) is not None:
                        row[col] += first


REFS: dict[str, dict[str, str]] = {
    "queue_tokens": {"appointment_id": "appointments"},
    "consultations": {"appointment_id": "appointments", "token_id": "queue_tokens"},
    "diagnoses": {"consultation_id": "consultations"},
    "bills": {
        "appointment_id": "appointments",
        "consultation_id": "consultations",
        "token_id": "queue_tokens",
    },
    "bill_items": {"bill_id": "bills"},
    "payments": {"bill_id": "bills"},
    "ratings": {"token_id": "queue_tokens"},
    "lab_orders": {"consultation_id": "consultations"},
    "lab_results": {"lab_order_id": "lab_orders"},
}


def no_show_probability(lead_days: float, past_no_shows: int, weekday: int, minute: int) -> float:
    """The chance a booked patient does not come (the pattern the seed writes)."""
    logit = -3.5 + 0.42 * math.sqrt(min(lead_days, 21)) + 0.6 * min(past_no_shows, 4)
    logit += (0.15, 0.0, 0.0, 0.0, 0.1, 0.35, 0.45)[weekday]
    if minute < 600:  # before 10:00
        logit += 0.35
    elif minute >= 990:  # 16:30 onwards
        logit += 0.4
    return 1 / (1 + math.exp(-logit))


def season(dept: str, day: dt.date) -> float:
    """Seasonal load: monsoon fevers, summer skin, winter joints and ENT, the Diwali dip."""
    doy = day.timetuple().tm_yday

    def bump(centre: int, width: float, height: float) -> float:
        d = min(abs(doy - centre), 365 - abs(doy - centre))
        return height * math.exp(-((d / width) ** 2))

    factor = 1.0
    if dept in ("GEN", "PED"):
        factor += bump(225, 35, 0.35)
    if dept == "DER":
        factor += bump(140, 40, 0.25)
    if dept in ("ORT", "ENT"):
        factor += bump(10, 40, 0.2)
    return factor - bump(305, 3, 0.45)


@dataclass
class _Token:
    patient: int
    arrival: float
    kind: str
    appointment: int | None = None
    slot: float | None = None
    start: float | None = None
    finish: float | None = None
    called: float | None = None
    missed: bool = False
    eta: float = 0.0
    visit_type: str = "new"


@dataclass(frozen=True)
class Network:
    tenant_id: int
    zone: ZoneInfo
    doctors: Sequence[NetDoctor]
    patients: Sequence[NetPatient]
    lab_tests: Sequence[NetLabTest]
    reception_id: int
    first_day: dt.date
    days: int

    def pools(self) -> dict[str, list[int]]:
        kids = [i for i, p in enumerate(self.patients) if p.age < 16]
        women = [i for i, p in enumerate(self.patients) if p.female and 18 <= p.age <= 60]
        adults = [i for i, p in enumerate(self.patients) if p.age >= 16]
        return {"PED": kids, "GYN": women, "ALL": adults}


def simulate_days(
    net: Network, rng: random.Random, history: History, days: Sequence[dt.date]
) -> Batch:
    """Simulate ``days`` (in order) for every doctor and return their rows."""
    batch = Batch()
    pools = net.pools()
    for day in days:
        dept_tokens: dict[tuple[int, int], list[Row]] = defaultdict(list)
        for doctor in net.doctors:
            pool = pools.get(doctor.dept) or pools["ALL"]
            for row in _doctor_day(net, rng, history, batch, doctor, day, pool):
                dept_tokens[(doctor.department_id, doctor.branch_id)].append(row)
        for (department_id, _), tokens in dept_tokens.items():
            tokens.sort(key=lambda r: (r["issued_at"], r["id"]))
            dept = tokens[0]["code"]
            for number, row in enumerate(tokens, start=1):
                row["number"], row["code"] = number, f"{dept}-{number:03d}"
            batch.rows["token_counters"].append(
                {
                    "tenant_id": net.tenant_id,
                    "department_id": department_id,
                    "service_date": day,
                    "last_number": len(tokens),
                }
            )
    return batch


_MIDNIGHTS: dict[tuple[str, dt.date], dt.datetime] = {}


def _at(net: Network, day: dt.date, minutes: float) -> dt.datetime:
    """The UTC instant ``minutes`` after local midnight (the day's offset: no DST inside OPD
    hours in the zones QLink serves)."""
    key = (net.zone.key, day)
    midnight = _MIDNIGHTS.get(key)
    if midnight is None:
        local = dt.datetime.combine(day, dt.time(), tzinfo=net.zone)
        midnight = _MIDNIGHTS[key] = local.astimezone(dt.UTC)
    return midnight + dt.timedelta(minutes=minutes)


def _doctor_day(
    net: Network,
    rng: random.Random,
    history: History,
    batch: Batch,
    doctor: NetDoctor,
    day: dt.date,
    pool: list[int],
) -> list[Row]:
    weekday = day.weekday()
    if weekday == 6 and not doctor.sunday:
        return []
    if rng.random() < 0.02:  # leave, a conference, illness
        return []
    windows = [MORNING] if weekday == 6 else [MORNING, EVENING]
    growth = 0.85 + 0.3 * (day - net.first_day).days / max(1, net.days)
    load = doctor.load * WEEKDAY_LOAD[weekday] * season(doctor.dept, day) * growth
    load *= rng.uniform(0.85, 1.15) * (0.6 if weekday == 6 else 1.0)
    target = max(1, round(load))
    slots = [float(m) for a, b in windows for m in range(a, b, SLOT)]
    booked = min(len(slots), round(target * BOOKED_SHARE))
    chosen = sorted(
        rng.sample(slots, booked),
    )
    tokens: list[_Token] = []
    for slot in chosen:
        patient = _pick(rng, pool)
        token = _appointment(net, rng, history, batch, doctor, day, slot, patient)
        if token is not None:
            tokens.append(token)
    for _ in range(max(0, target - len(tokens))):
        patient = _pick(rng, pool)
        tokens.append(_walk_in(rng, net, history, doctor, day, patient, windows))
    _run(rng, doctor, tokens, windows)
    rows = []
    for t in tokens:
        rows.append(_write_visit(net, rng, history, batch, doctor, day, t))
    return rows


def _pick(rng: random.Random, pool: list[int]) -> int:
    return pool[int(len(pool) * rng.random() ** 1.7)]


def _lead_days(rng: random.Random) -> float:
    roll = rng.random()
    if roll < 0.3:
        return rng.uniform(0.05, 0.9)
    if roll < 0.6:
        return rng.uniform(1, 3)
    if roll < 0.85:
        return rng.uniform(3, 7)
    return rng.uniform(7, 21)


def _appointment(
    net: Network,
    rng: random.Random,
    history: History,
    batch: Batch,
    doctor: NetDoctor,
    day: dt.date,
    slot: float,
    patient: int,
) -> _Token | None:
    lead = _lead_days(rng)
    start = _at(net, day, slot)
    booked_at = start - dt.timedelta(days=lead)
    p = no_show_probability(lead, history.no_shows[patient], day.weekday(), int(slot))
    roll = rng.random()
    status = "cancelled" if roll < CANCEL_RATE else ("no_show" if rng.random() < p else "completed")
    seen = history.last_seen.get((patient, doctor.id))
    visit_type = "follow_up" if seen and (day - seen).days <= 30 else "new"
    row: Row = {
        "tenant_id": net.tenant_id,
        "branch_id": doctor.branch_id,
        "department_id": doctor.department_id,
        "doctor_id": doctor.id,
        "patient_id": net.patients[patient].id,
        "slot_start": start,
        "slot_end": start + dt.timedelta(minutes=SLOT),
        "service_date": day,
        "seat": 1,
        "overbooked": False,
        "visit_type": visit_type,
        "source": rng.choices(("reception", "whatsapp", "web"), cum_weights=(45, 85, 100))[0],
        "status": status,
        "booked_by": net.reception_id,
        "created_at": booked_at,
        "updated_at": booked_at,
    }
    if status == "cancelled":
        cancelled = booked_at + (start - booked_at) * rng.uniform(0.2, 0.95)
        row |= {
            "cancel_reason": CANCEL_REASONS[patient % len(CANCEL_REASONS)],
            "cancelled_at": cancelled,
            "updated_at": cancelled,
        }
    if status == "no_show":
        history.no_shows[patient] += 1
        row["updated_at"] = start + dt.timedelta(hours=2)
    index = batch.add("appointments", row)
    if status != "completed":
        return None
    arrival = max(slot - 40, slot + rng.gauss(-10, 7))
    return _Token(patient, arrival, "booked", index, slot, visit_type=visit_type)


def _walk_in(
    rng: random.Random,
    net: Network,
    history: History,
    doctor: NetDoctor,
    day: dt.date,
    patient: int,
    windows: list[tuple[int, int]],
) -> _Token:
    if len(windows) == 1 or rng.random() < 0.62:
        arrival = rng.triangular(windows[0][0] - 25, windows[0][1] - 20, 600)
    else:
        arrival = rng.triangular(windows[1][0] - 15, windows[1][1] - 30, 1000)
    seen = history.last_seen.get((patient, doctor.id))
    roll = rng.random()
    age = net.patients[patient].age
    kind = "walk_in"
    if roll < 0.012 and doctor.dept in ("GEN", "PED", "ORT", "CAR"):
        kind = "emergency"
    elif roll < 0.06 and age >= 65:
        kind = "priority"
    elif seen and (day - seen).days <= 30 and roll < 0.3:
        kind = "follow_up"
    visit_type = "follow_up" if seen and (day - seen).days <= 30 else "new"
    return _Token(patient, arrival, kind, visit_type=visit_type)


def _run(
    rng: random.Random, doctor: NetDoctor, tokens: list[_Token], windows: list[tuple[int, int]]
) -> None:
    """One doctor serving the day: emergencies first, booked at their slot, then by arrival."""
    tokens.sort(key=lambda t: t.arrival)
    late = rng.uniform(10, 35) if rng.random() < 0.12 else 0.0
    clock = windows[0][0] + late
    ready: list[tuple[float, float, int]] = []
    i = 0
    n = len(tokens)
    while i < n or ready:
        while i < n and tokens[i].arrival <= clock:
            t = tokens[i]
            rank = 0.0 if t.kind == "emergency" else 1.0
            key = t.arrival if t.slot is None else min(t.arrival, t.slot) - 10
            if t.kind == "priority":
                key -= 20
            heapq.heappush(ready, (rank, key, i))
            i += 1
        if not ready:
            clock = max(clock, tokens[i].arrival)
            continue
        if len(windows) > 1 and LUNCH[0] <= clock < LUNCH[1] and ready[0][0] > 0:
            clock = LUNCH[1] + rng.uniform(0, 8)
            continue
        _, _, index = heapq.heappop(ready)
        t = tokens[index]
        t.called = clock
        if t.kind == "walk_in" and rng.random() < 0.02:
            t.missed = True
            clock += 1.5
            continue
        t.start = clock + rng.uniform(0.2, 0.8)
        minutes = rng.lognormvariate(math.log(doctor.consult_minutes), 0.35)
        t.finish = t.start + max(2.0, minutes)
        clock = t.finish + rng.uniform(0.1, 0.4)
    _etas(doctor, tokens)


def _etas(doctor: NetDoctor, tokens: list[_Token]) -> None:
    """Each token's ETA at issue: patients waiting ahead × the doctor's usual consultation."""
    arrivals = sorted(t.arrival for t in tokens)
    calls = sorted(t.called for t in tokens if t.called is not None)
    for t in tokens:
        ahead = bisect.bisect_left(arrivals, t.arrival) - bisect.bisect_right(calls, t.arrival)
        eta = t.arrival + max(0, ahead) * (doctor.consult_minutes + 0.8)
        if t.arrival < LUNCH[0] <= eta:
            eta += LUNCH[1] - LUNCH[0]
        t.eta = max(eta, t.slot or 0.0, MORNING[0])


def _write_visit(
    net: Network,
    rng: random.Random,
    history: History,
    batch: Batch,
    doctor: NetDoctor,
    day: dt.date,
    t: _Token,
) -> Row:
    def at(minutes: float | None) -> dt.datetime | None:
        return None if minutes is None else _at(net, day, minutes)

    patient = net.patients[t.patient]
    status = "missed" if t.missed else "done"
    issued = at(t.arrival)
    token: Row = {
        "tenant_id": net.tenant_id,
        "branch_id": doctor.branch_id,
        "department_id": doctor.department_id,
        "doctor_id": doctor.id,
        "patient_id": patient.id,
        "appointment_id": t.appointment,
        "service_date": day,
        "queue_key": f"doctor:{doctor.id}:{'AM' if t.arrival < LUNCH[0] else 'PM'}",
        "number": 0,
        "code": doctor.dept,  # numbered per department once the day is complete
        "kind": t.kind,
        "status": status,
        "source": "reception",
        "room": doctor.room,
        "target_at": at(t.slot),
        "issued_at": issued,
        "called_at": at(t.called),
        "started_at": at(t.start),
        "finished_at": at(t.finish),
        "eta_at": at(t.eta),
        "recall_count": 0,
        "near_turn_sent": False,
        "issued_by": net.reception_id,
        "version": 5 if status == "done" else 3,
        "created_at": issued,
    }
    token_index = batch.add("queue_tokens", token)
    if t.appointment is not None:
        appointment = batch.rows["appointments"][t.appointment]
        appointment |= {
            "checked_in_at": issued,
            "started_at": token["started_at"],
            "completed_at": token["finished_at"],
            "updated_at": token["finished_at"],
        }
    if status == "done":
        history.last_seen[(t.patient, doctor.id)] = day
        _consultation(net, rng, batch, doctor, token, token_index, t)
    return token


def _consultation(
    net: Network,
    rng: random.Random,
    batch: Batch,
    doctor: NetDoctor,
    token: Row,
    token_index: int,
    t: _Token,
) -> None:
    started, finished = token["started_at"], token["finished_at"]
    consultation = batch.add(
        "consultations",
        {
            "tenant_id": net.tenant_id,
            "patient_id": token["patient_id"],
            "doctor_id": doctor.id,
            "branch_id": doctor.branch_id,
            "appointment_id": t.appointment,
            "token_id": token_index,
            "status": "finished",
            "started_at": started,
            "finished_at": finished,
            "created_at": started,
        },
    )
    clinical = {
        "tenant_id": net.tenant_id,
        "patient_id": token["patient_id"],
        "recorded_by": doctor.user_id,
        "consultation_id": consultation,
        "created_at": finished,
    }
    if rng.random() < 0.85:
        options = PROFILES[doctor.dept].diagnoses if doctor.dept in PROFILES else ()
        options = options or EXTRA_DIAGNOSES.get(doctor.dept, EXTRA_DIAGNOSES["PSY"])
        code, text = rng.choices(options, [len(options) - i for i in range(len(options))])[0]
        batch.add(
            "diagnoses",
            {
                **clinical,
                "icd10_code": code,
                "description": text,
                "is_primary": True,
                "retracted": False,
            },
        )
    if net.lab_tests and rng.random() < (0.15 if doctor.dept in ("GEN", "CAR", "ORT") else 0.03):
        _lab(net, rng, batch, clinical, doctor, started)
    _bill(net, rng, batch, doctor, token, token_index, consultation, t)
    if rng.random() < RATING_SHARE:
        wait = (started - token["issued_at"]).total_seconds() / 60
        score = max(1, min(5, round(4.8 - wait / 45 + rng.gauss(0, 0.7))))
        words = FEEDBACK.get(score)
        batch.add(
            "ratings",
            {
                "tenant_id": net.tenant_id,
                "patient_id": token["patient_id"],
                "doctor_id": doctor.id,
                "token_id": token_index,
                "score": score,
                "feedback": rng.choice(words) if words and rng.random() < 0.35 else None,
                "created_at": finished + dt.timedelta(hours=rng.uniform(0.5, 4)),
            },
        )


def _lab(
    net: Network,
    rng: random.Random,
    batch: Batch,
    clinical: Row,
    doctor: NetDoctor,
    started: dt.datetime,
) -> None:
    test = rng.choice(net.lab_tests)
    ordered = started + dt.timedelta(minutes=rng.uniform(2, 6))
    turnaround = int(rng.lognormvariate(math.log(75 * 60), 0.45))
    resulted = ordered + dt.timedelta(seconds=turnaround)
    order = batch.add(
        "lab_orders",
        {
            "tenant_id": net.tenant_id,
            "consultation_id": clinical["consultation_id"],
            "patient_id": clinical["patient_id"],
            "doctor_id": doctor.id,
            "lab_test_id": test.id,
            "test_name": test.name,
            "status": RESULTED,
            "urgent": False,
            "ordered_by": doctor.user_id,
            "sample_at": ordered + dt.timedelta(minutes=rng.uniform(3, 15)),
            "resulted_at": resulted,
            "turnaround_seconds": turnaround,
            "created_at": ordered,
        },
    )
    value_num, value_text, abnormal = None, None, None
    if test.low is not None or test.high is not None:
        low = test.low if test.low is not None else (test.high or 1) * 0.5
        high = test.high if test.high is not None else low * 2
        value_num = round(rng.gauss((low + high) / 2, (high - low) / 2.5), 1)
        if test.low is not None and value_num < test.low:
            abnormal = "low"
        elif test.high is not None and value_num > test.high:
            abnormal = "high"
    else:
        value_text = "Within normal limits" if rng.random() < 0.8 else "See report"
    batch.add(
        "lab_results",
        {
            "tenant_id": net.tenant_id,
            "patient_id": clinical["patient_id"],
            "lab_order_id": order,
            "value_text": value_text,
            "value_num": value_num,
            "unit": test.unit,
            "ref_low": test.low,
            "ref_high": test.high,
            "abnormal": abnormal,
            "created_at": resulted,
        },
    )


def _bill(
    net: Network,
    rng: random.Random,
    batch: Batch,
    doctor: NetDoctor,
    token: Row,
    token_index: int,
    consultation: int,
    t: _Token,
) -> None:
    patient = net.patients[t.patient]
    discount = doctor.fee_minor // 10 if patient.age >= 60 and rng.random() < 0.5 else 0
    lines = [_line(CONSULTATION, f"Consultation, {doctor.name}", doctor.fee_minor, 0, discount)]
    lines[0]["gst_exempt"] = True
    procedures = PROFILES[doctor.dept].procedures if doctor.dept in PROFILES else ()
    for proc in procedures or EXTRA_PROCEDURES.get(doctor.dept, ()):
        if rng.random() < proc.chance:
            lines.append(_line(proc.kind, proc.name, proc.rupees * 100, proc.tax_bp, 0))
    issued = token["finished_at"] + dt.timedelta(minutes=rng.uniform(1, 4))
    subtotal = sum(line["unit_price_minor"] * line["quantity"] for line in lines)
    discount_total = sum(line["discount_minor"] for line in lines)
    tax = sum(line["tax_minor"] for line in lines)
    total = subtotal - discount_total + tax
    roll = rng.random()
    amounts = (
        [] if roll < 0.02 else ([total // 2 // 100 * 100 or total] if roll < 0.06 else [total])
    )
    payments = []
    paid_at = issued
    for amount in amounts:
        paid_at = issued + dt.timedelta(minutes=rng.uniform(0.5, 6))
        mode = rng.choices(_MODES, cum_weights=_MODE_WEIGHTS)[0]
        payments.append(
            {
                "tenant_id": net.tenant_id,
                "mode": mode,
                "amount_minor": amount,
                "reference": f"UPI{rng.randrange(10**11, 10**12)}" if mode == "upi" else None,
                "received_by": net.reception_id,
                "received_at": paid_at,
                "created_at": paid_at,
            }
        )
    paid = sum(p["amount_minor"] for p in payments)
    status = bill_status(total, paid, has_lines=True)
    bill = batch.add(
        "bills",
        {
            "tenant_id": net.tenant_id,
            "number": "",  # numbered in order when the batch is written
            "branch_id": doctor.branch_id,
            "patient_id": token["patient_id"],
            "doctor_id": doctor.id,
            "appointment_id": t.appointment,
            "consultation_id": consultation,
            "token_id": token_index,
            "status": status,
            "subtotal_minor": subtotal,
            "discount_minor": discount_total,
            "tax_minor": tax,
            "total_minor": total,
            "paid_minor": paid,
            "issued_by": net.reception_id,
            "issued_at": issued,
            "paid_at": paid_at if status == "paid" else None,
            "created_at": issued,
        },
    )
    for line in lines:
        batch.add("bill_items", {**line, "tenant_id": net.tenant_id, "bill_id": bill})
    for payment in payments:
        batch.add("payments", {**payment, "bill_id": bill, "receipt_number": ""})


def _line(kind: str, description: str, price: int, tax_bp: int, discount: int) -> Row:
    net = price - discount
    tax = tax_on(net, tax_bp)
    return {
        "kind": kind,
        "description": description,
        "quantity": 1,
        "unit_price_minor": price,
        "discount_minor": discount,
        "tax_rate_bp": tax_bp,
        "tax_minor": tax,
        "amount_minor": net + tax,
        "gst_exempt": False,
    }
