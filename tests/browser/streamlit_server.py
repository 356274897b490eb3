"""One Streamlit app served for a browser test: ``streamlit run <entry>`` on a free port."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from qlink.settings import Settings
from tests.web.conftest import SECRET, free_port

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def serve_streamlit(
    entry: Path, settings: Settings, tmp_path: Path, env: Mapping[str, str] | None = None
) -> Iterator[str]:
    """Run the app on the test's database and keys (and ``env``); yield its URL once it answers."""
    port = free_port()
    env = {
        **os.environ,
        "QLINK_DATABASE_URL": settings.database_url,
        "QLINK_SECRET_KEY": SECRET,
        "QLINK_DATA_KEY": settings.data_key,
        "QLINK_VAR_DIR": str(tmp_path),
        **(env or {}),
    }
    command = [
        sys.executable, "-m", "streamlit", "run", str(entry), "--server.port", str(port),
        "--server.address", "127.0.0.1", "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    log = (tmp_path / "streamlit.log").open("wb")
    child = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, child)
        yield url
    finally:
        child.terminate()
        child.wait(timeout=20)
        log.close()


def _wait_healthy(url: str, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert child.poll() is None, "the app exited"
        try:
            if httpx.get(f"{url}/_stcore/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the app did not start")
