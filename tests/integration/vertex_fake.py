"""A fake Vertex AI API front and OAuth token server, on 127.0.0.1, in front of a real container.

- ``POST /token``: Google's OAuth token endpoint for service accounts (JWT bearer grant). It checks
  the assertion's RS256 signature with the key pair the test made, its audience, issuer, scope and
  expiry, then grants a random access token valid for ``token_lifetime`` seconds.
- ``POST /{v1,v1beta1}/projects/{p}/locations/{r}/endpoints/{id}:predict | :rawPredict |
  :streamRawPredict | /chat/completions``: checks the bearer token (a wrong or expired one gets
  Google's real 401 UNAUTHENTICATED Status body), then forwards to the container as Vertex does:
  ``:predict`` sends ``{instances, parameters}`` to the container's predict route and answers
  ``{predictions, deployedModelId, model, modelDisplayName, modelVersionId}`` (dropping anything
  else the container said); ``:rawPredict`` / ``:streamRawPredict`` pass the body and answer
  through untouched; ``chat/completions`` goes to the container's OpenAI route (``openapi`` picks
  the container by the body's ``model``).
- ``fail_next(...)`` injects error answers in each shape Google sends them: a Status object, a JSON
  list wrapping one (streamed methods), an HTML page from the load balancer, or an error written
  into a stream after its first events.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.asgi_server import serving

UNAUTHENTICATED_MESSAGE = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or "
    "other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project."
)


@dataclass(frozen=True)
class Endpoint:
    """A deployed endpoint: where the container answers its predict route."""

    predict_route: str = "/predict"
    deployed_model_id: str = "5550001"
    display_name: str = "tiny-chat"


@dataclass
class Fault:
    http_status: int
    status: str
    message: str = "injected"
    shape: str = "status"  # status | list | html | mid_stream
    after_events: int = 1  # mid_stream: how many of the stream's events go out before the error
    details: list[dict[str, Any]] = field(default_factory=list)

    def body(self) -> bytes:
        error = {"error": {"code": self.http_status, "message": self.message, "status": self.status}}
        if self.details:
            error["error"]["details"] = self.details
        if self.shape == "html":
            return b"<html><body><h1>502 Server Error</h1></body></html>"
        return json.dumps([error] if self.shape == "list" else error).encode()


@dataclass
class TokenBook:
    """Access tokens this fake granted (or was told about), with their monotonic expiry."""

    expiries: dict[str, float] = field(default_factory=dict)
    granted: list[str] = field(default_factory=list)

    def grant(self, lifetime: float) -> str:
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        self.expiries[token] = time.monotonic() + lifetime
        self.granted.append(token)
        return token

    def valid(self, token: str) -> bool:
        expiry = self.expiries.get(token)
        return expiry is not None and time.monotonic() < expiry


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


# The audience Google's token endpoint requires, whatever URL the key file's token_uri names.
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"


def verify_assertion(assertion: str, public_pem: bytes, client_email: str) -> str | None:
    """Why a service-account JWT is refused, or None if it is good."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    try:
        header_b64, claims_b64, signature_b64 = assertion.split(".")
        header = json.loads(_b64(header_b64))
        claims = json.loads(_b64(claims_b64))
    except ValueError:
        return "malformed assertion"
    if header.get("alg") != "RS256":
        return f"unexpected alg {header.get('alg')}"
    key = serialization.load_pem_public_key(public_pem)
    assert isinstance(key, rsa.RSAPublicKey)
    try:
        key.verify(
            _b64(signature_b64),
            f"{header_b64}.{claims_b64}".encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except InvalidSignature:
        return "Invalid JWT Signature."
    if claims.get("aud") != GOOGLE_TOKEN_AUDIENCE or claims.get("iss") != client_email:
        return "wrong audience or issuer"
    if "https://www.googleapis.com/auth/cloud-platform" not in str(claims.get("scope", "")).split():
        return "missing cloud-platform scope"
    if not claims.get("exp") or claims["exp"] < time.time():
        return "Invalid JWT: Token must be a short-lived token"
    return None


class FakeVertex:
    def __init__(
        self,
        backend_url: str,
        *,
        project: str = "test-project",
        region: str = "us-central1",
        endpoints: dict[str, Endpoint] | None = None,
        openapi_models: tuple[str, ...] = ("meta/tiny-chat-maas",),
        public_pem: bytes | None = None,
        client_email: str = "",
        token_lifetime: float = 3600.0,
    ) -> None:
        self.backend_url = backend_url.rstrip("/")
        self.project = project
        self.region = region
        self.endpoints = endpoints or {"111": Endpoint()}
        self.openapi_models = openapi_models
        self.public_pem = public_pem
        self.client_email = client_email
        self.token_lifetime = token_lifetime
        self.tokens = TokenBook()
        self.faults: deque[Fault] = deque()
        self.seen: list[tuple[str, str | None]] = []  # (path, authorization) of each API call
        self.token_requests = 0
        self.url = ""  # set once serving
        self._client = httpx.AsyncClient(timeout=120)

    # -- control -----------------------------------------------------------------------------

    def fail_next(self, http_status: int, status: str, times: int = 1, **kwargs: Any) -> None:
        for _ in range(times):
            self.faults.append(Fault(http_status, status, **kwargs))

    def allow(self, token: str, lifetime: float = 3600.0) -> None:
        self.tokens.expiries[token] = time.monotonic() + lifetime

    # -- OAuth ---------------------------------------------------------------------------------

    async def token(self, request: Request) -> Response:
        self.token_requests += 1
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        assert self.public_pem is not None, "no key pair configured"
        why = verify_assertion(form.get("assertion", ""), self.public_pem, self.client_email)
        if why is not None:
            return JSONResponse({"error": "invalid_grant", "error_description": why}, status_code=400)
        token = self.tokens.grant(self.token_lifetime)
        return JSONResponse(
            {"access_token": token, "expires_in": self.token_lifetime, "token_type": "Bearer"}
        )

    # -- Vertex API ----------------------------------------------------------------------------

    async def api(self, request: Request) -> Response:
        authorization = request.headers.get("authorization")
        self.seen.append((request.url.path, authorization))
        token = (authorization or "").removeprefix("Bearer ")
        if not self.tokens.valid(token):
            body = {"error": {"code": 401, "message": UNAUTHENTICATED_MESSAGE, "status": "UNAUTHENTICATED"}}
            headers = {
                "www-authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'
            }
            return JSONResponse(body, status_code=401, headers=headers)
        p = request.path_params
        endpoint_id, _, method = p["rest"].partition(":")
        if not method and endpoint_id.endswith("/chat/completions"):
            endpoint_id, method = endpoint_id.removesuffix("/chat/completions"), "chat"
        name = f"projects/{p['project']}/locations/{p['location']}/endpoints/{endpoint_id}"
        known = endpoint_id in self.endpoints or endpoint_id == "openapi"
        if p["project"] != self.project or p["location"] != self.region or not known:
            return _status(404, "NOT_FOUND", f'Endpoint "{name}" not found.')
        if self.faults and self.faults[0].shape != "mid_stream":
            fault = self.faults.popleft()
            media = "text/html" if fault.shape == "html" else "application/json"
            return Response(fault.body(), status_code=fault.http_status, media_type=media)
        body = await request.body()
        if method == "predict":
            return await self._predict(self.endpoints[endpoint_id], body)
        if method in ("rawPredict", "streamRawPredict"):
            route = self.endpoints[endpoint_id].predict_route
            return await self._forward(route, body, stream=method == "streamRawPredict")
        if method == "chat":
            return await self._chat(endpoint_id, body)
        return _status(400, "INVALID_ARGUMENT", f"unknown method {method!r}")

    async def _predict(self, endpoint: Endpoint, body: bytes) -> Response:
        answer = await self._client.post(
            self.backend_url + endpoint.predict_route,
            content=body,
            headers={"content-type": "application/json"},
        )
        if answer.status_code != 200:
            status = {429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE"}.get(answer.status_code)
            if status is None:
                status = "FAILED_PRECONDITION" if answer.status_code < 500 else "INTERNAL"
            code = 400 if status == "FAILED_PRECONDITION" else answer.status_code
            return _status(code, status, f"The model server answered {answer.status_code}: {answer.text}")
        predictions = answer.json()["predictions"]
        return JSONResponse(
            {
                "predictions": predictions,
                "deployedModelId": endpoint.deployed_model_id,
                "model": f"projects/123456789/locations/{self.region}/models/777",
                "modelDisplayName": endpoint.display_name,
                "modelVersionId": "1",
            }
        )

    async def _chat(self, endpoint_id: str, body: bytes) -> Response:
        if endpoint_id == "openapi":
            model = json.loads(body).get("model")
            if model not in self.openapi_models:
                return _status(404, "NOT_FOUND", f"Publisher Model `{model}` not found.")
        return await self._forward("/v1/chat/completions", body, stream=b'"stream":true' in body)

    async def _forward(self, route: str, body: bytes, *, stream: bool) -> Response:
        request = self._client.build_request(
            "POST", self.backend_url + route, content=body, headers={"content-type": "application/json"}
        )
        upstream = await self._client.send(request, stream=True)
        fault = self.faults.popleft() if self.faults and stream else None
        if not stream or upstream.status_code != 200:
            content = await upstream.aread()
            await upstream.aclose()
            return Response(
                content, status_code=upstream.status_code, media_type=upstream.headers.get("content-type")
            )

        async def relay() -> AsyncIterator[bytes]:
            pending = b""
            try:
                async for piece in upstream.aiter_raw():
                    if fault is None:
                        yield piece
                        continue
                    pending += piece
                    events = pending.split(b"\n\n")
                    if len(events) > fault.after_events:  # then the error, as bare JSON
                        yield (
                            b"".join(e + b"\n\n" for e in events[: fault.after_events]) + fault.body() + b"\n"
                        )
                        return
            finally:
                await upstream.aclose()

        return StreamingResponse(relay(), media_type="text/event-stream")

    def app(self) -> Starlette:
        path = "/{version:str}/projects/{project:str}/locations/{location:str}/endpoints/{rest:path}"
        return Starlette(
            routes=[Route("/token", self.token, methods=["POST"]), Route(path, self.api, methods=["POST"])]
        )

    async def aclose(self) -> None:
        await self._client.aclose()


def _status(code: int, status: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "status": status}}, status_code=code)


@asynccontextmanager
async def fake_vertex(backend_url: str, **kwargs: Any) -> AsyncIterator[FakeVertex]:
    """A FakeVertex serving on 127.0.0.1 in front of ``backend_url``."""
    fake = FakeVertex(backend_url, **kwargs)
    try:
        async with serving(fake.app()) as url:
            fake.url = url
            yield fake
    finally:
        await fake.aclose()
