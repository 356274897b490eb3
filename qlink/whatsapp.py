"""``qlink whatsapp unblock --clinic SLUG``: let a clinic send again after Meta's policy block."""

from __future__ import annotations

import argparse

from qlink.settings import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["unblock"], help="unblock: clear the policy block")
    parser.add_argument("--clinic", required=True, metavar="SLUG", help="the clinic's slug")


def run(settings: Settings, args: argparse.Namespace) -> int:
    from core.messaging.blocking import unblock_whatsapp
    from db.engine import ALL_TENANTS
    from qlink.keys import open_database

    database = open_database(settings)
    try:
        with database.transaction(ALL_TENANTS) as session:
            was_blocked = unblock_whatsapp(session, slug=args.clinic)
    finally:
        database.dispose()
    if was_blocked:
        print(f"clinic {args.clinic}: WhatsApp sends resumed (audited)")
    else:
        print(f"clinic {args.clinic}: was not blocked; nothing to do")
    return 0
