"""The ``qlink`` console script: parse arguments, build settings once, run one command.

Errors a user can act on (bad configuration, an unreachable database, a rule violation) end as
one line on stderr and exit status 1, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version

from alembic.util.exc import CommandError
from sqlalchemy.exc import SQLAlchemyError

from core.errors import DomainError
from db.migrate import upgrade
from qlink import launch, shard
from qlink.keys import check_data_key, open_database
from qlink.settings import ConfigError, Settings

PLACEHOLDERS: dict[str, tuple[str, str]] = {}
# Commands living in their own module: ``configure(parser)`` adds options, ``run(settings, args)``
# does the work. Heavy imports stay inside ``run`` so ``qlink --help`` stays fast.
MODULE_COMMANDS = {
    "serve": ("qlink.serve", "run the webhook and TV signage service (uvicorn)"),
    "simulate": ("qlink.simulate", "simulate a whole clinic day on the configured database"),
    "worker": ("qlink.worker", "send WhatsApp messages from the outbox (Dramatiq on Redis)"),
    "whatsapp": ("qlink.whatsapp", "WhatsApp administration: unblock --clinic SLUG"),
    "api-key": ("qlink.api_keys", "partner API keys of a clinic: create, list, revoke, origins"),
}
KEY_COMMANDS = {
    "rotate": ("qlink.rotate", "re-seal stored phone numbers under a new data key (resumable)"),
}
# Commands that work on the data home print it first, so a wrong folder shows at once.
SHOWS_HOME = frozenset({"demo", "ui", "serve", "db", "seed"})
BENCHMARKS = {
    "queue": ("qlink.bench.queue", "token issue and call-next throughput and latency"),
    "signage": ("qlink.bench.signage", "commit-to-screen latency of the SSE signage stream"),
    "search": ("qlink.bench.search", "patient search latency at 50,000 patients beside a baseline"),
    "desk": ("qlink.bench.desk", "the desk's snapshot and search times; database load of 50 desks"),
    "clinical": (
        "qlink.bench.clinical",
        "patient at a glance (40 past visits) and finish-visit times beside baselines",
    ),
    "webhooks": (
        "qlink.bench.webhooks",
        "signed WhatsApp deliveries/s beside a bare HMAC endpoint",
    ),
    "whatsapp-burst": (
        "qlink.bench.whatsapp_burst",
        "200 new patients converse at once: replies, latency, no lost/doubled messages",
    ),
    "bi": ("qlink.bench.bi", "each BI KPI's p50/p95 on a year of history beside a COUNT(*)"),
    "booking": (
        "qlink.bench.booking",
        "booking page: availability req/s beside bare Starlette, booking p95, 100-for-10 race",
    ),
}
Handler = Callable[[Settings, argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``qlink`` command line; return the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse already explained
        return exc.code if isinstance(exc.code, int) else 2
    if getattr(args, "placeholder", None):
        return _placeholder(args.placeholder)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        getattr(args, "help_parser", parser).print_help()
        return 2
    try:
        settings = Settings.from_env()
        if args.command in SHOWS_HOME:
            print(f"data home: {settings.home}", file=sys.stderr)
        return handler(settings, args)
    except (DomainError, ConfigError, CommandError) as exc:
        return _fail(str(exc))
    except SQLAlchemyError as exc:
        return _fail(f"database error: {_first_line(exc)}")
    except OSError as exc:  # e.g. a var/ directory that cannot be written
        return _fail(str(exc))
    except KeyboardInterrupt:  # during migration or seeding: the transaction rolled back
        print("\nqlink: interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qlink", description="QLink patient-flow system.")
    parser.add_argument("--version", action="version", version=f"qlink {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="migrate, seed the demo clinics and start the reception UI")
    launch.configure_demo(demo)
    demo.set_defaults(handler=launch.demo)
    ui = sub.add_parser("ui", help="start the Streamlit reception app")
    launch.configure_ui(ui)
    ui.set_defaults(handler=launch.ui)
    _group(
        sub,
        "db",
        "database commands",
        {
            "upgrade": ("migrate the schema to the newest revision", _db_upgrade),
            "shard-plan": ("print the DDL that shards this schema by clinic on Citus", shard.run),
        },
    )
    seed = _group(
        sub,
        "seed",
        "demo data",
        {"demo": ("create the demo clinics (safe to re-run)", launch.seed)},
    )
    history = "a year of a 20-doctor network's history (clinic citycare) for BI"
    _module_command(
        seed.add_parser("history", help=history, description=history), "qlink.seed.network"
    )
    for name, (module, does) in MODULE_COMMANDS.items():
        _module_command(sub.add_parser(name, help=does, description=does), module)
    keys = sub.add_parser("keys", help="the data key that seals phone numbers")
    keys.set_defaults(help_parser=keys)
    inner_keys = keys.add_subparsers(dest="keys_command", metavar="COMMAND")
    for name, (module, does) in KEY_COMMANDS.items():
        _module_command(inner_keys.add_parser(name, help=does, description=does), module)
    bench = sub.add_parser("bench", help="run a benchmark and print its numbers")
    bench.set_defaults(help_parser=bench)
    inner = bench.add_subparsers(dest="bench_command", metavar="BENCHMARK")
    for name, (module, does) in BENCHMARKS.items():
        _module_command(inner.add_parser(name, help=does, description=does), module)
    for name, (does, _) in PLACEHOLDERS.items():
        sub.add_parser(name, help=f"{does} (not in this version)").set_defaults(placeholder=name)
    return parser


def _module_command(parser: argparse.ArgumentParser, module_name: str) -> None:
    """Let ``module_name`` add its options; its ``run`` becomes the handler."""
    module = importlib.import_module(module_name)
    module.configure(parser)
    parser.set_defaults(handler=module.run)


def _group(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    help_text: str,
    commands: dict[str, tuple[str, Handler]],
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    group = sub.add_parser(name, help=help_text)
    group.set_defaults(help_parser=group)
    inner = group.add_subparsers(dest=f"{name}_command", metavar="COMMAND")
    for command, (does, handler) in commands.items():
        inner.add_parser(command, help=does).set_defaults(handler=handler)
    return inner


def _version() -> str:
    try:
        return version("qlink")
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "unknown"


def _placeholder(name: str) -> int:
    _, issue = PLACEHOLDERS[name]
    print(
        f"qlink {name} arrives with the {issue} issue; not available in this version",
        file=sys.stderr,
    )
    return 2


def _fail(message: str) -> int:
    print(f"qlink: error: {message}", file=sys.stderr)
    return 1


def _first_line(exc: SQLAlchemyError) -> str:
    cause = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    return lines[0] if lines else type(cause).__name__


def _db_upgrade(settings: Settings, _args: argparse.Namespace) -> int:
    print(f"database: {launch.safe_url(settings.database_url)}")
    database = open_database(settings)
    try:
        before, after = upgrade(database.engine)
        check_data_key(database, settings)
    finally:
        database.dispose()
    if before == after:
        print(f"schema already at revision {after}; nothing to do")
    else:
        print(f"schema migrated from revision {before or '(empty database)'} to {after}")
    return 0
