"""The admin API, mounted at ``/admin`` apart from the public routes: virtual keys and their usage.
Every route needs the master key (``Authorization: Bearer <master key>``): none gets 401, a
virtual key 403. Errors are OpenAI-shaped JSON.

    POST   /keys              create (201; the full key is in the answer, and only there)
    GET    /keys              list (?include_revoked=true for revoked ones too)
    GET    /keys/{id}         one key
    PATCH  /keys/{id}         change name, team, models, rpm, tpm, budget, expiry, metadata
    DELETE /keys/{id}         revoke
    GET    /keys/{id}/usage   the key's totals by model from the usage ledger
    GET    /audit             audit entries, newest first
                              (?action=&actor=&target=&since=&until=&limit=, limit 1-1000)

Every change is recorded in the gateway's audit log (actor "master") before the route answers.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from llmgateway.audit.key_actions import KeyAudit
from llmgateway.errors import BadRequestError, GatewayError, NotFoundError, PermissionDeniedError
from llmgateway.server.auth import KeyAuthenticator
from llmgateway.server.keys.model import KeySpec, KeyUpdate, validated
from llmgateway.server.keys.secrets import is_key_id

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import BaseRoute

    from llmgateway.audit.log import AuditLog
    from llmgateway.server.keys.model import KeyRecord
    from llmgateway.server.keys.store import KeyStore
    from llmgateway.server.state import ServerState

Endpoint = Callable[["Request"], Awaitable["Response"]]
# The admin routes need the master key, so the master is who acts.
_ACTOR = "master"
_REQUEST_ID_HEADER = "x-request-id"


def _json(body: Any, status: int = 200) -> Response:
    from starlette.responses import Response

    return Response(json.dumps(body), status_code=status, media_type="application/json")


def _money(amount: Decimal) -> str:
    return format(amount, "f")


class AdminApi:
    """The admin endpoints over one server state."""

    def __init__(self, state: ServerState) -> None:
        self.state = state

    # -- plumbing -----------------------------------------------------------------------------------
    async def _require_master(self, request: Request) -> None:
        principal = await self.state.authenticator.authenticate(request.headers.get("authorization"))
        if not principal.master:
            raise PermissionDeniedError(
                "the admin API needs the master key; a virtual key cannot manage keys",
                code="master_key_required",
            )

    def guarded(self, endpoint: Endpoint) -> Endpoint:
        """``endpoint`` behind the master key, with gateway errors as OpenAI-style answers."""

        async def run(request: Request) -> Response:
            try:
                await self._require_master(request)
                return await endpoint(request)
            except GatewayError as exc:
                from starlette.responses import Response

                from llmgateway.server.errors import render

                status, body, headers = render(exc, self.state.scrub)
                answer_headers = {name.decode(): value.decode() for name, value in headers}
                return Response(body, status_code=status, headers=answer_headers)

        return run

    def _store(self) -> KeyStore:
        authenticator = self.state.authenticator
        if not isinstance(authenticator, KeyAuthenticator):
            raise NotFoundError(
                "virtual keys are off: add a server.keys section to the config (e.g. "
                "keys: {backend: sqlite, path: llmgateway_keys.sqlite}) and restart",
                code="keys_disabled",
            )
        return authenticator.store

    def _invalidate(self, key_id: str) -> None:
        authenticator = self.state.authenticator
        if isinstance(authenticator, KeyAuthenticator):
            authenticator.invalidate(key_id)

    async def _body(self, request: Request) -> dict[str, Any]:
        from llmgateway.server.json_limits import check_depth

        raw = await request.body()
        # Whatever the content type says: UTF-8 JSON (json.loads would also guess UTF-16 from
        # bytes, past the depth check's byte scan), no deeper than the limit.
        check_depth(raw, self.state.config.max_json_depth)
        try:
            data = json.loads(raw.decode("utf-8") if raw else "{}")
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise BadRequestError("the request body is not valid UTF-8 JSON", code="invalid_json") from None
        if not isinstance(data, dict):
            raise BadRequestError("the request body must be a JSON object", code="invalid_json")
        return data

    def _check_models(self, names: Iterable[str] | None) -> None:
        config = self.state.gateway.config
        if config is None or not names:
            return
        unknown = sorted(set(names) - set(config.models))
        if unknown:
            raise BadRequestError(
                f"unknown model(s) {', '.join(map(repr, unknown))}; this gateway serves "
                f"{', '.join(sorted(config.models))}",
                code="unknown_model",
            )

    def _audit_log(self) -> AuditLog:
        return self.state.gateway.audit

    def _key_audit(self, request: Request) -> KeyAudit:
        request_id = request.headers.get(_REQUEST_ID_HEADER)
        if request_id is not None and (len(request_id) > 200 or not request_id.isprintable()):
            request_id = None  # a client's header, not worth refusing the action over
        source = request.client.host if request.client is not None else None
        return KeyAudit(self._audit_log(), actor=_ACTOR, request_id=request_id or None, source=source)

    @staticmethod
    def _key_id(request: Request) -> str:
        key_id = str(request.path_params["key_id"])
        if not is_key_id(key_id):
            raise NotFoundError(f"no virtual key {key_id!r}: a key id is 12 characters a-z, 2-7")
        return key_id

    @staticmethod
    def _found(record: KeyRecord | None, key_id: str) -> KeyRecord:
        if record is None:
            raise NotFoundError(f"no virtual key {key_id!r}", code="key_not_found")
        return record

    # -- endpoints ------------------------------------------------------------------------------------
    async def create(self, request: Request) -> Response:
        spec = validated(KeySpec, await self._body(request))
        self._check_models(spec.models)
        record, key = await self._store().create(spec)
        await self._key_audit(request).created(record)
        return _json({**record.public(), "key": key}, 201)

    async def list(self, request: Request) -> Response:
        include = request.query_params.get("include_revoked", "false").lower() in ("1", "true", "yes")
        records = await self._store().list(include_revoked=include)
        return _json({"object": "list", "data": [record.public() for record in records]})

    async def show(self, request: Request) -> Response:
        key_id = self._key_id(request)
        return _json(self._found(await self._store().get(key_id), key_id).public())

    async def update(self, request: Request) -> Response:
        key_id = self._key_id(request)
        fields = validated(KeyUpdate, await self._body(request)).changes()
        self._check_models(fields.get("models"))
        store = self._store()
        # The old values, for the budget and PII entries' "old" (a change made elsewhere between
        # these two calls would show there; the new values are always the stored ones).
        old = self._found(await store.get(key_id), key_id)
        record = self._found(await store.update(key_id, **fields), key_id)
        self._invalidate(key_id)
        await self._key_audit(request).updated(old, record, fields)
        return _json(record.public())

    async def revoke(self, request: Request) -> Response:
        key_id = self._key_id(request)
        store = self._store()
        old = self._found(await store.get(key_id), key_id)
        record = self._found(await store.revoke(key_id), key_id)
        self._invalidate(key_id)
        await self._key_audit(request).revoked(old, record)
        return _json(record.public())

    async def usage(self, request: Request) -> Response:
        key_id = self._key_id(request)
        self._found(await self._store().get(key_id), key_id)
        ledger = self.state.gateway.services.ledger
        if ledger is None:
            raise NotFoundError(
                "no usage ledger: add a ledger: section to the config to record usage per key",
                code="ledger_off",
            )
        await ledger.flush()  # count the calls still queued for writing
        totals = await ledger.store.totals(["model"], where={"key": key_id})
        return _json(
            {
                "object": "list",
                "key": key_id,
                "data": [
                    {
                        "model": total.group.get("model"),
                        "calls": total.calls,
                        "errors": total.errors,
                        "cache_hits": total.cache_hits,
                        "prompt_tokens": total.prompt_tokens,
                        "completion_tokens": total.completion_tokens,
                        "cost": _money(total.cost),
                        "currency": total.currency,
                    }
                    for total in totals
                ],
            }
        )

    async def audit(self, request: Request) -> Response:
        from llmgateway.audit.params import query_filters

        filters = query_filters(request.query_params)
        log = self._audit_log()
        entries = await log.query(**filters)
        body: dict[str, Any] = {"object": "list", "stored": log.stored, "data": [e.public() for e in entries]}
        if not log.stored:
            body["note"] = (
                "audit entries are not stored, only logged (logger llmgateway.audit): add an audit: "
                "section or a server.keys section to the config to store them"
            )
        return _json(body)


def admin_routes(state: ServerState) -> list[BaseRoute]:
    """The admin routes, with paths relative to their ``/admin`` mount."""
    from starlette.routing import Route

    api = AdminApi(state)
    return [
        Route("/keys", api.guarded(api.create), methods=["POST"]),
        Route("/keys", api.guarded(api.list), methods=["GET"]),
        Route("/keys/{key_id}", api.guarded(api.show), methods=["GET"]),
        Route("/keys/{key_id}", api.guarded(api.update), methods=["PATCH"]),
        Route("/keys/{key_id}", api.guarded(api.revoke), methods=["DELETE"]),
        Route("/keys/{key_id}/usage", api.guarded(api.usage), methods=["GET"]),
        Route("/audit", api.guarded(api.audit), methods=["GET"]),
    ]
