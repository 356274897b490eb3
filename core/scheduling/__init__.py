"""Doctors, schedules, slots and booking."""
