"""A real uvicorn server on a free loopback port, clinics committed for real, an SSE reader.

Streams are read over real sockets (TestClient buffers endless responses). Each server gets a
fresh ``create_app`` on the test database, with a short poll so SQLite screens wake quickly.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import queue
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from core.queue.calling import call_next
from core.queue.issuing import issue_token
from db.engine import Database
from db.models import Doctor, Patient
from qlink.asgi import create_app
from qlink.settings import Settings
from tests.support import Clinic, add_doctor, make_clinic

SECRET = "test-secret-key-for-links"
NAMES = ["Ravi Kumar Sharma", "Meena Iyer", "Arjun Nair", "Fatima Khan", "Sunil Verma", "Priya Das"]


def settings_for(db: Database, tmp: Path) -> Settings:
    url = db.engine.url.render_as_string(hide_password=False)
    env = {"QLINK_DATABASE_URL": url, "QLINK_SECRET_KEY": SECRET, "QLINK_DATA_KEY": "k" * 43}
    return Settings.from_env(env, var_dir=tmp)


@dataclass
class LiveServer:
    """uvicorn serving ``app`` in a background thread."""

    app: Starlette
    port: int
    server: uvicorn.Server | None = None
    thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveServer:
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        assert self.server is not None and self.thread is not None
        loop = _server_loop(self.server)
        if loop is not None:
            loop.call_soon_threadsafe(self.app.state.signage.end_streams)
        self.server.should_exit = True
        self.thread.join(timeout=20)
        assert not self.thread.is_alive(), "server did not shut down"


def _server_loop(server: uvicorn.Server) -> asyncio.AbstractEventLoop | None:
    for srv in getattr(server, "servers", []):
        return srv.get_loop()  # type: ignore[no-any-return]
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live(db: Database, tmp_path: Path) -> Iterator[LiveServer]:
    app = create_app(settings_for(db, tmp_path), database=db, poll_seconds=0.05)
    server = LiveServer(app, free_port()).start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Floor:
    """A clinic committed for real: two doctors in one department, patients to issue to."""

    db: Database
    clinic: Clinic
    doctors: list[Doctor]
    patients: list[int]
    tokens: dict[int, int] = field(default_factory=dict)

    @property
    def tenant_id(self) -> int:
        return self.clinic.tenant_id

    def issue(self, index: int, *, doctor: int | None = 0, kind: str = "walk_in") -> int:
        doctor_id = None if doctor is None else self.doctors[doctor].id
        with self.db.transaction(self.tenant_id) as s:
            token = issue_token(
                s,
                self.clinic.receptionist,
                patient_id=self.patients[index],
                department_id=self.clinic.department.id,
                kind=kind,
                doctor_id=doctor_id,
            )
        self.tokens[index] = token.id
        return token.id

    def call(self, doctor: int = 0) -> str | None:
        with self.db.transaction(self.tenant_id) as s:
            called = call_next(s, self.clinic.receptionist, doctor_id=self.doctors[doctor].id)
        return called.code if called else None


def make_floor(db: Database, *, doctors: int = 2, names: list[str] = NAMES) -> Floor:
    slug = f"sg-{uuid.uuid4().hex[:8]}"
    with db.transaction("*") as s:
        clinic = make_clinic(s, slug)
        docs = [
            add_doctor(s, clinic, name=name, weekdays=tuple(range(7)))
            for name in ["Dr. Asha Rao", "Dr. Vikram Sethi", "Dr. Leela Menon"][:doctors]
        ]
        for index, doc in enumerate(docs):
            doc.default_room = f"Room {index + 1}"
        ids = []
        for i, name in enumerate(names):
            patient = Patient(
                tenant_id=clinic.tenant_id,
                code=f"PSG{i:04d}",
                full_name=name,
                name_key=name.lower(),
            )
            s.add(patient)
            s.flush()
            ids.append(patient.id)
    clinic = dataclasses.replace(clinic)
    return Floor(db, clinic, docs, ids)


@pytest.fixture
def floor(db: Database) -> Floor:
    return make_floor(db)


@dataclass
class Event:
    type: str
    id: str | None
    data: dict[str, object]


class SseReader:
    """Reads one SSE stream in a thread; events land in a queue."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.url = url
        self.headers = headers or {}
        self.events: queue.Queue[Event | Exception | None] = queue.Queue()
        self.status: int | None = None
        self._stop = threading.Event()
        self._opened = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        if not self._opened.wait(20):
            raise RuntimeError(f"stream {url} did not open")

    def _run(self) -> None:
        try:
            with (
                httpx.Client(timeout=httpx.Timeout(5, read=60)) as client,
                client.stream("GET", self.url, headers=self.headers) as response,
            ):
                self.status = response.status_code
                self._opened.set()
                self._parse(response)
        except Exception as exc:  # surfaced to the test through the queue
            self._opened.set()
            if not self._stop.is_set():
                self.events.put(exc)
        finally:
            self.events.put(None)

    def _parse(self, response: httpx.Response) -> None:
        kind, ident, data = "message", None, []
        for line in response.iter_lines():
            if self._stop.is_set():
                return
            if line == "":
                if data:
                    self.events.put(Event(kind, ident, json.loads("\n".join(data))))
                kind, ident, data = "message", None, []
            elif line.startswith("event:"):
                kind = line[6:].strip()
            elif line.startswith("id:"):
                ident = line[3:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())

    def next(self, *types: str, timeout: float = 20) -> Event:
        """The next event of one of ``types`` (pings and others skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {types} event within {timeout}s")
            try:
                item = self.events.get(timeout=remaining)
            except queue.Empty:
                continue
            if item is None:
                raise AssertionError("stream ended")
            if isinstance(item, Exception):
                raise item
            if not types or item.type in types:
                return item

    def drain(self, quiet: float = 0.5) -> list[Event]:
        """Events arriving until the stream has been quiet for ``quiet`` seconds (no pings)."""
        got: list[Event] = []
        while True:
            try:
                item = self.events.get(timeout=quiet)
            except queue.Empty:
                return got
            if isinstance(item, Event) and item.type != "ping":
                got.append(item)
            elif item is None:
                return got

    def close(self) -> None:
        self._stop.set()


@pytest.fixture
def sse() -> Iterator[list[SseReader]]:
    """Collects readers so every stream is closed at the end of the test."""
    readers: list[SseReader] = []
    yield readers
    for reader in readers:
        reader.close()
