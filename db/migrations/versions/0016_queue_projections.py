"""Queue projections: per department, how far the stored ETAs are projected.

``queue_projections`` (tenant-owned): ``dirty_seq`` is bumped after each committed queue change,
``projected_seq`` records the value a projection read before it ran; a projection job re-runs
while ``dirty_seq > projected_seq``, so the last projection reflects the last committed change
(``core.queue.projection``). PostgreSQL: the row-level security policy of every tenant table.

Revision ID: 0016
Revises: 0013 (temporarily; 0014 and 0015 are being written)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.base

revision = "0016"
down_revision = "0013"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_SETTING = "current_setting('app.tenant_id', true)"
_POLICY = f"({_SETTING} = '*' OR tenant_id = NULLIF(NULLIF({_SETTING}, ''), '*')::bigint)"
_T = "queue_projections"


def upgrade() -> None:
    op.create_table(
        _T,
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("tenant_id", _ID, nullable=False),
        sa.Column("department_id", _ID, nullable=False),
        sa.Column("dirty_seq", _ID, nullable=False),
        sa.Column("projected_seq", _ID, nullable=False),
        sa.Column("projected_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{_T}")),
        sa.UniqueConstraint("tenant_id", "id", name=op.f(f"uq_{_T}_tenant_id_id")),
        sa.UniqueConstraint(
            "tenant_id", "department_id", name=op.f(f"uq_{_T}_tenant_id_department_id")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "department_id"],
            ["departments.tenant_id", "departments.id"],
            name=op.f(f"fk_{_T}_department_id_departments"),
        ),
    )
    op.create_index(op.f(f"ix_{_T}_tenant_id"), _T, ["tenant_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE {_T} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {_T} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON {_T} USING {_POLICY} WITH CHECK {_POLICY}")


def downgrade() -> None:
    op.drop_table(_T)
