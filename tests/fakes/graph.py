"""A local fake of the Graph API: a real HTTP server on a loopback port.

It records every request (path, headers, JSON body), answers Meta's success body with a fresh
wamid, and answers queued failures on demand (``fail_next(status, code)``). ``hold()`` makes
the next send wait after it was recorded, so a test can kill the sender mid-call.
``POST /{phone_number_id}/media`` (multipart) is recorded in ``uploads`` and answers
``{"id": "<media id>"}``; ``fail_next_upload`` queues an upload failure.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float = 0.0  # time.time() when it arrived


@dataclass
class Upload:
    path: str
    fields: dict[str, str]  # the form's text fields (messaging_product, type)
    filename: str | None
    mime: str | None  # the file part's Content-Type
    content: bytes
    media_id: str


@dataclass
class FakeGraph:
    requests: list[Request] = field(default_factory=list)
    wamids: list[str] = field(default_factory=list)
    uploads: list[Upload] = field(default_factory=list)
    _upload_failures: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    _failures: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _holding: threading.Event = field(default_factory=threading.Event)
    _release: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/v24.0"

    def fail_next(self, status: int, code: int, title: str = "error", times: int = 1) -> None:
        with self._lock:
            self._failures.extend([(status, _error(code, title))] * times)

    def fail_next_upload(self, status: int, code: int, title: str = "error") -> None:
        with self._lock:
            self._upload_failures.append((status, _error(code, title)))

    def sent_bodies(self) -> list[dict[str, Any]]:
        """The bodies of the message sends Meta accepted (not mark-as-read), in order."""
        with self._lock:
            accepted = set(self.wamids)
            return [
                r.body for i, r in enumerate(self.requests, 1) if f"wamid.FAKE{i:06d}" in accepted
            ]

    def _upload(self, handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, Any]]:
        length = int(handler.headers.get("Content-Length", 0))
        raw = handler.rfile.read(length)
        head = f"Content-Type: {handler.headers.get('Content-Type', '')}\r\n\r\n".encode()
        message = BytesParser(policy=policy.default).parsebytes(head + raw)
        fields: dict[str, str] = {}
        filename = mime = None
        content = b""
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            data = part.get_payload(decode=True) or b""
            if name == "file":
                filename, mime, content = part.get_filename(), part.get_content_type(), data
            elif isinstance(name, str):
                fields[name] = data.decode()
        with self._lock:
            failure = self._upload_failures.pop(0) if self._upload_failures else None
            if failure is not None:
                return failure
            media_id = f"media.FAKE{len(self.uploads) + 1:06d}"
            self.uploads.append(Upload(handler.path, fields, filename, mime, content, media_id))
        if fields.get("messaging_product") != "whatsapp" or not content:
            return 400, _error(100, "Invalid parameter")
        return 200, {"id": media_id}

    def hold(self) -> None:
        """The next successful send is recorded, then waits until ``release()``."""
        self._release.clear()
        self._holding.set()

    def release(self) -> None:
        self._release.set()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Request]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.01)
        raise AssertionError(f"expected {count} requests, got {len(self.requests)}")

    def _handle(self, handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, Any]]:
        length = int(handler.headers.get("Content-Length", 0))
        body = json.loads(handler.rfile.read(length) or b"{}")
        with self._lock:
            self.requests.append(Request(handler.path, dict(handler.headers), body, time.time()))
            failure = self._failures.pop(0) if self._failures else None
            wamid = f"wamid.FAKE{len(self.requests):06d}"
        if failure is not None:
            return failure
        if self._holding.is_set():
            self._holding.clear()
            self._release.wait(30)
        if body.get("status") == "read":
            return 200, {"success": True}
        with self._lock:
            self.wamids.append(wamid)
        contact = {"input": body.get("to") or body.get("recipient")}
        if body.get("to"):
            contact["wa_id"] = body["to"]
        return 200, {
            "messaging_product": "whatsapp",
            "contacts": [contact],
            "messages": [{"id": wamid, "message_status": "accepted"}],
        }

    def start(self) -> FakeGraph:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if self.path.endswith("/media"):
                    status, data = fake._upload(self)
                else:
                    status, data = fake._handle(self)
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *_args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def _error(code: int, title: str) -> dict[str, Any]:
    return {
        "error": {
            "message": f"({code}) {title}",
            "type": "OAuthException",
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": title},
            "fbtrace_id": "Afake",
        }
    }
