"""Drive the outbox relay: claim, send over the Graph API after commit, record the outcome.

``Relay.sweep()`` does one pass (used by the ``send_outbox``/``sweep_outbox`` actors and by the
in-process relay thread of ``qlink serve``); ``Relay.run(stop)`` sweeps every ``interval``
seconds or as soon as ``nudge()`` is called, until ``stop`` is set.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import socket
import threading
from collections.abc import Callable

from core.clinical import delivery
from core.clock import Clock, system_clock
from core.messaging import relay
from core.messaging.graph_body import attach_media
from core.messaging.outbound import Action, Failed, Outcome
from core.patients.phones import PhoneVault
from db.engine import ALL_TENANTS, Database
from qlink.settings import Settings
from workers.pacing import Pacer

log = logging.getLogger("qlink.relay")
Poster = Callable[[str, dict], Outcome]  # (phone_number_id, body) -> outcome
# (phone_number_id, content, mime, filename) -> Meta's media id, or the failure
Uploader = Callable[[str, bytes, str, str], "str | Failed"]


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def deliver(
    attempt: relay.Attempt, post: Poster, upload: Uploader | None
) -> tuple[relay.Attempt, Outcome]:
    """Upload the attempt's document first (if any), then post the message.

    Returns the attempt as sent (its body with the media id) and the outcome; a failed upload
    is the outcome, and the relay retries or fails it like a failed send.
    """
    if attempt.media is not None:
        if upload is None:
            return attempt, Failed(None, title="this relay cannot upload media")
        media = attempt.media
        uploaded = upload(attempt.phone_number_id, media.content, media.mime, media.filename)
        if isinstance(uploaded, Failed):
            return attempt, uploaded
        attempt = dataclasses.replace(attempt, body=attach_media(attempt.body, uploaded))
    return attempt, post(attempt.phone_number_id, attempt.body)


class Relay:
    def __init__(
        self,
        database: Database,
        post: Poster,
        vault: PhoneVault,
        *,
        clock: Clock = system_clock,
        name: str | None = None,
        lease: dt.timedelta = relay.LEASE,
        upload: Uploader | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self._db = database
        self._post = post
        self._upload = upload
        self._pacer = pacer
        self._vault = vault
        self._clock = clock
        self.name = name or worker_name()
        self._wake = threading.Event()
        self.lease = lease

    def nudge(self) -> None:
        """Sweep now (after a commit that wrote outbox rows)."""
        self._wake.set()

    def sweep(self, outbox_ids: list[int] | None = None) -> int:
        """Claim and send what is due; return how many rows were claimed."""
        rendered = 0 if outbox_ids is not None else self.render_documents()
        with self._db.transaction(ALL_TENANTS) as session:
            claimed = relay.claim_due(
                session,
                worker=self.name,
                now=self._clock(),
                lease=self.lease,
                outbox_ids=outbox_ids,
            )
        for outbox_id in claimed:
            self.send(outbox_id)
        return len(claimed) + rendered

    def render_documents(self) -> int:
        """Render due prescription PDFs (each in its own transaction); their sends follow.

        A render raising anything but a domain error is rolled back and recorded by
        ``delivery.render_failed``: retried with backoff, failed after the outbox's attempts.
        """
        with self._db.transaction(ALL_TENANTS) as session:
            claimed = delivery.claim_render_jobs(session, worker=self.name, now=self._clock())
        for outbox_id in claimed:
            try:
                with self._db.transaction(ALL_TENANTS) as session:
                    delivery.render_job(session, outbox_id, now=self._clock())
            except Exception as exc:  # rolled back; one bad job must not stop the sends
                log.exception("prescription render job %s failed", outbox_id)
                with self._db.transaction(ALL_TENANTS) as session:
                    status = delivery.render_failed(
                        session,
                        outbox_id,
                        worker=self.name,
                        error=f"{type(exc).__name__}: {exc}",
                        now=self._clock(),
                    )
                if status == "failed":
                    log.error("prescription render job %s given up: %s", outbox_id, exc)
        return len(claimed)

    def send(self, outbox_id: int) -> Action | None:
        """Send one claimed row (three transactions; the HTTP call between the last two)."""
        with self._db.transaction(ALL_TENANTS) as session:
            attempt = relay.begin_send(
                session, outbox_id, worker=self.name, vault=self._vault, now=self._clock()
            )
        if attempt is None:
            return None
        wait = (
            self._pacer.admit(attempt.phone_number_id, attempt.contact_key) if self._pacer else None
        )
        if wait is not None:  # over the pair or number rate: not now, and not lost
            until = self._clock() + dt.timedelta(seconds=wait)
            with self._db.transaction(ALL_TENANTS) as session:
                relay.defer_send(session, attempt, until=until)
            return Action.PACE
        attempt, outcome = deliver(attempt, self._post, self._upload)
        with self._db.transaction(ALL_TENANTS) as session:
            action = relay.finish_send(session, attempt, outcome, now=self._clock())
        if action is Action.STOP_TENANT:
            log.error("WhatsApp sends of tenant %s stopped: %s", attempt.tenant_id, outcome)
        elif action is not None:
            log.warning("outbox %s: %s (%s)", outbox_id, action.value, outcome)
        return action

    def run(self, stop: threading.Event, interval: float = 0.2) -> None:
        """Sweep until ``stop`` is set: every ``interval`` seconds, or at once on a nudge."""
        while not stop.is_set():
            try:
                while self.sweep():
                    pass
            except Exception:  # a database hiccup must not end the relay; the next pass retries
                log.exception("outbox sweep failed")
            self._wake.wait(interval)
            self._wake.clear()

    def start_thread(self, stop: threading.Event, interval: float = 0.2) -> threading.Thread:
        thread = threading.Thread(
            target=self.run, args=(stop, interval), name="qlink-relay", daemon=True
        )
        thread.start()
        return thread


class BackgroundRelay:
    """The relay on a thread of the HTTP service (``qlink serve`` without Redis).

    Sweeps every ``interval`` seconds and at once on ``nudge()``; ``stop()`` waits for it.
    """

    def __init__(self, relay: Relay, close: Callable[[], None], interval: float = 0.2) -> None:
        self.relay = relay
        self._close = close
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def for_settings(cls, settings: Settings, database: Database) -> BackgroundRelay:
        from workers.graph import GraphClient

        graph = GraphClient(str(settings.whatsapp_graph_url), str(settings.whatsapp_access_token))
        vault = PhoneVault(settings.data_key)
        pacer = Pacer.for_redis_url(settings.redis_url)
        relay = Relay(database, graph.post, vault, upload=graph.upload_media, pacer=pacer)
        return cls(relay, graph.close)

    def nudge(self) -> None:
        self.relay.nudge()

    def start(self) -> None:
        self._thread = self.relay.start_thread(self._stop, self._interval)

    def stop(self) -> None:
        self._stop.set()
        self.relay.nudge()
        if self._thread is not None:
            self._thread.join(10)
        self._close()
