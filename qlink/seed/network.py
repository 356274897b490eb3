"""``qlink seed history``: a year (or ``--days``) of a 20-doctor, 10-department network.

The network (tenant ``citycare``: two branches, five departments each, two doctors per
department, staff, lab catalogue) is configured through core commands (``qlink.builder``) and
its patients registered through core's bulk import (``import_patients``: the registration rules,
codes from the clinic's counter). The days themselves are past data, which booking and queue
rules rightly refuse, so ``network_day`` builds their rows and they are written in batches of
``BATCH_DAYS`` days (ids reserved up front, PostgreSQL ``COPY``); bill and receipt numbers come
from core's counters (``reserve_values``) in the live formats. See ``network_day`` for what the
rows share with the live rules and what they do not.

Re-running finds the tenant and writes nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import Clock, system_clock
from core.context import Actor
from core.patients import PhoneVault
from core.patients.consent import ConsentGrant
from core.patients.importing import MAX_ROWS, PatientRow, import_patients
from core.sequences import reserve_values
from core.tenancy import create_branch
from db.base import Base
from db.engine import ALL_TENANTS, Database
from db.models import Tenant
from qlink import builder
from qlink.seed.bulk import Writer
from qlink.seed.lab import COMMON_LAB_TESTS
from qlink.seed.names import REGIONS
from qlink.seed.network_day import (
    REFS,
    Batch,
    History,
    NetDoctor,
    NetLabTest,
    NetPatient,
    Network,
    simulate_days,
)

SLUG = "citycare"
SEED = 20261129
ZONE = "Asia/Kolkata"
BATCH_DAYS = 7
PATIENTS_PER_DAY = 120  # registry size per simulated day (a year: about 44,000 patients)
ADMIN = ("admin.citycare", "citycare-owner-1")
BRANCHES = (
    ("koramangala", "CityCare Koramangala", ("GEN", "PED", "GYN", "ORT", "DER")),
    ("whitefield", "CityCare Whitefield", ("GEN", "ENT", "CAR", "OPH", "DEN")),
)
DEPARTMENTS = {
    "GEN": ("General Medicine", "General Physician", 500, 5.0),
    "PED": ("Paediatrics", "Paediatrician", 600, 5.5),
    "GYN": ("Obstetrics & Gynaecology", "Gynaecologist", 700, 7.0),
    "ORT": ("Orthopaedics", "Orthopaedic Surgeon", 700, 6.0),
    "DER": ("Dermatology", "Dermatologist", 600, 5.0),
    "ENT": ("ENT", "ENT Surgeon", 600, 5.5),
    "CAR": ("Cardiology", "Cardiologist", 900, 8.0),
    "OPH": ("Ophthalmology", "Ophthalmologist", 600, 5.0),
    "DEN": ("Dental", "Dental Surgeon", 400, 9.0),
}
WRITE_ORDER = (
    "appointments",
    "queue_tokens",
    "token_counters",
    "consultations",
    "diagnoses",
    "lab_orders",
    "lab_results",
    "bills",
    "bill_items",
    "payments",
    "ratings",
)


@dataclass(frozen=True)
class HistorySummary:
    created: bool
    days: int
    rows: dict[str, int]
    seconds: float  # writing the days (simulation included), after the set-up
    patients: int = 0
    setup_seconds: float = 0.0  # the network through core: staff logins, doctors, patients

    @property
    def rows_per_second(self) -> float:
        return sum(self.rows.values()) / self.seconds if self.seconds else 0.0


def configure(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--years", type=int, default=None, help="years of history (default 1)")
    group.add_argument("--days", type=int, default=None, help="days of history instead")


def run(settings: object, args: argparse.Namespace) -> int:
    """The CLI command: migrate, seed the network's history, print what was written."""
    from qlink.launch import migrated

    days = args.days if args.days is not None else 365 * (args.years or 1)
    if not 1 <= days <= 3 * 366:
        print("qlink: error: --days must be between 1 and 1098", flush=True)
        return 2
    database = migrated(settings)  # type: ignore[arg-type]
    try:
        summary = seed_history(database, settings.data_key, days=days)  # type: ignore[attr-defined]
    finally:
        database.dispose()
    if not summary.created:
        print(f"clinic {SLUG!r} already exists; nothing written")
        return 0
    total = sum(summary.rows.values())
    print(
        f"{SLUG}: set up through core in {summary.setup_seconds:.1f} s "
        f"({summary.patients:,} patients); {summary.days} days of history:"
    )
    for table, n in summary.rows.items():
        print(f"  {table:<15} {n:>10,}")
    print(f"  {'total':<15} {total:>10,} rows in {summary.seconds:.1f} s")
    print(f"  {summary.rows_per_second:,.0f} rows/s; owner login {ADMIN[0]} / {ADMIN[1]}")
    return 0


def seed_history(
    db: Database,
    data_key: str,
    *,
    days: int,
    clock: Clock = system_clock,
    seed: int = SEED,
    slug: str = SLUG,
) -> HistorySummary:
    """Create the network and write ``days`` days of history ending yesterday.

    Nothing is written when a clinic ``slug`` exists (tests sharing a database pass their own).
    """
    started = time.monotonic()
    rng = random.Random(seed)
    with db.transaction(ALL_TENANTS) as session:
        if session.scalar(select(Tenant.id).where(Tenant.slug == slug)) is not None:
            return HistorySummary(False, 0, {}, 0.0)
        today = clock().astimezone(ZoneInfo(ZONE)).date()
        first = today - dt.timedelta(days=days)
        net = _build(session, rng, PhoneVault(data_key), clock, first, days, slug)
    setup = time.monotonic() - started
    started = time.monotonic()
    history = History()
    counts: dict[str, int] = dict.fromkeys(WRITE_ORDER, 0)
    all_days = [first + dt.timedelta(days=n) for n in range(days)]
    chunks = [all_days[i : i + BATCH_DAYS] for i in range(0, days, BATCH_DAYS)]
    # The next batch is simulated while this one is written (the database does the waiting).
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(simulate_days, net, rng, history, chunks[0])
        for k in range(len(chunks)):
            batch = pending.result()
            if k + 1 < len(chunks):
                pending = pool.submit(simulate_days, net, rng, history, chunks[k + 1])
            with db.transaction(ALL_TENANTS) as session:
                for table, n in write_batch(session, net.tenant_id, batch).items():
                    counts[table] += n
    seconds = time.monotonic() - started
    return HistorySummary(True, days, counts, seconds, len(net.patients), setup)


def write_batch(session: Session, tenant_id: int, batch: Batch) -> dict[str, int]:
    """Reserve ids, number bills and receipts from core's counters, write every table."""
    writer = Writer(session)
    tables = Base.metadata.tables
    firsts = {
        name: writer.reserve(tables[name], len(batch.rows[name]))
        for name in WRITE_ORDER
        if name != "token_counters" and batch.rows.get(name)
    }
    batch.shift(firsts, REFS)
    _number(session, tenant_id, batch.rows.get("bills", []), "bill", "B-{:06d}", "issued_at")
    _number(
        session, tenant_id, batch.rows.get("payments", []), "receipt", "R-{:06d}", "received_at"
    )
    written = {}
    for name in WRITE_ORDER:
        rows = batch.rows.get(name, [])
        writer.write(tables[name], rows)
        written[name] = len(rows)
    return written


def _number(
    session: Session, tenant_id: int, rows: list[dict[str, object]], name: str, fmt: str, key: str
) -> None:
    if not rows:
        return
    numbers = reserve_values(session, tenant_id, name, len(rows))
    ordered = sorted(rows, key=lambda r: (r[key], r["id"]))
    field = "number" if name == "bill" else "receipt_number"
    for number, row in zip(numbers, ordered, strict=True):
        row[field] = fmt.format(number)


def _build(
    session: Session,
    rng: random.Random,
    vault: PhoneVault,
    clock: Clock,
    first: dt.date,
    days: int,
    slug: str = SLUG,
) -> Network:
    built = builder.open_clinic(
        session,
        builder.ClinicSpec(
            slug=slug,
            name="CityCare Hospitals",
            timezone=ZONE,
            branch_slug=BRANCHES[0][0],
            branch_name=BRANCHES[0][1],
            address="80 Feet Road, Koramangala, Bengaluru",
        ),
        clock=clock,
    )
    actor = built.system
    branch_ids = [built.branch.id]
    for slug, name, _ in BRANCHES[1:]:
        branch_ids.append(create_branch(session, actor, slug=slug, name=name).id)
    reception = builder.add_staff(
        session,
        actor,
        branch_id=branch_ids[0],
        spec=builder.StaffSpec("desk.citycare", "citycare-desk-1", "Front Desk", "receptionist"),
    )
    builder.add_staff(
        session,
        actor,
        branch_id=branch_ids[0],
        spec=builder.StaffSpec(ADMIN[0], ADMIN[1], "Network Owner", "clinic_admin"),
    )
    doctors = _doctors(session, actor, rng, branch_ids)
    tests = builder.add_lab_tests(session, actor, COMMON_LAB_TESTS)
    patients = _patients(session, actor, vault, rng, max(2000, PATIENTS_PER_DAY * days))
    return Network(
        tenant_id=built.tenant.id,
        zone=ZoneInfo(ZONE),
        doctors=doctors,
        patients=patients,
        lab_tests=[NetLabTest(t.id, t.name, t.unit, t.ref_low, t.ref_high) for t in tests],
        reception_id=reception.id,
        first_day=first,
        days=days,
    )


def _doctors(
    session: Session, actor: Actor, rng: random.Random, branch_ids: list[int]
) -> list[NetDoctor]:
    doctors = []
    family = REGIONS["hindi"]["family"] + REGIONS["tamil"]["family"]
    given = REGIONS["hindi"]["male"] + REGIONS["hindi"]["female"]
    for branch_id, (slug, _, codes) in zip(branch_ids, BRANCHES, strict=True):
        for code in codes:
            name, specialization, fee, consult = DEPARTMENTS[code]
            department = builder.add_department(
                session, actor, branch_id=branch_id, spec=builder.DepartmentSpec(code, name)
            )
            for k in range(2):
                full_name = f"Dr. {rng.choice(given)} {rng.choice(family)}"
                room = f"{code}-{k + 1}"
                sunday = code in ("GEN", "PED") and k == 0
                hours = [
                    builder.Hours(
                        (0, 1, 2, 3, 4, 5),
                        dt.time(9),
                        dt.time(18),
                        10,
                        (builder.LUNCH,),
                        room,
                    )
                ]
                if sunday:
                    hours.append(builder.Hours((6,), dt.time(9), dt.time(13), 10, (), room))
                doctor = builder.add_doctor(
                    session,
                    actor,
                    department=department,
                    spec=builder.DoctorSpec(
                        full_name,
                        specialization=specialization,
                        fee_minor=(fee + 100 * k) * 100,
                        room=room,
                        slot_minutes=10,
                        hours=hours,
                    ),
                )
                login = builder.StaffSpec(
                    f"dr.{code.lower()}{k + 1}.{slug}", "citycare-doctor-1", full_name, "doctor"
                )
                user = builder.add_doctor_login(
                    session, actor, doctor=doctor, branch_id=branch_id, login=login
                )
                doctors.append(
                    NetDoctor(
                        id=doctor.id,
                        user_id=user.id,
                        name=full_name,
                        dept=code,
                        department_id=department.id,
                        branch_id=branch_id,
                        fee_minor=doctor.fee_minor,
                        room=room,
                        load=rng.uniform(95, 125) * (5.0 / consult) ** 0.5,
                        consult_minutes=consult * rng.uniform(0.5, 0.65),
                        sunday=sunday,
                    )
                )
    return doctors


def _patients(
    session: Session, actor: Actor, vault: PhoneVault, rng: random.Random, count: int
) -> list[NetPatient]:
    """Register ``count`` patients through core's bulk import (no phones: nothing to seal)."""
    regions = list(REGIONS.values())
    specs = []
    for _ in range(count):
        names = rng.choice(regions)
        female = rng.random() < 0.52
        age = int(min(90, max(0, rng.gauss(34, 20))))
        given = rng.choice(names["female" if female else "male"])
        specs.append((f"{given} {rng.choice(names['family'])}", age, female))
    patients: list[NetPatient] = []
    for start in range(0, count, MAX_ROWS):
        part = specs[start : start + MAX_ROWS]
        rows = [
            PatientRow(
                name,
                age_years=age,
                gender="female" if female else "male",
                guardian_relation="mother" if age < 18 else None,
                consents=(
                    ConsentGrant("treatment", by_guardian=age < 18),
                    ConsentGrant("whatsapp", by_guardian=age < 18),
                ),
            )
            for name, age, female in part
        ]
        ids = import_patients(session, actor, vault=vault, rows=rows).ids
        patients += [
            NetPatient(pid, age, female) for pid, (_, age, female) in zip(ids, part, strict=True)
        ]
    return patients
