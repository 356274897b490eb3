"""The two fictional demo clinics, their doctors and staff logins (plans: core.plans.catalogue)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

MON_SAT = (0, 1, 2, 3, 4, 5)
LUNCH = (dt.time(13), dt.time(14))


@dataclass(frozen=True)
class Window:
    """A weekly working window: weekdays (Monday = 0), hours, slot length, optional lunch."""

    weekdays: tuple[int, ...]
    start: dt.time
    end: dt.time
    slot_minutes: int
    lunch: bool = True


@dataclass(frozen=True)
class DoctorSpec:
    dept_code: str
    dept_name: str
    full_name: str
    username: str
    specialization: str
    qualification: str
    fee_rupees: int
    room: str
    windows: tuple[Window, ...]
    daily_patients: int  # typical weekday footfall, for the history


@dataclass(frozen=True)
class LeaveSpec:
    """A doctor's leave, in days relative to the seed's today (negative = past)."""

    dept_code: str
    first_day: int
    days: int
    reason: str


@dataclass(frozen=True)
class StaffSpec:
    username: str
    full_name: str
    role: str
    password: str


@dataclass(frozen=True)
class ClinicSpec:
    slug: str
    name: str
    branch_slug: str
    branch_name: str
    address: str
    phone_number_id: str
    display_number: str
    plan_code: str
    doctors: tuple[DoctorSpec, ...]
    staff: tuple[StaffSpec, ...]
    patients: int
    history_days: int
    leaves: tuple[LeaveSpec, ...] = ()


DOCTOR_PASSWORD = "demo-doctor-2026"
PLATFORM_ADMIN = StaffSpec(
    "platform", "Platform Operator (demo)", "platform_admin", "demo-platform-2026"
)


def _nine_to_five(slot: int) -> tuple[Window, ...]:
    return (Window(MON_SAT, dt.time(9), dt.time(17), slot),)


def _ten_to_six(slot: int) -> tuple[Window, ...]:
    return (Window(MON_SAT, dt.time(10), dt.time(18), slot),)


SHARMA = ClinicSpec(
    slug="sharma",
    name="Sharma Multispeciality Clinic",
    branch_slug="main",
    branch_name="Sharma Clinic - Main",
    address="12 MG Road, Sector 14, Gurugram 122001",
    phone_number_id="100000000000001",
    display_number="+91 99999 00001",
    plan_code="growth",
    doctors=(
        DoctorSpec(
            "GEN",
            "General Medicine",
            "Dr. Anil Sharma",
            "dr.sharma",
            "General Physician",
            "MBBS, MD (General Medicine)",
            500,
            "Room 1",
            (*_nine_to_five(15), Window((6,), dt.time(10), dt.time(13), 15, lunch=False)),
            16,
        ),
        DoctorSpec(
            "PED",
            "Paediatrics",
            "Dr. Priya Mehta",
            "dr.mehta",
            "Pediatrician",
            "MBBS, DCH",
            600,
            "Room 2",
            _ten_to_six(15),
            13,
        ),
        DoctorSpec(
            "GYN",
            "Obstetrics & Gynaecology",
            "Dr. Kavita Iyer",
            "dr.iyer",
            "Gynecologist",
            "MBBS, MS (OBG)",
            700,
            "Room 3",
            _ten_to_six(20),
            9,
        ),
        DoctorSpec(
            "ORT",
            "Orthopaedics",
            "Dr. Suresh Kumar",
            "dr.kumar",
            "Orthopedic",
            "MBBS, MS (Ortho)",
            800,
            "Room 4",
            _nine_to_five(20),
            12,
        ),
        DoctorSpec(
            "DER",
            "Dermatology",
            "Dr. Farah Qureshi",
            "dr.qureshi",
            "Dermatologist",
            "MBBS, MD (Dermatology)",
            600,
            "Room 5",
            _ten_to_six(20),
            9,
        ),
    ),
    staff=(
        StaffSpec("admin", "Rohan Sharma (clinic admin)", "clinic_admin", "demo-admin-2026"),
        StaffSpec("reception", "Neha Verma (reception)", "receptionist", "demo-reception-2026"),
        StaffSpec("lab", "Imran Sheikh (lab)", "lab_technician", "demo-lab-2026"),
    ),
    patients=600,
    history_days=90,
    leaves=(
        LeaveSpec("ORT", -30, 3, "Family function"),
        LeaveSpec("GYN", 9, 3, "Medical conference"),
    ),
)

LAKEVIEW = ClinicSpec(
    slug="lakeview",
    name="Lakeview Family Clinic",
    branch_slug="north",
    branch_name="Lakeview - North",
    address="4 Lake Road, Kakkanad, Kochi 682030",
    phone_number_id="100000000000002",
    display_number="+91 99999 00002",
    plan_code="starter",
    doctors=(
        DoctorSpec(
            "GEN",
            "Family Medicine",
            "Dr. Meera Nair",
            "dr.nair",
            "Family Physician",
            "MBBS, DNB (Family Medicine)",
            400,
            "Room A",
            _nine_to_five(15),
            10,
        ),
        DoctorSpec(
            "ENT",
            "ENT",
            "Dr. Thomas Kurian",
            "dr.kurian",
            "ENT Surgeon",
            "MBBS, MS (ENT)",
            500,
            "Room B",
            _ten_to_six(20),
            7,
        ),
    ),
    staff=(
        StaffSpec(
            "lakeview.admin", "Anju Thomas (clinic admin)", "clinic_admin", "demo-admin-2026"
        ),
        StaffSpec(
            "lakeview.reception", "Vishnu Menon (reception)", "receptionist", "demo-reception-2026"
        ),
    ),
    patients=80,
    history_days=30,
)

CLINICS = (SHARMA, LAKEVIEW)
