"""Event-stream decoding: frames split across reads, many frames per read, SSE lines split across
PayloadParts, corrupted checksums and stream error events; and the test fake's frames are what
botocore's own EventStream parser reads as PayloadPart events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from bench.sagemaker_fake import corrupt, encode_frame, exception_frame, payload_part
from llmgateway import errors as e
from llmgateway.types import ChatCompletionChunk, ChatCompletionRequest
from providers.aws.eventstream import EventPayload, EventStreamCorrupt, EventStreamDecoder, StreamFault
from providers.aws.payload_events import PayloadEvents
from providers.aws.sagemaker_payloads import CallInfo, UsageCounter
from providers.aws.sagemaker_stream import read_event_stream
from providers.aws.sagemaker_tgi import TgiStreamReader
from tests.providers.sagemaker.conftest import USER, Runtime, make_provider

REQUEST = ChatCompletionRequest.model_validate({"model": "chat", "messages": USER})


def tgi_events(*words: str) -> bytes:
    """TGI's token events for ``words``; the last one carries generated_text and details."""
    events = []
    for index, word in enumerate(words, start=1):
        last = index == len(words)
        event = {
            "index": index,
            "token": {"id": index, "text": word, "logprob": -0.1, "special": False},
            "generated_text": "".join(words) if last else None,
            "details": {"finish_reason": "length", "generated_tokens": len(words), "seed": None}
            if last
            else None,
        }
        events.append(b"data:" + json.dumps(event).encode() + b"\n\n")
    return b"".join(events)


def parts(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


async def chunks_of(frames: list[bytes], prompt: str = "") -> list[ChatCompletionChunk]:
    async def body() -> AsyncIterator[bytes]:
        for frame in frames:
            yield frame

    reader = TgiStreamReader(prompt, CallInfo("sm", "m"), UsageCounter(None))
    return [c async for c in read_event_stream(body(), reader, "sm")]


def text_of(chunks: list[ChatCompletionChunk]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_decoder_byte_by_byte_and_many_frames_per_read() -> None:
    frames = [
        payload_part(b"one"),
        payload_part(b""),
        encode_frame({":message-type": "event", ":event-type": "PayloadPart"}, b"two"),
    ]
    stream = b"".join(frames)
    decoder = EventStreamDecoder()
    events = [event for byte in stream for event in decoder.feed(bytes([byte]))]
    decoder.close()
    assert events == [
        EventPayload("PayloadPart", b"one"),
        EventPayload("PayloadPart", b""),
        EventPayload("PayloadPart", b"two"),
    ]
    assert EventStreamDecoder().feed(stream) == events


@pytest.mark.parametrize("where", ["prelude", "message"])
def test_corrupt_checksum_raises_after_the_good_frames(where: str) -> None:
    decoder = EventStreamDecoder()
    data = payload_part(b"good") + corrupt(payload_part(b"garbage"), where)
    assert decoder.feed(data) == [EventPayload("PayloadPart", b"good")]
    with pytest.raises(EventStreamCorrupt, match="ChecksumMismatch"):
        decoder.feed(b"")
    with pytest.raises(EventStreamCorrupt):
        EventStreamDecoder().feed(corrupt(payload_part(b"garbage"), where))


def test_truncated_stream_is_an_error() -> None:
    decoder = EventStreamDecoder()
    assert decoder.feed(payload_part(b"abc")[:-3]) == []
    with pytest.raises(EventStreamCorrupt, match="inside a frame"):
        decoder.close()


def test_exception_and_error_messages_become_faults() -> None:
    error_message = encode_frame(
        {":message-type": "error", ":error-code": "InternalServerError", ":error-message": "boom"}, b""
    )
    decoder = EventStreamDecoder()
    events = decoder.feed(
        exception_frame("ModelStreamError", "too slow", "ModelInvocationTimeExceeded") + error_message
    )
    assert events == [
        StreamFault("ModelStreamError", "too slow", "ModelInvocationTimeExceeded"),
        StreamFault("InternalServerError", "boom", "InternalServerError"),
    ]


def test_fake_frames_parse_as_payload_parts_with_botocore() -> None:
    """The fake's encoding is the real wire format: botocore's EventStream, with the service
    model of sagemaker-runtime, reads raw payload bytes as PayloadPart.Bytes."""
    import botocore.session
    from botocore.eventstream import EventStream
    from botocore.exceptions import EventStreamError
    from botocore.parsers import EventStreamJSONParser

    model = botocore.session.Session().get_service_model("sagemaker-runtime")
    shape = model.operation_model("InvokeEndpointWithResponseStream").output_shape.members["Body"]

    class Raw:
        def stream(self) -> AsyncIterator[bytes]:
            yield payload_part(b'data: {"x": 1}\n\n') + exception_frame(
                "ModelStreamError", "broke", "StreamBroken"
            )

        def close(self) -> None:
            pass

    events = iter(EventStream(Raw(), shape, EventStreamJSONParser(), "InvokeEndpointWithResponseStream"))
    assert next(events) == {"PayloadPart": {"Bytes": b'data: {"x": 1}\n\n'}}
    with pytest.raises(EventStreamError, match="ModelStreamError"):
        next(events)


def test_payload_events_split_anywhere() -> None:
    data = 'data: {"a": "é"}\n\n:comment\r\ndata: {"b": 2}\r\n\r\n{"jsonl": true}\n'.encode()
    for size in (1, 2, 3, 7, len(data)):
        events = PayloadEvents()
        out = [event for piece in parts(data, size) for event in events.feed(piece)] + events.close()
        assert out == ['{"a": "é"}', '{"b": 2}', '{"jsonl": true}'], size


def test_payload_events_at_the_end() -> None:
    events = PayloadEvents()
    assert events.feed(b'data: {"complete": 1}\n\ndata: {"cut off": ') == ['{"complete": 1}']
    assert events.close() == []  # an SSE event without its blank line may be incomplete
    events = PayloadEvents()
    assert events.feed(b'{"a": 1}\n{"b": 2}') == ['{"a": 1}']
    assert events.close() == ['{"b": 2}']  # a JSON line needs no final newline


async def test_sse_lines_split_across_payload_parts_and_frames_across_reads() -> None:
    words = ["Paris", " is", " the", " capital", " ☃"]
    stream = b"".join(payload_part(p) for p in parts(tgi_events(*words), 5))
    for read_size in (1, 13, 4096):
        chunks = await chunks_of(parts(stream, read_size))
        assert text_of(chunks) == "".join(words)
        assert chunks[0].choices[0].delta.role == "assistant"
        finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
        assert finish == ["length"]
        # generated_tokens is known, the prompt count is not (no tokenizer): no usage, so the
        # gateway estimates it.
        assert all(c.usage is None for c in chunks)


async def test_corrupt_frame_mid_stream_interrupts_after_the_chunks_sent() -> None:
    first = payload_part(b'data:{"index":1,"token":{"id":1,"text":"Hi","special":false}}\n\n')
    frames = [first, corrupt(payload_part(tgi_events(" there")), "message")]
    with pytest.raises(e.StreamInterruptedError, match="corrupt event-stream frame") as caught:
        await chunks_of(frames)
    assert caught.value.chunks_received == 1


async def test_corrupt_first_frame_is_a_retryable_upstream_error() -> None:
    with pytest.raises(e.UpstreamServerError, match="ChecksumMismatch") as caught:
        await chunks_of([corrupt(payload_part(tgi_events("Hi")), "prelude")])
    assert caught.value.retryable and not isinstance(caught.value, e.StreamInterruptedError)


async def test_model_stream_error_event() -> None:
    first = payload_part(b'data:{"index":1,"token":{"id":1,"text":"Hi","special":false}}\n\n')
    fault = exception_frame("ModelStreamError", "the model timed out", "ModelInvocationTimeExceeded")
    with pytest.raises(e.StreamInterruptedError, match="ModelInvocationTimeExceeded") as caught:
        await chunks_of([first + fault])
    assert caught.value.chunks_received == 1
    with pytest.raises(e.UpstreamServerError, match="InternalStreamFailure"):
        await chunks_of([exception_frame("InternalStreamFailure", "internal")])


async def test_tgi_error_event_maps_to_its_kind() -> None:
    validation = b'data:{"error": "Input validation error", "error_type": "validation"}\n\n'
    with pytest.raises(e.BadRequestError, match="validation"):
        await chunks_of([payload_part(validation)])
    overloaded = b'data:{"error": "Model is overloaded", "error_type": "overloaded"}\n\n'
    first = payload_part(b'data:{"index":1,"token":{"id":1,"text":"Hi","special":false}}\n\n')
    with pytest.raises(e.StreamInterruptedError, match="overloaded"):
        await chunks_of([first, payload_part(overloaded)])


async def test_provider_stream_through_http_and_unfinished_stream(
    mock_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    body = b"".join(payload_part(p) for p in parts(tgi_events("Bonjour", " monde"), 7))
    runtime.default = lambda request: httpx.Response(200, content=body)
    provider = make_provider(
        mock_client, format="tgi", chat_template="{% for m in messages %}{{ m.content }}{% endfor %}"
    )
    chunks = [c async for c in provider.stream_chat(REQUEST)]
    assert text_of(chunks) == "Bonjour monde"
    # The container's stream stops before its final event: the answer is incomplete.
    runtime.default = lambda request: httpx.Response(
        200, content=payload_part(tgi_events("Bonjour", " monde")[:80])
    )
    with pytest.raises(e.StreamInterruptedError, match="before the answer was complete"):
        _ = [c async for c in provider.stream_chat(REQUEST)]


async def test_stream_error_status_is_mapped_before_any_chunk(
    mock_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    runtime.replies = ["ModelNotReadyException"]
    provider = make_provider(mock_client)
    with pytest.raises(e.ServiceUnavailableError, match="ModelNotReadyException"):
        _ = [c async for c in provider.stream_chat(REQUEST)]
