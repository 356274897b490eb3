"""A new patient's whole WhatsApp journey on the embedded service (no Redis), both databases.

The real app under TestClient: the inbox processes on the service's own threads and the relay
in its lifespan sends to a loopback fake Graph server. The same journey runs on PostgreSQL +
Redis with real ``qlink worker`` processes in tests/workers/test_e2e_whatsapp.py.
"""

from __future__ import annotations

from starlette.testclient import TestClient

from qlink.asgi import create_app
from qlink.settings import Settings
from tests.fakes.graph import FakeGraph
from tests.web.journey import Journey, open_clinic, walk_through
from tests.web.whatsapp_support import number_id


def test_hi_to_booking_to_checkin_to_now_serving_in_process(db, tmp_path):
    fake = FakeGraph().start()
    try:
        url = db.engine.url.render_as_string(hide_password=False)
        env = {
            "QLINK_DATABASE_URL": url,
            "QLINK_SECRET_KEY": "s" * 32,
            "QLINK_DATA_KEY": "k" * 43,
            "WHATSAPP_APP_SECRET": "journey-app-secret",
            "WHATSAPP_GRAPH_URL": fake.url,
            "WHATSAPP_ACCESS_TOKEN": "test-token",
        }
        settings = Settings.from_env(env, var_dir=tmp_path)
        app = create_app(settings, database=db)
        pnid = number_id()
        clinic, doctor_id = open_clinic(db, pnid)
        with TestClient(app) as client:

            def post(body: bytes, headers: dict[str, str]) -> int:
                return client.post("/webhooks/whatsapp", content=body, headers=headers).status_code

            journey = Journey(db, fake, post, "journey-app-secret", clinic, pnid, "919876500101")
            walk_through(journey, doctor_id)
    finally:
        fake.stop()
