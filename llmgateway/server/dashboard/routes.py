"""The dashboard's routes, relative to where the app mounts them (``/ui``): the page, its login, its
static files and its JSON API. Every URL the page uses is relative, so any mount point works.

Signing in: ``POST /ui/login`` with the master key (the form at ``GET /ui/login``), or open
``/ui/?key=<master key>`` once (a bookmark, a headless browser): either sets the session cookie and
redirects to ``/ui/``, so the key leaves the address bar. API clients may send
``Authorization: Bearer <master key>`` instead. Virtual keys never get in.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from llmgateway.server.dashboard import data
from llmgateway.server.dashboard.session import COOKIE, SESSION_SECONDS, DashboardGuard
from llmgateway.server.state import ServerState

STATIC = Path(__file__).parent / "static"
MAX_FORM_BYTES = 8192
# Nothing is fetched from anywhere but this server; no inline script or style.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

Endpoint = Callable[[Request], Awaitable[Response]]


def _base(request: Request) -> str:
    """The URL path of the mount (``/ui``), with any prefix the app itself runs under."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def _error(status: int, message: str, kind: str, code: str | None = None) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    body = {"error": {"message": message, "type": kind, "code": code}}
    return JSONResponse(body, status_code=status, headers={**headers, "Cache-Control": "no-store"})


def _login_page(error: str | None = None, status: int = 200) -> HTMLResponse:
    notice = f'<p class="login-error" role="alert">{html.escape(error)}</p>' if error else ""
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>llmgateway: sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="static/dashboard.css"></head>
<body class="login"><main class="login-box">
<h1>llmgateway dashboard</h1>{notice}
<form method="post" action="login" aria-label="Sign in with the master key">
<label for="key">Master key</label>
<input id="key" name="key" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Sign in</button></form>
<p class="hint">The proxy's <code>server.master_key</code>. Virtual keys cannot open the dashboard.</p>
</main></body></html>"""
    return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)


def _signed_in(request: Request, guard: DashboardGuard, target: str) -> RedirectResponse:
    response = RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})
    response.set_cookie(
        COOKIE,
        guard.cookie_value(),
        max_age=SESSION_SECONDS,
        path=_base(request) + "/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


def dashboard_routes(state: ServerState) -> list[BaseRoute]:
    """The dashboard, to mount at ``/ui`` (the app mounts it only when a master key is set)."""
    guard = DashboardGuard(state.config.master_key)
    gateway = state.gateway

    def allowed(request: Request) -> bool:
        return guard.allows(request.headers.get("authorization"), request.cookies.get(COOKIE))

    async def page(request: Request) -> Response:
        key = request.query_params.get("key")
        if key is not None:
            if guard.is_master(key):
                return _signed_in(request, guard, _base(request) + "/")
            return RedirectResponse(_base(request) + "/login?failed=1", status_code=303)
        if not allowed(request):
            return RedirectResponse(_base(request) + "/login", status_code=303)
        return FileResponse(STATIC / "index.html", headers=SECURITY_HEADERS)

    async def login(request: Request) -> Response:
        if not guard.enabled:
            return _login_page("The dashboard needs server.master_key in the config.", 503)
        if request.method == "GET":
            failed = request.query_params.get("failed")
            return _login_page("That is not the master key." if failed else None)
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            return _login_page("The form was too large.", 413)
        key = parse_qs(body.decode("utf-8", "replace")).get("key", [""])[0]
        if not guard.is_master(key):
            return _login_page("That is not the master key.", 401)
        return _signed_in(request, guard, _base(request) + "/")

    async def logout(request: Request) -> Response:
        response = RedirectResponse(_base(request) + "/login", status_code=303)
        response.delete_cookie(COOKIE, path=_base(request) + "/", httponly=True, samesite="strict")
        return response

    def api(handler: Callable[[Request], Awaitable[dict[str, Any]]]) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            if not allowed(request):
                return _error(
                    401,
                    "the dashboard API needs the master key: send 'Authorization: Bearer <master key>' "
                    "or sign in at /ui/login",
                    "authentication_error",
                    "invalid_api_key",
                )
            try:
                payload = await handler(request)
            except ValueError as exc:
                return _error(400, str(exc), "invalid_request_error")
            return JSONResponse(payload, headers={"Cache-Control": "no-store"})

        return endpoint

    async def summary(request: Request) -> dict[str, Any]:
        return await data.summary(gateway, data.parse_range(request.query_params.get("range")))

    async def timeseries(request: Request) -> dict[str, Any]:
        chosen = data.parse_range(request.query_params.get("range"))
        return await data.timeseries(gateway, chosen, data.parse_group(request.query_params.get("group")))

    async def deployments(request: Request) -> dict[str, Any]:
        return data.deployments(gateway)

    async def recent(request: Request) -> dict[str, Any]:
        raw = request.query_params.get("limit", "50")
        if not raw.isdigit():
            raise ValueError(f"limit must be a whole number from 1 to {data.MAX_RECENT}, got {raw!r}")
        return await data.recent(gateway, int(raw))

    return [
        Route("/", page, methods=["GET"], name="dashboard"),
        Route("/login", login, methods=["GET", "POST"], name="dashboard_login"),
        Route("/logout", logout, methods=["POST"], name="dashboard_logout"),
        Route("/api/summary", api(summary), methods=["GET"]),
        Route("/api/timeseries", api(timeseries), methods=["GET"]),
        Route("/api/deployments", api(deployments), methods=["GET"]),
        Route("/api/recent", api(recent), methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC), name="dashboard_static"),
    ]
