"""Sign-in and sign-out as plain HTTP routes beside the Streamlit app (``st.App`` routes).

A Streamlit script cannot set an HttpOnly cookie, so the login form posts here: the route
checks the credentials through ``core.auth.users`` (lockout as ever), sets the signed session
cookie and redirects into the app, whose script resumes the server-side session from
``st.context.cookies`` on every load, a browser reload included.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from apps.common import session_cookie
from apps.common.runtime import Runtime
from core.auth.users import LoginAttempt, authenticate, sign_out
from core.clock import Clock, system_clock
from db.engine import ALL_TENANTS

LOGIN = "/auth/login"
LOGOUT = "/auth/logout"
SIGNED_OUT = "You have signed out."
# Paths a signed-out browser may load without being sent to the form: Streamlit's own assets
# and endpoints, and these routes.
OPEN_PREFIXES = ("/auth/", "/_stcore/", "/static/", "/media/", "/component/", "/app/static/")


class SignIn:
    """The login and logout endpoints; ``load`` returns the process's runtime."""

    def __init__(
        self,
        load: Callable[[], Runtime],
        clock: Clock = system_clock,
        *,
        app_name: str = "QLink reception",
    ) -> None:
        self.load = load
        self.clock = clock
        self.app_name = app_name  # the form's heading: which app the user is signing in to

    def routes(self) -> list[Route]:
        return [
            Route(LOGIN, self.form, methods=["GET"]),
            Route(LOGIN, self.login, methods=["POST"]),
            Route(LOGOUT, self.logout, methods=["GET", "POST"]),
        ]

    async def form(self, request: Request) -> Response:
        notice = SIGNED_OUT if "bye" in request.query_params else None
        return _page(
            self.app_name, next_path=_local(request.query_params.get("next")), notice=notice
        )

    async def login(self, request: Request) -> Response:
        if not _same_origin(request):
            return _page(self.app_name, error="Sign in from this site's own form.", status=403)
        form = await request.form()
        username, password = str(form.get("username") or ""), str(form.get("password") or "")
        clinic = str(form.get("clinic") or "").strip() or None
        next_path = _local(str(form.get("next") or ""))
        if not username.strip() or not password:
            return _page(
                self.app_name, next_path, "Enter your username and password.", username, status=400
            )
        attempt = await run_in_threadpool(self._authenticate, username, password, clinic)
        if attempt.error is not None or attempt.secret is None:
            message = attempt.error.message if attempt.error else "Sign-in failed"
            return _page(self.app_name, next_path, message, username, clinic or "", status=401)
        old = self._secret(request)
        if old is not None:  # a new sign-in on this browser ends the session it replaces
            await run_in_threadpool(self._sign_out, old)
        response = RedirectResponse(next_path, status_code=303)
        _set_cookie(response, request, self.load().settings.secret_key, attempt.secret)
        return response

    async def logout(self, request: Request) -> Response:
        if request.method == "POST" and not _same_origin(request):
            return _page(self.app_name, error="Sign out from this site's own page.", status=403)
        secret = self._secret(request)
        if secret is not None:
            await run_in_threadpool(self._sign_out, secret)
        response = RedirectResponse(f"{LOGIN}?bye=1", status_code=303)
        response.delete_cookie(session_cookie.COOKIE, path="/", httponly=True, samesite="lax")
        return response

    def _secret(self, request: Request) -> str | None:
        value = request.cookies.get(session_cookie.COOKIE)
        return session_cookie.unseal(self.load().settings.secret_key, value)

    def _authenticate(self, username: str, password: str, clinic: str | None) -> LoginAttempt:
        # The failure count is written too, so the transaction commits whatever the outcome.
        with self.load().db.transaction(ALL_TENANTS) as session:
            return authenticate(
                session, username=username, password=password, clinic=clinic, now=self.clock()
            )

    def _sign_out(self, secret: str) -> None:
        with self.load().db.transaction(ALL_TENANTS) as session:
            sign_out(session, secret, now=self.clock())


class SignInGate:
    """Send a browser without a session cookie to the login form instead of an empty app.

    Only the cookie's presence is checked here (no database work per request); the script
    validates it and shows the way back to the form when the session has ended.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            request = Request(scope)
            path = request.url.path
            wants_page = "text/html" in request.headers.get("accept", "")
            if (
                wants_page
                and not path.startswith(OPEN_PREFIXES)
                and session_cookie.COOKIE not in request.cookies
            ):
                target = URL(LOGIN).include_query_params(next=path)
                await RedirectResponse(str(target), status_code=303)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _set_cookie(response: Response, request: Request, key: str, secret: str) -> None:
    attrs = session_cookie.CookieAttributes(secure=_over_tls(request))
    response.set_cookie(
        session_cookie.COOKIE,
        session_cookie.seal(key, secret),
        max_age=attrs.max_age,
        path=attrs.path,
        secure=attrs.secure,
        httponly=attrs.httponly,
        samesite="lax",
    )


def _over_tls(request: Request) -> bool:
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip()
    return request.url.scheme == "https" or forwarded == "https"


def _same_origin(request: Request) -> bool:
    """Refuse cross-site form posts (login CSRF): a browser's Origin must name this host."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


def _local(path: str | None) -> str:
    """Return ``path`` if it stays on this site, else ``/`` (no open redirect)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return "/" if path.startswith(OPEN_PREFIXES) else path


def _page(
    app_name: str,
    next_path: str = "/",
    error: str | None = None,
    username: str = "",
    clinic: str = "",
    *,
    notice: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    message = ""
    if error:
        message = f'<p class="error" role="alert">{escape(error)}</p>'
    elif notice:
        message = f'<p class="notice" role="status">{escape(notice)}</p>'
    html = _FORM.format(
        app_name=escape(app_name),
        message=message,
        next=escape(next_path, quote=True),
        username=escape(username, quote=True),
        clinic=escape(clinic, quote=True),
        focus="" if username else "autofocus",
        pfocus="autofocus" if username else "",
    )
    headers = {"Cache-Control": "no-store", "X-Frame-Options": "DENY"}
    return HTMLResponse(html, status_code=status, headers=headers)


_FORM = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · {app_name}</title>
<style>
body {{ font-family: system-ui, sans-serif; background: #f1f5f9; color: #0f172a; margin: 0; }}
main {{ max-width: 22rem; margin: 12vh auto; background: #fff; border: 1px solid #cbd5e1;
  border-radius: .6rem; padding: 1.6rem 1.8rem; }}
h1 {{ font-size: 1.4rem; margin: 0 0 1rem 0; }}
label {{ display: block; font-size: .9rem; font-weight: 600; margin: .8rem 0 .25rem 0; }}
input {{ width: 100%; box-sizing: border-box; font-size: 1rem; padding: .5rem .6rem;
  border: 1px solid #64748b; border-radius: .4rem; }}
small {{ color: #475569; }}
button {{ margin-top: 1.2rem; width: 100%; font-size: 1rem; font-weight: 600; padding: .6rem;
  background: #1d4ed8; color: #fff; border: 0; border-radius: .4rem; cursor: pointer; }}
.error {{ background: #fee2e2; color: #991b1b; padding: .5rem .7rem; border-radius: .4rem; }}
.notice {{ background: #e0f2fe; color: #075985; padding: .5rem .7rem; border-radius: .4rem; }}
</style></head>
<body><main>
<h1>{app_name}</h1>
{message}
<form method="post" action="/auth/login">
<input type="hidden" name="next" value="{next}">
<label for="username">Username</label>
<input id="username" name="username" value="{username}" autocomplete="username" required {focus}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required
 {pfocus}>
<label for="clinic">Clinic <small>(only if your username exists in several)</small></label>
<input id="clinic" name="clinic" value="{clinic}" autocomplete="organization">
<button type="submit">Sign in</button>
</form>
</main></body></html>
"""
