"""The ``qlink`` console script: parse arguments, build settings once, run one command.

Errors a user can act on (bad configuration, an unreachable database, a rule violation) end as
one line on stderr and exit status 1, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from alembic.util.exc import CommandError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from core.errors import DomainError
from db.engine import Database
from db.migrate import upgrade
from qlink import shard
from qlink.keys import check_data_key, open_database
from qlink.seed import DemoSummary, seed_demo
from qlink.settings import ConfigError, Settings

ROOT = Path(__file__).resolve().parent.parent
RECEPTION_APP = ROOT / "apps" / "reception" / "app.py"
UI_PORT = 8501
SERVICE_PORT = 8000
PLACEHOLDERS = {
    "worker": ("run the Dramatiq message workers", "messaging workers"),
}
# Commands living in their own module: ``configure(parser)`` adds options, ``run(settings, args)``
# does the work. Heavy imports stay inside ``run`` so ``qlink --help`` stays fast.
MODULE_COMMANDS = {
    "serve": ("qlink.serve", "run the webhook and TV signage service (uvicorn)"),
    "simulate": ("qlink.simulate", "simulate a whole clinic day on the configured database"),
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
            print(f"data home: {settings.home}")
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
    demo.set_defaults(handler=_demo)
    ui = sub.add_parser("ui", help="start the Streamlit reception app")
    ui.add_argument("--port", type=int, default=UI_PORT)
    ui.set_defaults(handler=_ui)
    _group(
        sub,
        "db",
        "database commands",
        {
            "upgrade": ("migrate the schema to the newest revision", _db_upgrade),
            "shard-plan": ("print the DDL that shards this schema by clinic on Citus", shard.run),
        },
    )
    _group(
        sub, "seed", "demo data", {"demo": ("create the demo clinics (safe to re-run)", _seed_demo)}
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
) -> None:
    group = sub.add_parser(name, help=help_text)
    group.set_defaults(help_parser=group)
    inner = group.add_subparsers(dest=f"{name}_command", metavar="COMMAND")
    for command, (does, handler) in commands.items():
        inner.add_parser(command, help=does).set_defaults(handler=handler)


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
    print(f"database: {_safe_url(settings.database_url)}")
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


def _seed_demo(settings: Settings, _args: argparse.Namespace) -> int:
    database = _migrated(settings)
    try:
        started = time.monotonic()
        summary = seed_demo(database, settings)
    finally:
        database.dispose()
    _print_summary(summary, time.monotonic() - started)
    return 0


def _demo(settings: Settings, args: argparse.Namespace) -> int:
    _seed_demo(settings, args)
    print(f"\nReception app: http://localhost:{UI_PORT}")
    print(f"TV signage:    http://localhost:{SERVICE_PORT}/signage/main")
    if not RECEPTION_APP.exists():
        _explain_missing_ui(settings)
        print("Start the TV signage service with `qlink serve`.")
        return 0
    service = _start_service(settings, SERVICE_PORT)
    try:
        return _run_streamlit(settings, UI_PORT)
    finally:
        _stop_service(service)


def _start_service(settings: Settings, port: int) -> subprocess.Popen[bytes]:
    """Run ``qlink serve`` (TV signage, token pages) beside the reception app."""
    command = [sys.executable, "-m", "qlink", "serve", "--port", str(port)]
    return subprocess.Popen(command, env=_child_env(settings), cwd=ROOT)


def _stop_service(child: subprocess.Popen[bytes]) -> None:
    """SIGTERM the service (it closes open TV streams itself) and wait for it."""
    child.terminate()
    try:
        child.wait(timeout=10)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait(timeout=10)


def _child_env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "QLINK_DATABASE_URL": settings.database_url,
        "QLINK_HOME": str(settings.home),
    }


def _ui(settings: Settings, args: argparse.Namespace) -> int:
    if not RECEPTION_APP.exists():
        return _fail(f"the reception app ({_relative(RECEPTION_APP)}) is not in this version yet")
    return _run_streamlit(settings, args.port)


def _migrated(settings: Settings) -> Database:
    print(f"database: {_safe_url(settings.database_url)}")
    return open_database(settings, migrate=True)


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _print_summary(summary: DemoSummary, seconds: float) -> None:
    state = f"seeded in {seconds:.1f} s" if summary.created else "already present; nothing changed"
    print(f"demo data {state}\n\nDemo clinics")
    for c in summary.clinics:
        print(
            f"  {c.slug:<9} {c.name} (branch {c.branch}, WhatsApp phone_number_id "
            f"{c.phone_number_id})"
        )
        print(
            f"  {'':<9} {c.patients:,} patients, {c.appointments:,} appointments, "
            f"{c.tokens:,} tokens, {c.bills:,} bills"
        )
    print("\nDemo logins (fictional data, demo-only passwords)")
    print(f"  {'clinic':<9} {'username':<20} {'password':<21} role")
    for login in summary.logins:
        print(f"  {login.clinic or '-':<9} {login.username:<20} {login.password:<21} {login.role}")


def _explain_missing_ui(settings: Settings) -> None:
    apps = sorted(_relative(p) for p in (ROOT / "apps").glob("*/app.py"))
    print(
        f"\nThe reception app ({_relative(RECEPTION_APP)}) is not in this version yet, so no UI "
        "was started."
    )
    print(f"Streamlit apps present: {', '.join(apps) or 'none yet'}.")
    print(
        f"The demo database is ready at {_safe_url(settings.database_url)}; "
        "`qlink db upgrade` and `qlink seed demo` work today."
    )


def _run_streamlit(settings: Settings, port: int) -> int:
    """Run ``streamlit run`` in the foreground until it exits or Ctrl-C stops it."""
    env = {
        **os.environ,
        "QLINK_DATABASE_URL": settings.database_url,
        "QLINK_HOME": str(settings.home),
    }
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(RECEPTION_APP),
        "--server.port",
        str(port),
        "--server.headless",
        "true",
    ]
    # From the checkout, so Streamlit finds the project's .streamlit/config.toml.
    child = subprocess.Popen(command, env=env, cwd=ROOT)
    try:
        return child.wait()
    except KeyboardInterrupt:  # the terminal sent SIGINT to streamlit too; let it finish
        _stop(child)
        print("\nqlink: stopped")
        return 0


def _stop(child: subprocess.Popen[bytes]) -> None:
    try:
        child.wait(timeout=10)
    except subprocess.TimeoutExpired:
        child.terminate()
        child.wait(timeout=10)


def _relative(path: Path) -> str:
    return str(path.relative_to(ROOT))
