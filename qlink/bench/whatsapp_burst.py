"""``qlink bench whatsapp-burst``: many new patients message the clinic at the same moment.

``--patients`` (200) simulated patients each walk the whole conversation at once: "hi", name,
age, book a slot by tapping list rows (a lost race takes an offered slot), then
"CHECKIN main". Every message is a signed Meta-shaped delivery posted over loopback to a real
uvicorn service (``create_app``); with ``QLINK_REDIS_URL`` the service only stores and
enqueues, and ``--processes`` real ``qlink worker`` processes converse and send; without it
the service's own threads and relay do (the embedded mode). Replies go to a fake Graph server
in this process that records each send and the moment it arrived. A patient sends their next
message once every reply to the previous one arrived.

Measured: the time until the last reply, the inbound → first-reply latency (p50/p95/p99), and
the checks: every inbound answered, each outbox row sent exactly once (requests counted at the
fake server per row: zero lost, zero doubled), one token and one booking per patient, no slot
booked twice. Baseline in the same run: the fake Graph server's own round trip, and the
webhook-ack-only latency (signed posts the service stores and acknowledges) from the same
client. Setup (clinics ``bench-wa-<hex>``, one per 40 patients: Meta-shaped numbers are rate
limited per clinic number, 600/minute) is not measured.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from sqlalchemy import func, select

from core.clock import system_clock
from core.messaging.messages import MARK_READ
from db.engine import ALL_TENANTS, Database, make_engine
from db.migrate import upgrade
from db.models import Appointment, OutboxMessage, Patient, QueueToken, WhatsAppMessage
from qlink import builder
from qlink.asgi import create_app
from qlink.bench.common import positive_int, progress, run_async, safe_url, summarise, table
from qlink.bench.webhooks import _serve
from qlink.settings import Settings

PER_CLINIC = 40  # patients per clinic number: ~11 messages each stays under 600/minute
EVERY_DAY = (0, 1, 2, 3, 4, 5, 6)
STEP_TIMEOUT = 120.0  # seconds a patient waits for the replies to one message
DRAIN_TIMEOUT = 120.0
POLL = 0.05  # seconds between the outbox reads that tell a patient their replies all arrived
BOOK_TRIES = 20
POST_TRIES = 3
WARM_UP = 8  # "hi" messages answered before the burst starts


def configure(parser: argparse.ArgumentParser) -> None:
    """Add this command's options."""
    parser.add_argument("--patients", type=positive_int, default=200, help="patients (200)")
    parser.add_argument(
        "--processes", type=positive_int, default=2, help="qlink worker processes (2)"
    )
    parser.add_argument("--threads", type=positive_int, default=4, help="threads each (4)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Run the burst on the configured database (and Redis, when set); print the report."""
    database = Database(make_engine(settings.database_url, pool_size=32))
    fake = FakeGraph().start()
    worker: subprocess.Popen[bytes] | None = None
    try:
        progress(f"database: {safe_url(settings.database_url)}")
        upgrade(database.engine)
        settings = dataclasses.replace(
            settings, whatsapp_graph_url=fake.url, whatsapp_access_token="bench-token"
        )
        clinics = _clinics(database, args.patients)
        if settings.redis_url:
            worker = _start_worker(settings, args.processes, args.threads)
        report = run_async(lambda: _measure(settings, database, fake, clinics, args.patients))
        report["mode"] = (
            f"Redis + {args.processes}×{args.threads} qlink worker"
            if settings.redis_url
            else "embedded (no Redis): service threads + in-process relay"
        )
    finally:
        if worker is not None:
            _stop_worker(worker)
        fake.stop()
        database.dispose()
    print(json.dumps(report) if args.json else render(report))
    return 0 if report["ok"] else 1


# ------------------------------------------------------------------ fake Graph server


class _Listener(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # the listen backlog: a burst must not wait for SYN retries


class FakeGraph:
    """A loopback Graph API: records each send (callback data, recipient, arrival time)."""

    def __init__(self) -> None:
        self.sends: list[tuple[float, str, str]] = []  # (perf_counter, callback, to)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/v24.0"

    def start(self) -> FakeGraph:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                arrived = time.perf_counter()
                # a message names its outbox row; a mark-as-read its inbound wamid
                key = str(body.get("biz_opaque_callback_data", ""))
                if body.get("status") == "read":
                    key = f"read:{body.get('message_id', '')}"
                with fake._lock:
                    fake.sends.append((arrived, key, body.get("to", "")))
                    wamid = f"wamid.BURST{len(fake.sends):08d}"
                raw = json.dumps(
                    {
                        "messaging_product": "whatsapp",
                        "contacts": [{"input": body.get("to"), "wa_id": body.get("to")}],
                        "messages": [{"id": wamid, "message_status": "accepted"}],
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *_args: object) -> None:
                pass

        self._server = _Listener(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def forget(self) -> None:
        with self._lock:
            self.sends.clear()

    def by_callback(self) -> dict[str, list[float]]:
        with self._lock:
            found: dict[str, list[float]] = {}
            for at, callback, _ in self.sends:
                found.setdefault(callback, []).append(at)
        return found


# ------------------------------------------------------------------ setup


@dataclasses.dataclass(frozen=True)
class BenchClinic:
    tenant_id: int
    number: str
    branch_slug: str


def _clinics(database: Database, patients: int) -> list[BenchClinic]:
    count = 1 + -(-patients // PER_CLINIC)  # the first one for the warm-up
    built: list[BenchClinic] = []
    with database.transaction(ALL_TENANTS) as session:
        for _ in range(count):
            number = f"1998{uuid.uuid4().int % 10**8:08d}"  # fictional
            slug = f"bench-wa-{uuid.uuid4().hex[:8]}"
            clinic = builder.open_clinic(
                session, builder.ClinicSpec(slug=slug, name="Bench burst", phone_number_id=number)
            )
            department = builder.add_department(
                session,
                clinic.system,
                branch_id=clinic.branch.id,
                spec=builder.DepartmentSpec("GEN", "General Medicine"),
            )
            for name in ("Dr. Asha Rao", "Dr. Vikram Sen"):
                spec = builder.DoctorSpec(
                    name,
                    room=name[-3:],
                    slot_minutes=10,
                    hours=(builder.Hours(EVERY_DAY, slot_minutes=10),),
                )
                builder.add_doctor(session, clinic.system, department=department, spec=spec)
            built.append(BenchClinic(clinic.tenant.id, number, clinic.branch.slug))
    return built


def _start_worker(settings: Settings, processes: int, threads: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "WHATSAPP_GRAPH_URL": str(settings.whatsapp_graph_url),
        "WHATSAPP_ACCESS_TOKEN": str(settings.whatsapp_access_token),
    }
    command = [sys.executable, "-m", "qlink", "worker"]
    command += ["--processes", str(processes), "--threads", str(threads)]
    progress(f"starting {processes} qlink worker processes ({threads} threads each)")
    return subprocess.Popen(command, env=env, start_new_session=True, stderr=subprocess.DEVNULL)


def _stop_worker(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGTERM)
    try:
        worker.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)


# ------------------------------------------------------------------ the burst


class Replies:
    """Tells each patient when every reply to their message was sent (one outbox reader)."""

    def __init__(self, database: Database, tenant_ids: list[int]) -> None:
        self._db = database
        self._tenants = tenant_ids
        self._waiting: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Future[list[int]]]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)

    def expect(self, wamid: str) -> asyncio.Future[list[int]]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[int]] = loop.create_future()
        with self._lock:
            self._waiting[wamid] = (loop, future)
        return future

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _read(self) -> None:
        while not self._stop.wait(POLL):
            with self._lock:
                if not self._waiting:
                    continue
            with self._db.transaction(ALL_TENANTS, readonly=True) as session:
                rows = session.execute(
                    select(OutboxMessage.id, OutboxMessage.dedupe_key, OutboxMessage.status).where(
                        OutboxMessage.tenant_id.in_(self._tenants),
                        OutboxMessage.dedupe_key.like("conv:%"),
                    )
                ).all()
            by_wamid: dict[str, list[tuple[int, str]]] = {}
            for row_id, key, status in rows:
                by_wamid.setdefault(str(key).split(":")[1], []).append((row_id, status))
            with self._lock:
                for wamid, found in by_wamid.items():
                    waiting = self._waiting.get(wamid)
                    if waiting and all(
                        status in ("sent", "failed", "skipped") for _, status in found
                    ):
                        del self._waiting[wamid]
                        loop, future = waiting
                        ids = sorted(i for i, _ in found)
                        loop.call_soon_threadsafe(_resolve, future, ids)


def _resolve(future: asyncio.Future[list[int]], ids: list[int]) -> None:
    if not future.done():
        future.set_result(ids)


@dataclasses.dataclass
class Burst:
    client: httpx.AsyncClient
    secret: bytes
    replies: Replies
    fake: FakeGraph
    database: Database
    latencies: list[float] = dataclasses.field(default_factory=list)
    inbound: dict[str, list[int]] = dataclasses.field(default_factory=dict)  # wamid → outbox ids
    unanswered: int = 0
    booked: int = 0
    races_lost: int = 0
    reposted: int = 0

    async def exchange(
        self, clinic: BenchClinic, sender: str, message: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Post one message; return the payloads of its replies once they were all sent."""
        mid = f"wamid.BURST{uuid.uuid4().hex}"
        body = _delivery(clinic.number, sender, mid, message)
        signature = "sha256=" + hmac.new(self.secret, body, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": signature}
        future = self.replies.expect(mid)
        started = time.perf_counter()
        for attempt in range(POST_TRIES):
            try:
                response = await self.client.post(
                    "/webhooks/whatsapp", content=body, headers=headers
                )
                break
            except httpx.TransportError:  # a keep-alive connection the server just closed
                if attempt == POST_TRIES - 1:
                    raise
                self.reposted += 1  # Meta redelivers too: the inbox dedupes by wamid
        response.raise_for_status()
        try:
            ids = await asyncio.wait_for(future, STEP_TIMEOUT)
        except TimeoutError:
            self.unanswered += 1
            raise
        self.inbound[mid] = ids
        arrivals = self.fake.by_callback()
        first = min(t for i in ids for t in arrivals.get(str(i), [float("inf")]))
        self.latencies.append(first - started)
        return await asyncio.to_thread(self._payloads, ids)

    def _payloads(self, ids: list[int]) -> list[dict[str, Any]]:
        with self.database.transaction(ALL_TENANTS, readonly=True) as session:
            rows = session.execute(
                select(OutboxMessage.payload)
                .where(OutboxMessage.id.in_(ids))
                .order_by(OutboxMessage.id)
            ).all()
        return [dict(payload) for (payload,) in rows]


async def _patient(burst: Burst, clinic: BenchClinic, index: int) -> None:
    sender = f"91987650{index % 10_000:04d}"
    name = "Patient " + _letters(index)

    async def say(words: str) -> list[dict[str, Any]]:
        return await burst.exchange(clinic, sender, {"type": "text", "text": {"body": words}})

    async def tap(row_id: str, kind: str = "list_reply") -> list[dict[str, Any]]:
        reply = {"type": kind, kind: {"id": row_id, "title": row_id[:24]}}
        return await burst.exchange(clinic, sender, {"type": "interactive", "interactive": reply})

    await say("hi")
    await say(name)
    await say("34")
    departments = await tap("menu:book")
    doctors = await tap(_rows(departments)[0])
    dates = await tap(_rows(doctors)[index % len(_rows(doctors))])
    days = [r for r in _rows(dates) if r.startswith("date:")]  # a "more:" row pages on
    day = days[index // 2 % len(days)]  # spread over the days offered
    slots = [r for r in _rows(await tap(day)) if r.startswith("slot:")]
    await tap(slots[index % len(slots)])
    for attempt in range(BOOK_TRIES):
        answer = await tap("book:yes", "button_reply")
        if any("Booked:" in _text(p) for p in answer):
            burst.booked += 1
            break
        burst.races_lost += 1  # someone took the slot meanwhile: take one of those offered
        offered = [r for r in _rows(answer) if r.startswith("slot:")]
        if not offered:
            break
        await tap(offered[(index + attempt) % len(offered)])
    await say(f"CHECKIN {clinic.branch_slug}")


async def _measure(
    settings: Settings,
    database: Database,
    fake: FakeGraph,
    clinics: list[BenchClinic],
    patients: int,
) -> dict[str, Any]:
    warm_up, clinics = clinics[0], clinics[1:]
    tenant_ids = [c.tenant_id for c in clinics]
    baseline = await _graph_round_trip(fake.url, patients)
    app = create_app(settings, database=database)
    server = await asyncio.to_thread(_serve, app)
    replies = Replies(database, [warm_up.tenant_id, *tenant_ids])
    replies.start()
    try:
        limits = httpx.Limits(max_connections=patients, max_keepalive_connections=patients)
        async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=60) as client:
            ack = await _ack_only(client, settings.whatsapp_app_secret.encode(), patients)
            burst = Burst(client, settings.whatsapp_app_secret.encode(), replies, fake, database)
            progress("warming up (workers booted, conversation loaded) on a clinic of its own")
            await asyncio.gather(
                *(burst.exchange(warm_up, f"91987659{i:04d}", _hi()) for i in range(WARM_UP))
            )
            fake.forget()
            burst.latencies.clear()
            burst.inbound.clear()
            progress(f"{patients} patients message {len(clinics)} clinic numbers at once")
            started = time.perf_counter()
            results = await asyncio.gather(
                *(_patient(burst, clinics[i % len(clinics)], i) for i in range(patients)),
                return_exceptions=True,
            )
            last_reply = time.perf_counter() - started
        failed = [r for r in results if isinstance(r, BaseException)]
        drained = await asyncio.to_thread(_drain, database, tenant_ids)
    finally:
        replies.stop()
        await asyncio.to_thread(server.stop)
    checks = await asyncio.to_thread(_checks, database, fake, tenant_ids, burst)
    summary = summarise(burst.latencies, last_reply).as_dict()
    ok = (
        not failed
        and burst.unanswered == 0
        and checks["lost"] == 0
        and checks["doubled"] == 0
        and checks["duplicate_tokens"] == 0
        and checks["double_booked_slots"] == 0
        and checks["patients_with_one_token"] == patients
        and checks["patients_with_one_booking"] == patients
    )
    return {
        "database": database.dialect,
        "patients": patients,
        "clinics": len(clinics),
        "inbound": len(burst.inbound),
        "last_reply_s": round(last_reply, 3),
        "reply_latency": summary,
        "patients_failed": len(failed),
        "first_failure": repr(failed[0])[:300] if failed else None,
        "unanswered": burst.unanswered,
        "queue_notifications_drained": drained,
        **checks,
        "baseline_graph_round_trip": baseline,
        "baseline_webhook_ack": ack,
        "ok": ok,
    }


async def _graph_round_trip(url: str, count: int) -> dict[str, float | int]:
    """The fake Graph server alone: ``count`` sends at once (not recorded as sends)."""
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=count)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def one(i: int) -> None:
            started = time.perf_counter()
            response = await client.post(f"{url}/baseline/messages", json={"to": f"base{i}"})
            latencies.append(time.perf_counter() - started)
            response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(count)))
        return summarise(latencies, time.perf_counter() - started).as_dict()


async def _ack_only(client: httpx.AsyncClient, secret: bytes, count: int) -> dict[str, float | int]:
    """Signed deliveries the service stores and acknowledges (statuses for unknown wamids)."""
    latencies: list[float] = []

    async def one(i: int) -> None:
        status = {
            "id": f"wamid.BASE{uuid.uuid4().hex}",
            "status": "read",
            "timestamp": "1",
            "recipient_id": "1",
        }
        value = {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550000000", "phone_number_id": "0"},
            "statuses": [status],
        }
        body = json.dumps(_envelope(value)).encode()
        signature = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": signature}
        started = time.perf_counter()
        response = await client.post("/webhooks/whatsapp", content=body, headers=headers)
        latencies.append(time.perf_counter() - started)
        response.raise_for_status()

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(count)))
    return summarise(latencies, time.perf_counter() - started).as_dict()


def _drain(database: Database, tenant_ids: list[int]) -> float | None:
    """Seconds until no outbox row of the bench clinics is still due (queue notifications)."""
    started = time.perf_counter()
    while time.perf_counter() - started < DRAIN_TIMEOUT:
        with database.transaction(ALL_TENANTS, readonly=True) as session:
            open_rows = session.scalar(
                select(func.count()).where(
                    OutboxMessage.tenant_id.in_(tenant_ids),
                    OutboxMessage.status.in_(("pending", "sending")),
                    OutboxMessage.available_at <= system_clock(),
                )
            )
        if not open_rows:
            return round(time.perf_counter() - started, 3)
        time.sleep(POLL)  # a poll of the database, with a deadline
    return None


def _checks(
    database: Database, fake: FakeGraph, tenant_ids: list[int], burst: Burst
) -> dict[str, Any]:
    sends = fake.by_callback()
    with database.transaction(ALL_TENANTS, readonly=True) as session:
        rows = session.execute(
            select(
                OutboxMessage.id, OutboxMessage.kind, OutboxMessage.status, OutboxMessage.dedupe_key
            ).where(OutboxMessage.tenant_id.in_(tenant_ids))
        ).all()
        tokens = session.execute(
            select(QueueToken.patient_id, QueueToken.tenant_id, QueueToken.code).where(
                QueueToken.tenant_id.in_(tenant_ids)
            )
        ).all()
        bookings = session.execute(
            select(Appointment.patient_id, Appointment.doctor_id, Appointment.slot_start).where(
                Appointment.tenant_id.in_(tenant_ids), Appointment.status != "cancelled"
            )
        ).all()
        throttled = session.scalar(
            select(func.count())
            .select_from(WhatsAppMessage)
            .where(
                WhatsAppMessage.tenant_id.in_(tenant_ids),
                WhatsAppMessage.direction == "in",
                WhatsAppMessage.status == "throttled",
            )
        )
        patients = session.scalar(
            select(func.count()).select_from(Patient).where(Patient.tenant_id.in_(tenant_ids))
        )
    sent = [r for r in rows if r.status == "sent"]
    per_kind = Counter(r.kind for r in sent)

    def key(row: Any) -> str:  # how the fake Graph recorded the row's request
        return str(row.dedupe_key) if row.kind == MARK_READ else str(row.id)

    lost = sum(1 for r in sent if key(r) not in sends)
    doubled = sum(1 for r in rows if len(sends.get(key(r), [])) > 1)
    known = {key(r) for r in rows}
    strays = sum(len(v) for k, v in sends.items() if k and k not in known)
    token_codes = Counter((t.tenant_id, t.code) for t in tokens)
    per_patient_tokens = Counter(t.patient_id for t in tokens)
    per_patient_bookings = Counter(b.patient_id for b in bookings)
    slots = Counter((b.doctor_id, b.slot_start) for b in bookings)
    return {
        "patients_registered": patients,
        "outbox_rows": len(rows),
        "sent_by_kind": dict(per_kind),
        "not_sent": dict(Counter(r.status for r in rows if r.status != "sent")),
        "lost": lost,
        "doubled": doubled,
        "stray_sends": strays,
        "patients_with_one_token": sum(1 for n in per_patient_tokens.values() if n == 1),
        "duplicate_tokens": sum(n - 1 for n in token_codes.values() if n > 1)
        + sum(n - 1 for n in per_patient_tokens.values() if n > 1),
        "patients_with_one_booking": sum(1 for n in per_patient_bookings.values() if n == 1),
        "double_booked_slots": sum(1 for n in slots.values() if n > 1),
        "booked_by_conversation": burst.booked,
        "slot_races_lost": burst.races_lost,
        "inbound_throttled": throttled,
        "webhook_posts_repeated": burst.reposted,
    }


def render(report: dict[str, Any]) -> str:
    """Return the report as text."""
    latency = report["reply_latency"]
    rows = [
        (
            "inbound → first reply",
            latency["ops"],
            latency["p50_ms"],
            latency["p95_ms"],
            latency["p99_ms"],
            latency["max_ms"],
        ),
    ]
    for name, key in (
        ("fake Graph round trip", "baseline_graph_round_trip"),
        ("webhook ack only", "baseline_webhook_ack"),
    ):
        s = report[key]
        rows.append((name, s["ops"], s["p50_ms"], s["p95_ms"], s["p99_ms"], s["max_ms"]))
    lines = [
        f"qlink bench whatsapp-burst ({report['database']}, {report['mode']})",
        f"{report['patients']} patients on {report['clinics']} clinic numbers, "
        f"{report['inbound']} inbound messages answered",
        f"time until the last reply: {report['last_reply_s']} s",
        table(("path", "count", "p50 ms", "p95 ms", "p99 ms", "max ms"), rows),
        f"sent by kind: {report['sent_by_kind']}; not sent: {report['not_sent']}",
        f"lost {report['lost']}, doubled {report['doubled']}, stray {report['stray_sends']}; "
        f"duplicate tokens {report['duplicate_tokens']}, "
        f"double-booked slots {report['double_booked_slots']}, "
        f"slot races lost (then an offered slot taken) {report['slot_races_lost']}",
        f"patients with one token {report['patients_with_one_token']}, with one booking "
        f"{report['patients_with_one_booking']} (of {report['patients']}); "
        f"failed patients {report['patients_failed']}, unanswered messages {report['unanswered']} "
        f"(throttled by the per-sender limit: {report['inbound_throttled']}); "
        f"deliveries posted again after a dropped connection {report['webhook_posts_repeated']}",
        "verdict: " + ("OK" if report["ok"] else "FAILED"),
    ]
    if report["first_failure"]:
        lines.append(f"first failure: {report['first_failure']}")
    return "\n".join(lines)


# ------------------------------------------------------------------ Meta-shaped bodies


def _hi() -> dict[str, Any]:
    return {"type": "text", "text": {"body": "hi"}}


def _envelope(value: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
    }


def _delivery(number: str, sender: str, mid: str, message: dict[str, Any]) -> bytes:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550000000", "phone_number_id": number},
        "contacts": [{"profile": {"name": "Bench"}, "wa_id": sender}],
        "messages": [{"from": sender, "id": mid, "timestamp": str(int(time.time())), **message}],
    }
    return json.dumps(_envelope(value)).encode()


def _rows(payloads: list[dict[str, Any]]) -> list[str]:
    for payload in reversed(payloads):
        sections = payload.get("sections") or payload.get("message", {}).get("sections")
        if sections:
            return [row["id"] for section in sections for row in section["rows"]]
    return []


def _text(payload: dict[str, Any]) -> str:
    return json.dumps(payload)


def _letters(index: int) -> str:
    word = ""
    index += 26 * 26  # at least three letters
    while index:
        index, rest = divmod(index, 26)
        word = chr(ord("a") + rest) + word
    return word.title()
