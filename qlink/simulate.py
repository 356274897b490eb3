"""`qlink simulate`: a whole clinic day on the configured database, summarised as JSON."""

from __future__ import annotations

import argparse
import json
import sys

from qlink.settings import Settings


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be a positive whole number")
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    """Add this command's options."""
    parser.add_argument("--tokens", type=_positive, default=3000, help="tokens in the day")
    parser.add_argument("--doctors", type=_positive, default=20, help="doctors, all clinics")
    parser.add_argument(
        "--departments", type=_positive, default=10, help="departments, all clinics"
    )
    parser.add_argument("--tenants", type=_positive, default=2, help="clinics side by side")
    parser.add_argument("--seed", type=int, default=7, help="random seed (same seed, same day)")
    parser.add_argument(
        "--issuers", type=_positive, default=8, help="threads issuing tokens at the same instant"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Simulate the day; exit 1 if an invariant was broken."""
    from db.engine import Database, make_engine
    from db.migrate import upgrade
    from qlink.keys import check_data_key
    from qlink.simulation import Scenario, simulate

    if args.departments > args.doctors:
        print(
            "qlink: error: every department needs a doctor (--doctors >= --departments)",
            file=sys.stderr,
        )
        return 1
    scenario = Scenario(
        tokens=args.tokens,
        doctors=args.doctors,
        departments=args.departments,
        tenants=args.tenants,
        seed=args.seed,
        issuers=args.issuers,
    )
    database = Database(make_engine(settings.database_url, pool_size=args.issuers + 8))
    try:
        upgrade(database.engine)
        check_data_key(database, settings)  # a foreign key would seal phones nobody can read
        print(f"simulating {args.tokens} tokens on {database.dialect}...", file=sys.stderr)
        from workers.projector import Projector

        projector = Projector(database, background=True).install()
        try:
            summary = simulate(database, scenario)
        finally:
            projector.uninstall()
        lat = sorted(projector.stats.latencies) or [0.0]
        summary["eta_projections"] = projector.stats.projected
        summary["eta_projection_requests"] = projector.stats.requested
        summary["eta_projection_p95_ms"] = round(lat[int(0.95 * (len(lat) - 1))] * 1000, 1)
    finally:
        database.dispose()
    broken = [k for k in INVARIANTS if summary.get(k)]
    if args.json:
        print(json.dumps(summary))
    else:
        print(render(summary))
    return 1 if broken else 0


INVARIANTS = ("duplicates", "gaps", "lost", "double_called", "cross_tenant_leaks")


def render(summary: dict[str, object]) -> str:
    """A readable report of the summary."""
    lines = [f"{key:32} {value}" for key, value in summary.items()]
    return "\n".join(lines)
