"""What a visit to each department looks like: complaints, diagnoses, procedures, medicines.

ICD-10 codes are the ones common in Indian OPDs; prices are in rupees; tax is per item (a
consultation is GST-exempt, cosmetic procedures and some supplies are not).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Procedure:
    name: str
    rupees: int
    tax_bp: int  # basis points: 1800 = 18 % GST
    chance: float  # share of visits that include it
    kind: str = "procedure"


@dataclass(frozen=True)
class Medicine:
    name: str
    strength: str
    pattern: str
    timing: str
    days: int


@dataclass(frozen=True)
class DeptProfile:
    complaints: tuple[str, ...]
    diagnoses: tuple[tuple[str, str], ...]  # (ICD-10, description), most common first
    procedures: tuple[Procedure, ...]
    medicines: tuple[Medicine, ...]


_PCM = Medicine("Paracetamol", "650 mg", "1-1-1", "after_food", 3)
_CETIRIZINE = Medicine("Cetirizine", "10 mg", "0-0-1", "after_food", 5)

PROFILES: dict[str, DeptProfile] = {
    "GEN": DeptProfile(
        complaints=(
            "Fever for 3 days",
            "Cough and cold",
            "Loose motions since yesterday",
            "Headache and body ache",
            "Acidity and bloating",
            "Routine sugar review",
            "BP follow-up",
            "Burning micturition",
            "Weakness and fatigue",
        ),
        diagnoses=(
            ("J06.9", "Acute upper respiratory infection"),
            ("R50.9", "Fever, unspecified"),
            ("E11.9", "Type 2 diabetes mellitus"),
            ("I10", "Essential hypertension"),
            ("A09", "Gastroenteritis"),
            ("K30", "Functional dyspepsia"),
            ("N39.0", "Urinary tract infection"),
            ("A01.0", "Typhoid fever"),
            ("D50.9", "Iron deficiency anaemia"),
        ),
        procedures=(
            Procedure("ECG", 300, 0, 0.06),
            Procedure("Blood sugar (glucometer)", 80, 0, 0.12),
            Procedure("Injection administration", 100, 0, 0.08),
        ),
        medicines=(
            _PCM,
            _CETIRIZINE,
            Medicine("Pantoprazole", "40 mg", "1-0-0", "before_food", 14),
            Medicine("Metformin", "500 mg", "1-0-1", "after_food", 30),
            Medicine("Amlodipine", "5 mg", "1-0-0", "after_food", 30),
            Medicine("ORS", "21 g sachet", "1-1-1", "after_food", 3),
        ),
    ),
    "PED": DeptProfile(
        complaints=(
            "Fever since last night",
            "Cough and running nose",
            "Vomiting and loose stools",
            "Ear pain",
            "Vaccination due",
            "Rash on body",
            "Not eating well",
        ),
        diagnoses=(
            ("J06.9", "Acute upper respiratory infection"),
            ("A09", "Gastroenteritis"),
            ("Z23", "Encounter for immunization"),
            ("J20.9", "Acute bronchitis"),
            ("H66.9", "Otitis media"),
            ("Z00.1", "Routine child health examination"),
            ("B01.9", "Varicella"),
        ),
        procedures=(
            Procedure("Nebulisation", 200, 0, 0.10),
            Procedure("Vaccine administration", 150, 0, 0.12),
            Procedure("MMR vaccine", 450, 500, 0.04, "medicine"),
        ),
        medicines=(
            Medicine("Paracetamol syrup", "250 mg/5 ml", "1-1-1", "after_food", 3),
            Medicine("Amoxicillin syrup", "125 mg/5 ml", "1-0-1", "after_food", 5),
            Medicine("Zinc syrup", "20 mg/5 ml", "1-0-0", "after_food", 14),
            Medicine("ORS", "4.2 g sachet", "1-1-1", "after_food", 3),
        ),
    ),
    "GYN": DeptProfile(
        complaints=(
            "Antenatal check-up",
            "Irregular periods",
            "Painful periods",
            "White discharge",
            "Missed period",
            "Lower abdominal pain",
        ),
        diagnoses=(
            ("Z34.9", "Supervision of normal pregnancy"),
            ("O26.9", "Pregnancy-related condition, unspecified"),
            ("E28.2", "Polycystic ovarian syndrome"),
            ("N92.0", "Menorrhagia"),
            ("N94.6", "Dysmenorrhoea"),
            ("N76.0", "Acute vaginitis"),
        ),
        procedures=(
            Procedure("Pelvic ultrasound", 900, 0, 0.18),
            Procedure("Pap smear", 600, 0, 0.05),
            Procedure("Urine pregnancy test", 150, 0, 0.08),
        ),
        medicines=(
            Medicine("Folic acid", "5 mg", "1-0-0", "after_food", 90),
            Medicine("Ferrous ascorbate + folic acid", "100 mg", "0-1-0", "after_food", 60),
            Medicine("Calcium carbonate", "500 mg", "0-0-1", "after_food", 60),
            Medicine("Mefenamic acid", "500 mg", "1-0-1", "after_food", 3),
        ),
    ),
    "ORT": DeptProfile(
        complaints=(
            "Low back pain",
            "Knee pain while climbing stairs",
            "Twisted ankle",
            "Shoulder pain",
            "Neck stiffness",
            "Fall from bike, wrist pain",
        ),
        diagnoses=(
            ("M54.5", "Low back pain"),
            ("M17.9", "Osteoarthritis of knee"),
            ("S93.4", "Sprain of ankle"),
            ("M75.1", "Rotator cuff syndrome"),
            ("M54.2", "Cervicalgia"),
            ("S52.5", "Fracture of lower end of radius"),
        ),
        procedures=(
            Procedure("X-ray (one view)", 400, 0, 0.30),
            Procedure("Plaster cast", 1200, 0, 0.04),
            Procedure("Physiotherapy session", 500, 0, 0.10),
            Procedure("Knee brace", 650, 1200, 0.05, "medicine"),
        ),
        medicines=(
            Medicine("Aceclofenac + paracetamol", "100/325 mg", "1-0-1", "after_food", 5),
            Medicine("Calcium + vitamin D3", "500 mg/250 IU", "0-1-0", "after_food", 30),
            Medicine("Thiocolchicoside", "4 mg", "1-0-1", "after_food", 5),
            Medicine("Diclofenac gel", "1 %", "1-1-1", "local", 7),
        ),
    ),
    "DER": DeptProfile(
        complaints=(
            "Itchy rash",
            "Pimples on face",
            "Ring-shaped itchy patches",
            "Hives after eating",
            "Dandruff and scalp itching",
            "White patches on skin",
        ),
        diagnoses=(
            ("L20.9", "Atopic dermatitis"),
            ("L70.0", "Acne vulgaris"),
            ("B35.4", "Tinea corporis"),
            ("L50.9", "Urticaria"),
            ("L21.9", "Seborrhoeic dermatitis"),
            ("L80", "Vitiligo"),
        ),
        procedures=(
            Procedure("Cryotherapy", 800, 0, 0.05),
            Procedure("Chemical peel (cosmetic)", 1500, 1800, 0.06),
            Procedure("Skin scraping (KOH)", 250, 0, 0.10),
        ),
        medicines=(
            _CETIRIZINE,
            Medicine("Clotrimazole cream", "1 %", "1-0-1", "local", 14),
            Medicine("Adapalene gel", "0.1 %", "0-0-1", "local", 30),
            Medicine("Terbinafine", "250 mg", "1-0-0", "after_food", 14),
            Medicine("Calamine lotion", "8 %", "1-0-1", "local", 7),
        ),
    ),
    "ENT": DeptProfile(
        complaints=(
            "Ear pain and discharge",
            "Blocked nose",
            "Sore throat",
            "Reduced hearing",
            "Giddiness",
        ),
        diagnoses=(
            ("J03.9", "Acute tonsillitis"),
            ("J01.9", "Acute sinusitis"),
            ("H66.9", "Otitis media"),
            ("H61.2", "Impacted cerumen"),
            ("H81.1", "Benign paroxysmal vertigo"),
        ),
        procedures=(
            Procedure("Ear wax removal", 300, 0, 0.15),
            Procedure("Audiometry", 500, 0, 0.06),
        ),
        medicines=(
            Medicine("Amoxicillin + clavulanate", "625 mg", "1-0-1", "after_food", 5),
            Medicine("Xylometazoline nasal drops", "0.1 %", "1-1-1", "local", 5),
            Medicine("Betahistine", "16 mg", "1-0-1", "after_food", 7),
            _PCM,
        ),
    ),
}

PAYMENT_MODES = (("cash", 52), ("upi", 34), ("card", 14))
CANCEL_REASONS = (
    "Patient requested",
    "Travelling",
    "Feeling better",
    "Clash with work",
    "Rescheduled by phone",
)
