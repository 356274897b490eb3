"""The demo clinics' lab catalogue: common Indian OPD tests with units and adult ranges.

Ranges are typical adult reference intervals (labs differ slightly); where women's differ the
second pair applies to female patients. Imaging is reported as text. Prices in paise.
"""

from __future__ import annotations

from core.clinical.lab_catalogue import LabTestSpec

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
