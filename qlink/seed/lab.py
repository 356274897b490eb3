"""The demo clinics' lab catalogue: common Indian OPD tests with units and adult ranges.

Ranges are typical adult reference intervals (labs differ slightly); where women's differ the
second pair applies to female patients. Imaging is reported as text. Prices in paise.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from sqlalchemy.orm import Session

from core.clinical.consultations import open_consultation
from core.clinical.lab import order_tests
from core.clinical.lab_catalogue import LabTestSpec, lab_catalogue
from core.context import Actor

COMMON_LAB_TESTS = (
    LabTestSpec("HB", "Haemoglobin (CBC)", "g/dL", 13.0, 17.0, 12.0, 15.0, price_minor=15000),
    LabTestSpec("TLC", "Total leucocyte count (CBC)", "10^3/uL", 4.0, 11.0, price_minor=10000),
    LabTestSpec("PLT", "Platelet count (CBC)", "10^3/uL", 150, 410, price_minor=10000),
    LabTestSpec("FBS", "Blood sugar, fasting", "mg/dL", 70, 100, price_minor=8000),
    LabTestSpec("PPBS", "Blood sugar, post-prandial", "mg/dL", 70, 140, price_minor=8000),
    LabTestSpec("HBA1C", "HbA1c", "%", 4.0, 5.6, price_minor=45000),
    LabTestSpec("TCHOL", "Total cholesterol", "mg/dL", None, 200, price_minor=20000),
    LabTestSpec("HDL", "HDL cholesterol", "mg/dL", 40, None, 50, None, price_minor=20000),
    LabTestSpec("LDL", "LDL cholesterol", "mg/dL", None, 100, price_minor=20000),
    LabTestSpec("TG", "Triglycerides", "mg/dL", None, 150, price_minor=20000),
    LabTestSpec("TSH", "TSH", "mIU/L", 0.4, 4.0, price_minor=35000),
    LabTestSpec("CREAT", "Serum creatinine", "mg/dL", 0.7, 1.3, 0.6, 1.1, price_minor=20000),
    LabTestSpec("URINE", "Urine routine", result_kind="text", price_minor=10000),
    LabTestSpec("XRKNEE", "X-ray knee (AP/lateral)", result_kind="text", price_minor=60000),
    LabTestSpec("XRCHEST", "X-ray chest (PA)", result_kind="text", price_minor=50000),
)


def send_to_lab_now(
    session: Session, doctor: Actor, token_ids: Sequence[int], rng: random.Random
) -> list[int]:
    """Order two tests for each patient in consultation named, sending them to the lab.

    The demo's live day uses it so the lab page opens on a worklist; ``doctor`` may be the
    clinic's system actor. Returns the tokens sent (none when the clinic has no catalogue).
    """
    tests = lab_catalogue(session, doctor)
    if len(tests) < 2:
        return []
    for token_id in token_ids:
        visit = open_consultation(session, doctor, token_id=token_id)
        picks = [t.id for t in rng.sample(tests, 2)]
        order_tests(session, doctor, consultation_id=visit.id, lab_test_ids=picks)
    return list(token_ids)
