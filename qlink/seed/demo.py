"""``qlink seed demo``: two fictional clinics with staff, patients, history and a live today.

Deterministic (fixed random seed; dates are relative to today in the clinic's timezone) and
re-runnable: when the demo clinic exists nothing more is written, except a live today (see
``today``) once per day. Configuration goes through core services; history is bulk-imported
(see ``history``).
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.clock import Clock, system_clock
from core.context import Actor
from core.patients import PhoneVault
from core.plans.catalogue import ensure_plans
from core.plans.subscriptions import subscribe
from db.engine import ALL_TENANTS, Database
from db.models import Appointment, Bill, Patient, QueueToken, Tenant
from qlink import builder
from qlink.seed.clinics import CLINICS, DOCTOR_PASSWORD, PLATFORM_ADMIN, SHARMA, ClinicSpec
from qlink.seed.formulary import COMMON_MEDICINES
from qlink.seed.history import import_history
from qlink.seed.lab import COMMON_LAB_TESTS
from qlink.seed.patients import generate_profiles, import_profiles
from qlink.seed.setup import build_clinic, ensure_platform_admin
from qlink.seed.templates import ensure_demo_templates
from qlink.seed.today import TodaySummary, seed_today
from qlink.seed.upcoming import book_upcoming

SEED = 20261121
ZONE = "Asia/Kolkata"


class SeedSettings(Protocol):
    """The part of ``qlink.settings.Settings`` the seed reads."""

    @property
    def data_key(self) -> str: ...


@dataclass(frozen=True)
class Login:
    clinic: str | None  # tenant slug; None for the platform admin
    username: str
    password: str
    role: str


@dataclass(frozen=True)
class ClinicCounts:
    slug: str
    name: str
    branch: str
    phone_number_id: str
    patients: int
    appointments: int
    tokens: int
    bills: int


@dataclass(frozen=True)
class DemoSummary:
    """What the seed produced (or found): clinics with row counts and the demo logins."""

    created: bool
    clinics: tuple[ClinicCounts, ...]
    logins: tuple[Login, ...]
    today: TodaySummary | None = None

    @property
    def tenant_slugs(self) -> tuple[str, ...]:
        return tuple(c.slug for c in self.clinics)


def seed_demo(db: Database, settings: SeedSettings, *, clock: Clock = system_clock) -> DemoSummary:
    """Create the demo clinics unless they exist; return the summary either way."""
    with db.transaction(ALL_TENANTS) as session:
        exists = session.scalar(select(Tenant.id).where(Tenant.slug == SHARMA.slug))
        if exists is None:
            _seed(session, PhoneVault(settings.data_key), clock)
        ensure_demo_templates(session, tuple(spec.slug for spec in CLINICS), at=clock())
    # Today is played in its own transaction: a demo started again on a later day gets a live
    # day of its own, and one started again the same day writes nothing.
    with db.transaction(ALL_TENANTS) as session:
        today = seed_today(session, SHARMA.slug, clock=clock)
        return DemoSummary(exists is None, _counts(session), demo_logins(), today)


def demo_logins() -> tuple[Login, ...]:
    """Return every demo login (fictional, demo-only passwords)."""
    logins = [Login(None, PLATFORM_ADMIN.username, PLATFORM_ADMIN.password, "platform_admin")]
    for spec in CLINICS:
        logins += [Login(spec.slug, s.username, s.password, s.role) for s in spec.staff]
        logins += [Login(spec.slug, d.username, DOCTOR_PASSWORD, "doctor") for d in spec.doctors]
    return tuple(logins)


def _seed(session: Session, vault: PhoneVault, clock: Clock) -> None:
    today = clock().astimezone(ZoneInfo(ZONE)).date()
    platform = Actor.system(None, clock=clock)
    ensure_plans(session, platform)  # core's catalogue: the one list of plans and prices
    ensure_platform_admin(session, platform)
    for spec in CLINICS:
        _seed_clinic(session, spec, vault, clock, today)


def _seed_clinic(
    session: Session, spec: ClinicSpec, vault: PhoneVault, clock: Clock, today: dt.date
) -> None:
    seed = f"{SEED}:{spec.slug}"
    rng = random.Random(seed)
    built = build_clinic(session, spec, clock=clock, today=today, zone=ZONE)
    # through core, so the plan's token cap reaches the clinic's settings as for a real clinic
    platform = Actor.system(None, clock=clock)
    start = today.replace(day=1)  # this month's billing period
    subscribe(session, platform, tenant_id=built.tenant_id, plan_code=spec.plan_code, start=start)
    actor = Actor.system(built.tenant_id, clock=clock)
    builder.add_lab_tests(session, actor, COMMON_LAB_TESTS)
    builder.add_formulary(session, actor, COMMON_MEDICINES)
    profiles = generate_profiles(rng, spec.patients, today)
    patients = import_profiles(session, actor, vault, profiles, rng, spec.history_days)
    days = [today - dt.timedelta(days=n) for n in range(spec.history_days, 0, -1)]
    clinic = built.history_clinic(patients)
    import_history(session, clinic, rng, days)
    book_upcoming(session, clinic, built.desk(clock), f"{seed}:upcoming", today)


def _counts(session: Session) -> tuple[ClinicCounts, ...]:
    rows = []
    for spec in CLINICS:
        tenant_id = session.scalar(select(Tenant.id).where(Tenant.slug == spec.slug))
        if tenant_id is None:
            continue
        rows.append(
            ClinicCounts(
                spec.slug,
                spec.name,
                spec.branch_slug,
                spec.phone_number_id,
                patients=_count(session, Patient, tenant_id),
                appointments=_count(session, Appointment, tenant_id),
                tokens=_count(session, QueueToken, tenant_id),
                bills=_count(session, Bill, tenant_id),
            )
        )
    return tuple(rows)


def _count(
    session: Session, model: type[Patient | Appointment | QueueToken | Bill], tenant_id: int
) -> int:
    query = select(func.count()).select_from(model).where(model.tenant_id == tenant_id)
    return int(session.scalar(query) or 0)
