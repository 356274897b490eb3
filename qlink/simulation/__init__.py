"""A whole clinic day, compressed in time, driving the real core services on a real database.

Two clinics run side by side on the configured database. Simulated time advances in ticks;
inside a tick, arrivals are issued by several threads at once (reception, WhatsApp and kiosk
at the same instant) and every doctor acts in parallel (call next, start, finish, send to the
lab, mark missed), each through ``core`` in its own transaction, with a frozen clock set to the
tick. Patients arrive by hour with a mix of kinds; consultations take a random time around each
doctor's hidden pace; some called patients do not come (some of them are recalled later), some
go to the lab and come back, every doctor pauses once and one announces a late start.

Afterwards the database itself is checked: duplicated or skipped codes, tokens acknowledged but
lost, tokens called twice, rows that crossed tenants, the longest wait per kind, and how far the
EWT given at issue was from the real wait, next to the naive "people ahead × fixed average".

The package is split by part of the day: ``scenario`` (constants, the ``Scenario`` and clinic
set-up), ``arrivals`` (the day's arrivals and bookings), ``doctor`` (each doctor's plan and
state machine), ``record`` (what the threads observe and how a command is run), ``day`` (the
tick loop, issuing, comebacks, expiry and the summary) and ``checks`` (reading the day back).
"""

from qlink.simulation.day import simulate
from qlink.simulation.scenario import Scenario

__all__ = ["Scenario", "simulate"]
