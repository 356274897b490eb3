"""Fictional demo patients: generated deterministically, registered through core.

``register_profiles`` registers them one by one (``register_patient``); ``import_profiles``
goes through core's bulk ``import_patients`` (the same validation, phone encryption, consents
and codes in the same order), in runs cut where a child's guardian is in the same run; the
allergies and conditions go through core either way.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from sqlalchemy.orm import Session

from core.context import Actor
from core.patients import ConsentGrant, PhoneVault, add_allergy, add_condition, register_patient
from core.patients.importing import MAX_ROWS, PatientRow, import_patients
from qlink.seed import names

CHILD_SHARE = 0.2
_SCRIPT_EVERY = 40


@dataclass(frozen=True)
class Profile:
    """A generated patient, before registration."""

    full_name: str
    gender: str
    age: int
    date_of_birth: dt.date | None
    phone: str
    region: str
    language: str
    address: str
    blood_group: str | None
    email: str | None
    guardian: int | None  # index of the guardian's profile
    relation: str | None
    allergy: tuple[str, str, str] | None
    condition: tuple[str, str] | None


@dataclass(frozen=True)
class SeedPatient:
    """A registered patient as the history simulation sees it."""

    id: int
    age: int
    gender: str
    weight: float  # how often they visit relative to others
    joined: int  # first history day (index) on which they may visit
    chronic: bool


def generate_profiles(rng: random.Random, count: int, today: dt.date) -> list[Profile]:
    """Return ``count`` profiles; a child always comes after its guardian."""
    profiles: list[Profile] = []
    guardians: list[int] = []  # indices of the profiles aged 24-50 so far, in order
    phones = iter(rng.sample(range(100, 100_000), count))
    for index in range(count):
        if guardians and rng.random() < CHILD_SHARE:
            profiles.append(_child(rng, profiles, rng.choice(guardians), today))
        else:
            profiles.append(_adult(rng, index, next(phones), today))
        if 24 <= profiles[-1].age <= 50:
            guardians.append(index)
    return profiles


def _adult(rng: random.Random, index: int, serial: int, today: dt.date) -> Profile:
    region = rng.choices(list(names.REGION_WEIGHTS), list(names.REGION_WEIGHTS.values()))[0]
    if index % _SCRIPT_EVERY == _SCRIPT_EVERY - 1:
        full_name, gender, language = names.SCRIPT_NAMES[
            (index // _SCRIPT_EVERY) % len(names.SCRIPT_NAMES)
        ]
    else:
        gender = rng.choice(("female", "male"))
        full_name = f"{rng.choice(names.REGIONS[region][gender])} {_family(rng, region)}"
        language = "hi" if region == "hindi" and rng.random() < 0.3 else "en"
    age = int(rng.triangular(18, 86, 34))
    email = _email(rng, full_name) if language == "en" and rng.random() < 0.2 else None
    return _profile(
        rng,
        full_name,
        gender,
        age,
        f"{names.FAKE_MOBILE_PREFIX}{serial:05d}",
        region,
        language,
        today,
        email=email,
        guardian=None,
        relation=None,
    )


def _child(rng: random.Random, profiles: list[Profile], guardian: int, today: dt.date) -> Profile:
    parent = profiles[guardian]
    gender = rng.choice(("female", "male"))
    region = parent.region
    family = parent.full_name.split()[-1] if parent.full_name.isascii() else _family(rng, region)
    full_name = f"{rng.choice(names.REGIONS[region][gender])} {family}"
    relation = "mother" if parent.gender == "female" else "father"
    age = min(rng.randrange(0, 16), max(0, parent.age - 20))
    return _profile(
        rng,
        full_name,
        gender,
        age,
        parent.phone,
        region,
        parent.language,
        today,
        email=None,
        guardian=guardian,
        relation=relation,
    )


def _profile(
    rng: random.Random,
    full_name: str,
    gender: str,
    age: int,
    phone: str,
    region: str,
    language: str,
    today: dt.date,
    *,
    email: str | None,
    guardian: int | None,
    relation: str | None,
) -> Profile:
    known_dob = rng.random() < 0.85
    dob = today - dt.timedelta(days=age * 365 + rng.randrange(0, 365)) if known_dob else None
    return Profile(
        full_name=full_name,
        gender=gender,
        age=age,
        date_of_birth=dob,
        phone=phone,
        region=region,
        language=language,
        address=f"{rng.randrange(1, 400)}, {rng.choice(names.LOCALITIES)}",
        blood_group=_blood_group(rng),
        email=email,
        guardian=guardian,
        relation=relation,
        allergy=rng.choice(names.ALLERGIES) if rng.random() < 0.12 else None,
        condition=_condition(rng, age),
    )


def _family(rng: random.Random, region: str) -> str:
    return rng.choice(names.REGIONS[region]["family"])


def _email(rng: random.Random, full_name: str) -> str:
    local = ".".join(full_name.lower().split())
    return f"{local}{rng.randrange(1, 99)}@example.com"


def _blood_group(rng: random.Random) -> str | None:
    if rng.random() < 0.3:
        return None
    groups = names.BLOOD_GROUPS
    return rng.choices([g for g, _ in groups], [w for _, w in groups])[0]


def _condition(rng: random.Random, age: int) -> tuple[str, str] | None:
    chance = 0.45 if age >= 45 else 0.08
    if age < 12 or rng.random() >= chance:
        return None
    options = names.CONDITIONS if age >= 45 else names.CONDITIONS[2:]
    return rng.choice(options)


def register_profiles(
    session: Session,
    actor: Actor,
    vault: PhoneVault,
    profiles: list[Profile],
    rng: random.Random,
    history_days: int,
) -> list[SeedPatient]:
    """Register every profile through core and return what the history needs."""
    ids: list[int] = []
    for profile in profiles:
        ids.append(_register(session, actor, vault, profile, ids))
    return [_seed_patient(rng, pid, p, history_days) for pid, p in zip(ids, profiles, strict=True)]


def import_profiles(
    session: Session,
    actor: Actor,
    vault: PhoneVault,
    profiles: list[Profile],
    rng: random.Random,
    history_days: int,
) -> list[SeedPatient]:
    """Register every profile through core's bulk import; same result as ``register_profiles``
    (codes, fields, consents, allergies, conditions), one audit entry per run of rows."""
    ids: list[int] = []
    start = 0
    while start < len(profiles):
        end = start
        while (
            end < len(profiles)
            and end - start < MAX_ROWS
            and _guardian_before(profiles[end], start)
        ):
            end += 1
        rows = [_row(p, ids, index) for index, p in enumerate(profiles[start:end], start)]
        ids.extend(import_patients(session, actor, vault=vault, rows=rows).ids)
        start = end
    for patient_id, p in zip(ids, profiles, strict=True):
        _background(session, actor, patient_id, p)
    return [_seed_patient(rng, pid, p, history_days) for pid, p in zip(ids, profiles, strict=True)]


def _guardian_before(p: Profile, start: int) -> bool:
    """Whether the profile's guardian (if any) was imported before row ``start``."""
    return p.guardian is None or p.guardian < start


def _consents(index: int, by_guardian: bool) -> list[ConsentGrant]:
    return [
        ConsentGrant("treatment", by_guardian=by_guardian),
        ConsentGrant("whatsapp", by_guardian=by_guardian),
        ConsentGrant("reminders", granted=index % 4 != 0, by_guardian=by_guardian),
    ]


def _row(p: Profile, ids: list[int], index: int) -> PatientRow:
    guardian_id = ids[p.guardian] if p.guardian is not None else None
    return PatientRow(
        full_name=p.full_name,
        phone=p.phone,
        date_of_birth=p.date_of_birth,
        age_years=None if p.date_of_birth else p.age,
        gender=p.gender,
        address=p.address,
        blood_group=p.blood_group,
        email=p.email,
        guardian_patient_id=guardian_id,
        guardian_relation=p.relation,
        preferred_language=p.language,
        consents=_consents(index, guardian_id is not None),
    )


def _background(session: Session, actor: Actor, patient_id: int, p: Profile) -> None:
    if p.allergy:
        substance, reaction, severity = p.allergy
        add_allergy(
            session, actor, patient_id, substance=substance, reaction=reaction, severity=severity
        )
    if p.condition:
        add_condition(session, actor, patient_id, name=p.condition[0], icd10_code=p.condition[1])


def _register(session: Session, actor: Actor, vault: PhoneVault, p: Profile, ids: list[int]) -> int:
    guardian_id = ids[p.guardian] if p.guardian is not None else None
    consents = _consents(len(ids), guardian_id is not None)
    patient = register_patient(
        session,
        actor,
        vault=vault,
        full_name=p.full_name,
        phone=p.phone,
        date_of_birth=p.date_of_birth,
        age_years=None if p.date_of_birth else p.age,
        gender=p.gender,
        address=p.address,
        blood_group=p.blood_group,
        email=p.email,
        guardian_patient_id=guardian_id,
        guardian_relation=p.relation,
        preferred_language=p.language,
        consents=consents,
    ).patient
    _background(session, actor, patient.id, p)
    return patient.id


def _seed_patient(rng: random.Random, pid: int, p: Profile, history_days: int) -> SeedPatient:
    joined = 0 if rng.random() < 0.45 else rng.randrange(0, history_days)
    return SeedPatient(
        id=pid,
        age=p.age,
        gender=p.gender,
        weight=rng.lognormvariate(0, 0.7),
        joined=joined,
        chronic=p.condition is not None,
    )
