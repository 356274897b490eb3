"""``qlink seed demo``, ``qlink demo`` and ``qlink ui``: seed, then start the apps and the service.

The demo is meant to be opened from the clinic's other machines (a TV stick, a second desk), so
it listens on every interface and prints the addresses the clinic network can use. ``qlink
serve`` and ``qlink ui`` keep loopback as their default: production binding is always explicit.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy.engine import make_url

from db.engine import Database
from qlink.keys import open_database
from qlink.seed import DemoSummary, seed_demo
from qlink.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
RECEPTION_APP = ROOT / "apps" / "reception" / "main.py"  # the st.App entry (sign-in routes)
DOCTOR_APP = ROOT / "apps" / "doctor" / "main.py"  # the consultation room, beside reception
UI_PORT = 8501
DOCTOR_PORT = UI_PORT + 1
DEMO_DOCTOR = (
    "dr.sharma / demo-doctor-2026"  # a demo doctor login printed with the doctor app's address
)
ADMIN_APP = ROOT / "apps" / "admin_bi" / "main.py"  # the owner's console (KPIs, audit, health)
ADMIN_PORT = UI_PORT + 3
LAB_APP = ROOT / "apps" / "lab" / "main.py"  # the lab technician's worklist and result entry
LAB_PORT = UI_PORT + 2
DEMO_ADMIN = "admin / demo-admin-2026"  # the demo clinic admin printed with the console's address
SERVICE_PORT = 8000
DEMO_HOST = "0.0.0.0"  # every interface: TVs and other desks on the clinic network
LOCAL_HOST = "127.0.0.1"
SIMULATOR_GRAPH = "/simulator/graph/v24.0"  # the fake Graph API inside the demo service
DEMO_ACCESS_TOKEN = "qlink-demo-access-token"  # accepted only by the simulator's fake Graph API


def configure_demo(parser: argparse.ArgumentParser) -> None:
    """Add ``qlink demo``'s options."""
    parser.add_argument(
        "--host",
        default=DEMO_HOST,
        help="interface for the apps and the TV service (default: every interface, so the "
        "clinic network can reach them; 127.0.0.1 keeps them on this computer)",
    )


def configure_ui(parser: argparse.ArgumentParser) -> None:
    """Add ``qlink ui``'s options."""
    parser.add_argument("--port", type=int, default=UI_PORT)
    parser.add_argument("--host", default=LOCAL_HOST, help="interface (default 127.0.0.1)")


def safe_url(url: str) -> str:
    """Return the database URL with any password hidden."""
    return make_url(url).render_as_string(hide_password=True)


def migrated(settings: Settings) -> Database:
    """Open the configured database, migrated to the newest schema."""
    print(f"database: {safe_url(settings.database_url)}")
    return open_database(settings, migrate=True)


def seed(settings: Settings, _args: argparse.Namespace) -> int:
    """Create the demo clinics (safe to re-run) and print them with the demo logins."""
    database = migrated(settings)
    try:
        started = time.monotonic()
        summary = seed_demo(database, settings)
    finally:
        database.dispose()
    print_summary(summary, time.monotonic() - started)
    return 0


def demo(settings: Settings, args: argparse.Namespace) -> int:
    """Seed, then run the TV service beside the reception app until Ctrl-C."""
    seed(settings, args)
    host = getattr(args, "host", DEMO_HOST)
    print_urls(host)
    if not RECEPTION_APP.exists():
        _explain_missing_ui(settings)
        print("Start the TV signage service with `qlink serve`.")
        return 0
    service = _start_service(settings, host, SERVICE_PORT)
    doctor = _start_doctor_app(settings, host, DOCTOR_PORT)
    admin = _start_app(ADMIN_APP, settings, host, ADMIN_PORT)
    lab = _start_app(LAB_APP, settings, host, LAB_PORT)
    try:
        return _run_streamlit(settings, host, UI_PORT)
    finally:
        for child in (doctor, admin, lab):
            if child is not None:
                _stop_service(child)
        _stop_service(service)


def ui(settings: Settings, args: argparse.Namespace) -> int:
    """Run the reception app alone."""
    if not RECEPTION_APP.exists():
        print(
            f"qlink: error: the reception app ({_relative(RECEPTION_APP)}) is not in this "
            "version yet",
            file=sys.stderr,
        )
        return 1
    doctor = _start_doctor_app(settings, args.host, args.port + 1)
    if doctor is not None:
        print(f"Doctor app: http://localhost:{args.port + 1}")
    admin = _start_app(ADMIN_APP, settings, args.host, args.port + 3)
    if admin is not None:
        print(f"Owner's console: http://localhost:{args.port + 3}  (demo admin: {DEMO_ADMIN})")
    lab = _start_app(LAB_APP, settings, args.host, args.port + 2)
    if lab is not None:
        print(f"Lab app: http://localhost:{args.port + 2}")
    try:
        return _run_streamlit(settings, args.host, args.port)
    finally:
        for child in (doctor, admin, lab):
            if child is not None:
                _stop_service(child)


def print_urls(host: str) -> None:
    """Print where each part answers, on this computer and (when listening) on the network."""
    print(
        f"\nReception app: http://localhost:{UI_PORT}  (demo desk: reception / demo-reception-2026)"
    )
    if DOCTOR_APP.exists():
        print(f"Doctor app:    http://localhost:{DOCTOR_PORT}  (demo doctor: {DEMO_DOCTOR})")
    if ADMIN_APP.exists():
        print(f"Owner console: http://localhost:{ADMIN_PORT}  (demo admin: {DEMO_ADMIN})")
    if LAB_APP.exists():
        print(f"Lab app:       http://localhost:{LAB_PORT}  (demo lab: lab / demo-lab-2026)")
    print(f"TV signage:    http://localhost:{SERVICE_PORT}/signage/main")
    print(
        f"WhatsApp:      http://localhost:{SERVICE_PORT}/simulator  (simulator: chat as a patient)"
    )
    print(f"Booking page:  http://localhost:{SERVICE_PORT}/book/sharma  (the clinic's website)")
    print(f"Partner API:   http://localhost:{SERVICE_PORT}/api/v1/openapi.json")
    if host in (LOCAL_HOST, "localhost", "::1"):
        print("Listening on this computer only (--host 127.0.0.1).")
        return
    addresses = lan_addresses() if host == DEMO_HOST else [host]
    for address in addresses:
        print(f"On the clinic network: reception http://{address}:{UI_PORT}")
        print(f"                       doctor      http://{address}:{DOCTOR_PORT}")
        print(f"                       console     http://{address}:{ADMIN_PORT}")
        print(f"                       lab         http://{address}:{LAB_PORT}")
        print(f"                       TV          http://{address}:{SERVICE_PORT}/signage/main")
        print(f"                       WhatsApp    http://{address}:{SERVICE_PORT}/simulator")
    if not addresses:
        print("On the clinic network: use this computer's address with the same ports.")
    print("The demo logins are public: keep the demo on a trusted network.")


def lan_addresses() -> list[str]:
    """This computer's IPv4 addresses other than loopback, from its own host name (no traffic)."""
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        return []
    found = {str(info[4][0]) for info in infos}
    return sorted(a for a in found if not a.startswith("127."))


def print_summary(summary: DemoSummary, seconds: float) -> None:
    """Print the demo clinics, today's live queue and the demo logins."""
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
    if summary.today is not None and summary.today.created:
        print(
            f"\nToday: {summary.today.doctors_on_duty} doctors on duty now, "
            f"{summary.today.tokens} tokens issued so far (played through the queue engine)"
        )
    print("\nDemo logins (fictional data, demo-only passwords)")
    print(f"  {'clinic':<9} {'username':<20} {'password':<21} role")
    for login in summary.logins:
        print(f"  {login.clinic or '-':<9} {login.username:<20} {login.password:<21} {login.role}")


def _start_service(settings: Settings, host: str, port: int) -> subprocess.Popen[bytes]:
    """Run ``qlink serve`` (TV signage, token pages) beside the reception app."""
    command = [sys.executable, "-m", "qlink", "serve", "--host", host, "--port", str(port)]
    return subprocess.Popen(command, env=_service_env(settings, host, port), cwd=ROOT)


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
        # One BLAS thread per process: the apps' threads already share the cores, and OpenBLAS's
        # own pool spinning beside them made the no-show fit ~3x slower on two cores.
        "OPENBLAS_NUM_THREADS": "1",
        **os.environ,
        "QLINK_DATABASE_URL": settings.database_url,
        "QLINK_HOME": str(settings.home),
    }


def _service_env(settings: Settings, host: str, port: int) -> dict[str, str]:
    """The demo service: the WhatsApp simulator on, the relay sending through its fake Graph API.

    Only when WhatsApp is not configured for real: a set access token keeps its own Graph URL
    and the simulator stays off (it refuses to run against Meta).
    """
    env = _child_env(settings)
    if settings.whatsapp_access_token:
        return env
    return {
        **env,
        "QLINK_PUBLIC_URL": env.get("QLINK_PUBLIC_URL") or f"http://localhost:{port}",
        "QLINK_WHATSAPP_SIMULATOR": "1",
        "WHATSAPP_GRAPH_URL": f"http://{_loopback_or(host)}:{port}{SIMULATOR_GRAPH}",
        "WHATSAPP_ACCESS_TOKEN": DEMO_ACCESS_TOKEN,
    }


def _loopback_or(host: str) -> str:
    """Where this computer reaches a service listening on ``host``."""
    if host in (DEMO_HOST, "localhost", "::", ""):
        return LOCAL_HOST
    return f"[{host}]" if ":" in host else host


def _explain_missing_ui(settings: Settings) -> None:
    apps = sorted(_relative(p) for p in (ROOT / "apps").glob("*/app.py"))
    print(
        f"\nThe reception app ({_relative(RECEPTION_APP)}) is not in this version yet, so no UI "
        "was started."
    )
    print(f"Streamlit apps present: {', '.join(apps) or 'none yet'}.")
    print(
        f"The demo database is ready at {safe_url(settings.database_url)}; "
        "`qlink db upgrade` and `qlink seed demo` work today."
    )


def _streamlit_command(app: Path, host: str, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
    ]


def _start_doctor_app(settings: Settings, host: str, port: int) -> subprocess.Popen[bytes] | None:
    """Run the doctor app in the background beside the reception app (None when absent)."""
    if not DOCTOR_APP.exists():
        return None
    command = _streamlit_command(DOCTOR_APP, host, port)
    return subprocess.Popen(command, env=_child_env(settings), cwd=ROOT)


def _start_app(
    app: Path, settings: Settings, host: str, port: int
) -> subprocess.Popen[bytes] | None:
    """Run another Streamlit app in the background beside the reception app (None when absent)."""
    if not app.exists():
        return None
    command = _streamlit_command(app, host, port)
    return subprocess.Popen(command, env=_child_env(settings), cwd=ROOT)


def _run_streamlit(settings: Settings, host: str, port: int) -> int:
    """Run ``streamlit run`` in the foreground until it exits or Ctrl-C stops it."""
    command = _streamlit_command(RECEPTION_APP, host, port)
    # From the checkout, so Streamlit finds the project's .streamlit/config.toml.
    child = subprocess.Popen(command, env=_child_env(settings), cwd=ROOT)
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
