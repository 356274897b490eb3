"""``qlink api-key``: partner API keys of one clinic (create, list, revoke) and its CORS origins.

qlink api-key create --clinic SLUG --name "City website"   # prints the key once
qlink api-key list --clinic SLUG
qlink api-key revoke --clinic SLUG --id 3
qlink api-key origin-add --clinic SLUG --origin https://www.example.com
qlink api-key origin-remove --clinic SLUG --origin https://www.example.com
"""

from __future__ import annotations

import argparse
from typing import Any

from qlink.settings import Settings

ACTIONS = ("create", "list", "revoke", "origin-add", "origin-remove")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=ACTIONS)
    parser.add_argument("--clinic", required=True, metavar="SLUG", help="the clinic's slug")
    parser.add_argument("--name", help="create: who the key is for")
    parser.add_argument("--id", type=int, dest="client_id", help="revoke: the client's id")
    parser.add_argument("--origin", help="origin-add/-remove: https://host[:port]")


def run(settings: Settings, args: argparse.Namespace) -> int:
    from core.context import Actor
    from core.errors import NotFound, ValidationFailed
    from db.engine import ALL_TENANTS
    from db.models import Tenant
    from qlink.keys import open_database

    database = open_database(settings)
    try:
        with database.transaction(ALL_TENANTS, readonly=True) as session:
            tenant_id = session.query(Tenant.id).filter(Tenant.slug == args.clinic).scalar()
        if tenant_id is None:
            raise NotFound(f"No clinic with slug {args.clinic!r}")
        actor = Actor(None, tenant_id, "system", "cli: qlink api-key")
        with database.transaction(tenant_id) as session:
            lines = _ACTIONS[args.action](session, actor, args)
    except KeyError as exc:
        raise ValidationFailed(f"{args.action} needs --{exc.args[0]}") from exc
    finally:
        database.dispose()
    print("\n".join(lines))
    return 0


def _need(args: argparse.Namespace, name: str) -> Any:
    value = getattr(args, name)
    if value is None:
        raise KeyError(name.replace("client_id", "id"))
    return value


def _create(session: Any, actor: Any, args: argparse.Namespace) -> list[str]:
    from core.partners.keys import create_api_client

    new = create_api_client(session, actor, name=_need(args, "name"))
    return [f"client {new.client_id} ({new.name})", f"key: {new.key}", "Shown once: store it now."]


def _list(session: Any, actor: Any, _args: argparse.Namespace) -> list[str]:
    from core.partners.keys import list_api_clients, list_origins

    clients = list_api_clients(session, actor)
    lines = [
        f"{c.client_id}\t{c.name}\t{c.created_at:%Y-%m-%d}\t"
        + (f"revoked {c.revoked_at:%Y-%m-%d}" if c.revoked_at else "active")
        for c in clients
    ] or ["no API keys"]
    return [*lines, "origins: " + (", ".join(list_origins(session, actor)) or "none")]


def _revoke(session: Any, actor: Any, args: argparse.Namespace) -> list[str]:
    from core.partners.keys import revoke_api_client

    info = revoke_api_client(session, actor, client_id=_need(args, "client_id"))
    return [f"client {info.client_id} ({info.name}) revoked"]


def _origin_add(session: Any, actor: Any, args: argparse.Namespace) -> list[str]:
    from core.partners.keys import add_origin

    return [f"allowed {add_origin(session, actor, origin=_need(args, 'origin'))}"]


def _origin_remove(session: Any, actor: Any, args: argparse.Namespace) -> list[str]:
    from core.partners.keys import remove_origin

    remove_origin(session, actor, origin=_need(args, "origin"))
    return ["removed"]


_ACTIONS = {
    "create": _create,
    "list": _list,
    "revoke": _revoke,
    "origin-add": _origin_add,
    "origin-remove": _origin_remove,
}
