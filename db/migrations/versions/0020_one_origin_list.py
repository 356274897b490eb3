"""One list of a clinic's websites: the booking page's embed origins move into ``api_origins``.

Until now the booking page read the websites allowed to frame it from
``tenants.settings["web_booking"]["origins"]`` while the partner API's CORS read ``api_origins``.
Each origin found in the settings is normalised as ``core.partners.keys.clean_origin`` does
(lower case, no trailing slash), added to ``api_origins`` unless the clinic has it already, and
the settings key is removed. Running it again finds nothing left to move. No schema change.
Downgrade writes each clinic's ``api_origins`` back into the settings key (the rows stay).

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import sqlalchemy as sa
from alembic import op

import db.base

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_KEY = "web_booking"
_ORIGIN = re.compile(r"^https?://[a-z0-9.-]+(:[0-9]{1,5})?$")
_tenants = sa.table(
    "tenants", sa.column("id", sa.BigInteger), sa.column("settings", db.base.JsonDoc)
)
_origins = sa.table(
    "api_origins",
    sa.column("tenant_id", sa.BigInteger),
    sa.column("origin", sa.String),
    sa.column("created_at", db.base.UTCDateTime(timezone=True)),
)


def _see_every_clinic(bind: sa.Connection) -> None:
    if bind.dialect.name == "postgresql":
        bind.exec_driver_sql("SELECT set_config('app.tenant_id', '*', true)")


def _clean(raw: Any) -> str | None:
    value = str(raw or "").strip().rstrip("/").lower()
    return value if _ORIGIN.match(value) else None


def _known(bind: sa.Connection, tenant_id: int) -> set[str]:
    rows = bind.execute(sa.select(_origins.c.origin).where(_origins.c.tenant_id == tenant_id))
    return set(rows.scalars())


def upgrade() -> None:
    bind = op.get_bind()
    _see_every_clinic(bind)
    now = dt.datetime.now(dt.UTC)
    for tenant_id, settings in bind.execute(sa.select(_tenants.c.id, _tenants.c.settings)).all():
        web = dict((settings or {}).get(_KEY) or {})
        if "origins" not in web:
            continue
        known = _known(bind, tenant_id)
        for origin in dict.fromkeys(filter(None, map(_clean, web.pop("origins") or ()))):
            if origin not in known:
                bind.execute(
                    _origins.insert().values(tenant_id=tenant_id, origin=origin, created_at=now)
                )
        bind.execute(
            _tenants.update()
            .where(_tenants.c.id == tenant_id)
            .values(settings={**settings, _KEY: web})
        )


def downgrade() -> None:
    bind = op.get_bind()
    _see_every_clinic(bind)
    for tenant_id, settings in bind.execute(sa.select(_tenants.c.id, _tenants.c.settings)).all():
        origins = sorted(_known(bind, tenant_id))
        if not origins:
            continue
        web = {**((settings or {}).get(_KEY) or {}), "origins": origins}
        bind.execute(
            _tenants.update()
            .where(_tenants.c.id == tenant_id)
            .values(settings={**(settings or {}), _KEY: web})
        )
