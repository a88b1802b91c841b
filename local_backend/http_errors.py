"""JSON bodies and error answers shared by the backend's routes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from llmgateway.config import describe_validation_error
from llmgateway.errors import BadRequestError, GatewayError, RateLimitError, ServiceUnavailableError
from llmgateway.types import WireModel

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

MAX_BODY_BYTES = 4 * 1024 * 1024


def error_response(error: GatewayError) -> Response:
    """OpenAI-style error body with the error's status; Retry-After where the client should wait."""
    from starlette.responses import JSONResponse

    headers: dict[str, str] = {}
    if isinstance(error, (RateLimitError, ServiceUnavailableError)) and error.retry_after is not None:
        headers["retry-after"] = str(max(1, round(error.retry_after)))
        headers["retry-after-ms"] = str(int(error.retry_after * 1000))
    return JSONResponse(error.to_openai_body(), status_code=error.status_code, headers=headers)


def _too_large(size: str) -> BadRequestError:
    return BadRequestError(
        f"request body is {size} bytes; the limit is {MAX_BODY_BYTES}", status_code=413, code="body_too_large"
    )


async def read_body(request: Request) -> bytes:
    """The body, refused (413) as soon as it is known to pass the limit, without reading the rest."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _too_large(declared)
    parts: list[bytes] = []
    size = 0
    async for part in request.stream():
        size += len(part)
        if size > MAX_BODY_BYTES:
            raise _too_large(f"more than {MAX_BODY_BYTES}")
        parts.append(part)
    return b"".join(parts)


async def read_json(request: Request) -> Any:
    """The request body as JSON, or a BadRequestError that says what is wrong with it."""
    import json

    body = await read_body(request)
    if not body:
        raise BadRequestError("request body is empty; send a JSON object")
    try:
        return json.loads(body)
    except ValueError as exc:
        raise BadRequestError(f"request body is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise BadRequestError("request body nests JSON too deeply") from exc


def parse(model_cls: type[WireModel], payload: Any) -> Any:
    if not isinstance(payload, dict):
        raise BadRequestError("request body must be a JSON object")
    try:
        return model_cls.model_validate(payload)
    except ValidationError as exc:
        raise BadRequestError(f"invalid request: {describe_validation_error(exc)}") from exc


def model_json(model: WireModel) -> Response:
    from starlette.responses import Response

    return Response(model.model_dump_json(exclude_none=True), media_type="application/json")
