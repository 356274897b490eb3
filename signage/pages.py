"""HTML pages from the small templates beside this module (values are always escaped)."""

from __future__ import annotations

import hashlib
import html
from functools import cache
from pathlib import Path
from string import Template

import segno
from starlette.responses import HTMLResponse

HERE = Path(__file__).parent
STATIC = HERE / "static"
TEMPLATES = HERE / "templates"
NO_STORE = {"Cache-Control": "no-store"}


@cache
def _template(name: str) -> Template:
    return Template((TEMPLATES / name).read_text(encoding="utf-8"))


@cache
def asset(name: str) -> str:
    """URL of a static file with a content hash, so TVs pick up a new version at once."""
    digest = hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:10]
    return f"/static/{name}?v={digest}"


def render(template: str, status: int = 200, /, **values: str) -> HTMLResponse:
    """Render ``templates/<template>`` with escaped ``values`` and asset URLs."""
    escaped = {key: html.escape(value, quote=True) for key, value in values.items()}
    for key in ("tv.css", "tv.js", "token.css", "token.js"):
        escaped[key.replace(".", "_")] = asset(key)
    body = _template(template).substitute(escaped)
    return HTMLResponse(body, status_code=status, headers=NO_STORE)


def problem(status: int, title: str, message: str) -> HTMLResponse:
    """A friendly error page (never a stack trace)."""
    return render("problem.html", status, title=title, message=message)


@cache
def qr_data_uri(link: str) -> str:
    """An SVG QR code of ``link`` as a ``data:`` URI (the CSP allows data: images, not CDNs).

    Medium error correction survives glare on a TV screen; the quiet zone is part of the image.
    """
    return str(segno.make(link, error="m", micro=False).svg_data_uri(scale=4, border=2))
