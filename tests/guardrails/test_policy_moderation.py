"""The moderation classifier against an OpenAI-compatible /v1/moderations (httpx.MockTransport)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from llmgateway.guardrails.policy.classifier import Classification, ClassifierFailedError
from llmgateway.guardrails.policy.moderation import ModerationClassifier
from llmgateway.guardrails.policy.settings import ClassifierConfig

SECRET = "sk-moderation-secret"


def result(flagged: bool = False, **scores: float) -> dict[str, Any]:
    names = {name.replace("_", "/"): score for name, score in scores.items()}
    return {
        "id": "modr-1",
        "model": "omni-moderation-latest",
        "results": [
            {
                "flagged": flagged,
                "categories": {name: score >= 0.9 for name, score in names.items()},
                "category_scores": names,
            }
        ],
    }


def classifier(
    handler: Callable[[httpx.Request], httpx.Response], **settings: Any
) -> tuple[ModerationClassifier, httpx.AsyncClient]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    config = ClassifierConfig(kind="moderation", base_url="http://mod.test/v1/", **settings)
    return ModerationClassifier(config, http=http), http


async def test_the_request_has_the_wire_shape() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=result(hate=0.01))

    moderation, http = classifier(handler, api_key=SECRET, model="omni-moderation-latest")
    verdict = await moderation.classify("some text", stage="input")
    assert verdict == Classification(flagged=False)
    request = seen[0]
    assert request.method == "POST" and str(request.url) == "http://mod.test/v1/moderations"
    assert request.headers["authorization"] == f"Bearer {SECRET}"
    assert json.loads(request.content) == {"input": "some text", "model": "omni-moderation-latest"}
    await http.aclose()


async def test_without_key_or_model_neither_is_sent() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=result())

    moderation, http = classifier(handler)
    await moderation.classify("x", stage="output")
    assert "authorization" not in seen[0].headers
    assert json.loads(seen[0].content) == {"input": "x"}
    await http.aclose()


@pytest.mark.parametrize(
    ("settings", "answer", "expected"),
    [
        # A true label flags; the highest-scoring counted label is named.
        ({}, result(True, violence=0.95, hate=0.2), Classification(True, "violence", 0.95)),
        # A score at the threshold flags even when the server's own flag is false.
        ({"threshold": 0.5}, result(False, harassment=0.5), Classification(True, "harassment", 0.5)),
        ({"threshold": 0.5}, result(False, harassment=0.49), Classification(False)),
        (
            {"threshold": 0.3},
            result(False, sexual=0.1, hate=0.35, violence=0.4),
            Classification(True, "violence", 0.4),
        ),
        # Only the listed labels count, and the overall flag only through them.
        ({"categories": ["hate"]}, result(True, violence=0.99, hate=0.1), Classification(False)),
        (
            {"categories": ["hate"]},
            result(True, violence=0.99, hate=0.92),
            Classification(True, "hate", 0.92),
        ),
        # flagged=true without any label over the threshold still flags (all labels count).
        ({"threshold": 0.95}, result(True, violence=0.2), Classification(True, "moderation")),
        # Slashes in label names are kept.
        ({}, result(True, self_harm=0.97), Classification(True, "self/harm", 0.97)),
    ],
)
async def test_verdicts(settings: dict[str, Any], answer: dict[str, Any], expected: Classification) -> None:
    moderation, http = classifier(lambda request: httpx.Response(200, json=answer), **settings)
    assert await moderation.classify("text", stage="input") == expected
    await http.aclose()


async def test_null_labels_and_missing_scores_are_tolerated() -> None:
    answer = {
        "results": [{"flagged": True, "categories": {"illicit": None, "hate": True}, "category_scores": {}}]
    }
    moderation, http = classifier(lambda request: httpx.Response(200, json=answer))
    assert await moderation.classify("t", stage="input") == Classification(True, "hate", None)
    await http.aclose()


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        (httpx.Response(500, json={"error": {"message": "boom"}}), "answered HTTP 500"),
        (httpx.Response(401, json={"error": {"message": "bad key"}}), "answered HTTP 401"),
        (httpx.Response(200, json={"nothing": []}), "without results[0]"),
        (httpx.Response(200, text="<html>not json</html>"), "without results[0]"),
        (httpx.Response(200, json={"results": []}), "without results[0]"),
        (httpx.Response(200, json={"results": [{"flagged": True, "categories": []}]}), "not objects"),
    ],
)
async def test_failures_raise_with_the_reason_and_never_the_key(
    response: httpx.Response, reason: str
) -> None:
    moderation, http = classifier(lambda request: response, api_key=SECRET)
    with pytest.raises(ClassifierFailedError, match=reason.replace("[", r"\[").replace("]", r"\]")) as info:
        await moderation.classify("text", stage="input")
    assert SECRET not in str(info.value) and "moderation at mod.test" in str(info.value)
    await http.aclose()


async def test_connection_errors_and_timeouts_fail_without_credentials_in_the_message() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused to http://user:pw@mod.test", request=request)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    config = ClassifierConfig(kind="moderation", base_url="http://user:pw@mod.test/v1", timeout=0.5)
    for handler, reason in ((refuse, "could not be reached (ConnectError)"), (slow, "within 0.5s")):
        http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        moderation = ModerationClassifier(config, http=http)
        with pytest.raises(ClassifierFailedError) as info:
            await moderation.classify("text", stage="output")
        assert reason in str(info.value) and "pw" not in str(info.value)
        await http.aclose()


async def test_its_own_client_is_closed_by_aclose_and_a_given_one_is_left_open() -> None:
    given = httpx.AsyncClient(
        transport=httpx.MockTransport(lambda request: httpx.Response(200, json=result()))
    )
    moderation = ModerationClassifier(ClassifierConfig(kind="moderation", base_url="http://x/v1"), http=given)
    await moderation.aclose()
    assert not given.is_closed
    await given.aclose()

    own = ModerationClassifier(
        ClassifierConfig(kind="moderation", base_url="http://127.0.0.1:9/v1", timeout=2)
    )
    with pytest.raises(ClassifierFailedError, match="could not be reached"):
        await own.classify("text", stage="input")  # nothing listens on the discard port
    client = own._owned
    assert client is not None and not client.is_closed
    await own.aclose()
    assert client.is_closed


async def test_a_real_server_on_localhost_is_used_through_its_own_client() -> None:
    """The built-in client against a real HTTP server (not a mock transport)."""
    received: list[dict[str, Any]] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(
            next(
                line.split(b":")[1]
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
        )
        received.append(json.loads(await reader.readexactly(length)))
        body = json.dumps(result(True, violence=0.97)).encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(body)
            + body
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    moderation = ModerationClassifier(
        ClassifierConfig(kind="moderation", base_url=f"http://127.0.0.1:{port}/v1")
    )
    try:
        assert await moderation.classify("fight", stage="output") == Classification(True, "violence", 0.97)
        assert received == [{"input": "fight"}]
    finally:
        await moderation.aclose()
        server.close()
        await server.wait_closed()
