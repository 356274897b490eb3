"""Vitals as a doctor types them, range-checked with a clear message; BMI computed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.errors import ValidationFailed

# Plausible adult and paediatric values; outside these a typo is likelier than the reading.
RANGES: dict[str, tuple[float, float, str]] = {
    "temperature_c": (30.0, 45.0, "°C"),
    "bp_systolic": (50, 300, "mmHg"),
    "bp_diastolic": (20, 200, "mmHg"),
    "pulse_bpm": (20, 250, "beats/min"),
    "spo2_pct": (50, 100, "%"),
    "weight_kg": (0.3, 400.0, "kg"),
    "height_cm": (30.0, 250.0, "cm"),
}
LABELS = {
    "temperature_c": "Temperature",
    "bp_systolic": "Systolic BP",
    "bp_diastolic": "Diastolic BP",
    "pulse_bpm": "Pulse",
    "spo2_pct": "SpO2",
    "weight_kg": "Weight",
    "height_cm": "Height",
}
_WHOLE = ("bp_systolic", "bp_diastolic", "pulse_bpm", "spo2_pct")


@dataclass(frozen=True)
class VitalsInput:
    """The vitals form: any subset, but blood pressure as both numbers or neither."""

    temperature_c: float | None = None
    bp_systolic: int | None = None
    bp_diastolic: int | None = None
    pulse_bpm: int | None = None
    spo2_pct: int | None = None
    weight_kg: float | None = None
    height_cm: float | None = None


def checked_vitals(vitals: VitalsInput) -> dict[str, Any]:
    """Return the column values with ``bmi``; raise ``ValidationFailed`` naming the bad field."""
    values: dict[str, Any] = {}
    for field, (low, high, unit) in RANGES.items():
        value = getattr(vitals, field)
        if value is not None:
            values[field] = _in_range(field, value, low, high, unit)
        else:
            values[field] = None
    if not any(v is not None for v in values.values()):
        raise ValidationFailed("Enter at least one vital sign", field="vitals")
    _check_pressure(values["bp_systolic"], values["bp_diastolic"])
    values["bmi"] = bmi(values["weight_kg"], values["height_cm"])
    return values


def bmi(weight_kg: float | None, height_cm: float | None) -> float | None:
    """Body-mass index to one decimal, or ``None`` without both weight and height."""
    if weight_kg is None or height_cm is None:
        return None
    return round(weight_kg / (height_cm / 100) ** 2, 1)


def _in_range(field: str, value: float, low: float, high: float, unit: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationFailed(f"{LABELS[field]} must be a number", field=field)
    if field in _WHOLE and value != int(value):
        raise ValidationFailed(f"{LABELS[field]} is a whole number", field=field)
    if not low <= value <= high:
        hint = " (enter °C, not °F)" if field == "temperature_c" and 86 <= value <= 113 else ""
        raise ValidationFailed(
            f"{LABELS[field]} {value:g} {unit} is outside {low:g}–{high:g} {unit}{hint}",
            field=field,
        )
    return int(value) if field in _WHOLE else float(value)


def _check_pressure(systolic: int | None, diastolic: int | None) -> None:
    if (systolic is None) != (diastolic is None):
        raise ValidationFailed(
            "Enter blood pressure as both numbers (e.g. 120/80)", field="bp_diastolic"
        )
    if systolic is not None and diastolic is not None and systolic <= diastolic:
        raise ValidationFailed(
            f"Systolic {systolic} must be above diastolic {diastolic}", field="bp_systolic"
        )
