"""Consultations and clinical records: vitals, notes, diagnoses, prescriptions, the glance.

Records are append-only (SQLAlchemy's ``versioned_rows`` habit): every save writes a new row
pointing at the one it supersedes, with who, when and, after the visit, why. Reads return the
latest version with the history beside it, and every read is audited.
"""
