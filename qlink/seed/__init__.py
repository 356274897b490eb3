"""Demo data: ``seed_demo`` builds two fictional clinics with staff, patients and history."""

from __future__ import annotations

from qlink.seed.demo import ClinicCounts, DemoSummary, Login, demo_logins, seed_demo

__all__ = ["ClinicCounts", "DemoSummary", "Login", "demo_logins", "seed_demo"]
