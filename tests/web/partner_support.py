"""A committed clinic with a doctor on every day and a partner key, for the API and FHIR tests."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from core.partners.keys import add_origin, create_api_client
from db.engine import Database
from db.models import Doctor
from tests.support import Clinic, add_doctor, make_clinic


@dataclass
class PartnerClinic:
    clinic: Clinic
    doctor: Doctor
    key: str
    client_id: int

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def tomorrow(self) -> dt.date:
        zone = ZoneInfo(self.clinic.tenant.timezone)
        return dt.datetime.now(zone).date() + dt.timedelta(days=1)

    def at(self, hour: int, minute: int = 0) -> dt.datetime:
        zone = ZoneInfo(self.clinic.tenant.timezone)
        return dt.datetime.combine(self.tomorrow(), dt.time(hour, minute), zone).astimezone(dt.UTC)


def partner_clinic(db: Database, *, origin: str | None = None) -> PartnerClinic:
    slug = f"pa-{uuid.uuid4().hex[:8]}"
    with db.transaction("*") as s:
        clinic = make_clinic(s, slug)
        doctor = add_doctor(s, clinic, weekdays=tuple(range(7)))
        new = create_api_client(s, clinic.admin, name="City website")
        if origin:
            add_origin(s, clinic.admin, origin=origin)
    return PartnerClinic(clinic, doctor, new.key, new.client_id)
