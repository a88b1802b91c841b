"""What the SageMaker provider costs per call, against botocore's own sagemaker-runtime client,
in one run, against the same local fake runtime (a separate process that checks every SigV4
signature with botocore and answers a canned Messages-API chat completion at once):

1. Per call, sequential: ``gw.chat.completions.create`` (the provider through the Gateway), the
   provider alone (``provider.chat``), and botocore's ``invoke_endpoint`` (+ reading and parsing
   the JSON body), taking turns call by call; the same for streams (the gateway's stream read to
   the end vs ``invoke_endpoint_with_response_stream`` with its events read). Median and p95.
2. Event-stream decoding (no network): MB/s of our decoder (botocore's EventStreamBuffer plus
   our event dispatch), of our whole decode path to chat chunks (frames -> SSE -> chunks), and of
   feeding botocore's EventStreamBuffer directly.

    python -m bench.sagemaker [--calls 1000] [--frames 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from bench.sagemaker_fake import ACCESS_KEY, REGION, SECRET_KEY, deployment_settings, payload_part
from bench.timing import alternate, print_timings, ratio, warm, write_result
from bench.upstream_process import free_port, upstream_process

RESULTS = Path(__file__).resolve().parent / "results" / "sagemaker.json"
MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]
ENDPOINT = "bench-endpoint"
READ_BYTES = 16 * 1024  # the network read size fed to the decoders


def fake_runtime(port: int) -> contextlib.AbstractContextManager[str]:
    """The fake runtime with its canned Messages answer, in its own process."""
    return upstream_process("bench.sagemaker_fake", port)


def botocore_client(url: str) -> Any:
    import botocore.session
    from botocore.config import Config

    session = botocore.session.Session()
    session.set_credentials(ACCESS_KEY, SECRET_KEY)
    config = Config(retries={"max_attempts": 1, "mode": "standard"}, max_pool_connections=4)
    return session.create_client("sagemaker-runtime", region_name=REGION, endpoint_url=url, config=config)


def gateway_config(url: str) -> dict[str, Any]:
    deployment = {
        "name": "sagemaker",
        "provider": "sagemaker",
        "settings": deployment_settings(ENDPOINT, url),
        "pricing": {"input_per_million": "0.50", "output_per_million": "1.50"},
    }
    return {"models": {"chat": {"deployments": [deployment]}}}


async def per_call(url: str, calls: int) -> dict[str, Any]:
    from llmgateway import Gateway
    from llmgateway.types import ChatCompletionRequest
    from providers.sagemaker import SageMakerProvider

    client = botocore_client(url)
    body = json.dumps({"messages": MESSAGES}).encode()
    request = ChatCompletionRequest.model_validate({"model": "chat", "messages": MESSAGES})
    async with Gateway(gateway_config(url)) as gw:
        provider = gw.deployments()[0].provider
        assert isinstance(provider, SageMakerProvider)

        async def ours() -> None:
            reply = await gw.chat.completions.create(model="chat", messages=MESSAGES)
            assert reply.text()

        async def provider_alone() -> None:
            assert (await provider.chat(request)).text()

        async def botocore_call() -> None:
            answer = client.invoke_endpoint(EndpointName=ENDPOINT, Body=body, ContentType="application/json")
            assert json.loads(answer["Body"].read())["choices"]

        async def ours_stream() -> None:
            stream = await gw.chat.completions.create(model="chat", messages=MESSAGES, stream=True)
            assert [chunk async for chunk in stream]

        async def botocore_stream() -> None:
            answer = client.invoke_endpoint_with_response_stream(
                EndpointName=ENDPOINT, Body=body, ContentType="application/json"
            )
            assert [event["PayloadPart"]["Bytes"] for event in answer["Body"] if "PayloadPart" in event]

        plain = {"gateway": ours, "provider": provider_alone, "botocore": botocore_call}
        streamed = {"gateway": ours_stream, "botocore": botocore_stream}
        await warm(plain, 50)
        await warm(streamed, 50)
        result = {"invoke": await alternate(plain, calls), "stream": await alternate(streamed, calls)}
    client.close()
    return result


def stream_bytes(frames: int) -> bytes:
    """A response stream of ``frames`` PayloadParts, each one OpenAI chat chunk as SSE."""
    chunk = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    chunk["choices"] = [{"index": 0, "delta": {"content": " word"}, "finish_reason": None}]
    event = b"data: " + json.dumps(chunk).encode() + b"\n\n"
    return b"".join(payload_part(event) for _ in range(frames))


def mb_per_second(run: Callable[[list[bytes]], int], reads: list[bytes], size: int, frames: int) -> float:
    best = float("inf")
    for _ in range(5):  # best of five: the least disturbed run
        start = time.perf_counter()
        assert run(reads) == frames
        best = min(best, time.perf_counter() - start)
    return size / 1e6 / best


def decode_throughput(frames: int) -> dict[str, float]:
    from botocore.eventstream import EventStreamBuffer

    from llmgateway.types import ChatCompletionRequest
    from providers.aws.eventstream import EventStreamDecoder
    from providers.aws.sagemaker_messages import MessagesStreamReader
    from providers.aws.sagemaker_payloads import CallInfo, UsageCounter
    from providers.aws.sagemaker_stream import read_event_stream

    data = stream_bytes(frames)
    reads = [data[i : i + READ_BYTES] for i in range(0, len(data), READ_BYTES)]
    request = ChatCompletionRequest.model_validate({"model": "chat", "messages": MESSAGES})

    def botocore_buffer(pieces: list[bytes]) -> int:
        buffer, count = EventStreamBuffer(), 0
        for piece in pieces:
            buffer.add_data(piece)
            for _ in buffer:
                count += 1
        return count

    def our_decoder(pieces: list[bytes]) -> int:
        decoder = EventStreamDecoder()
        count = sum(len(decoder.feed(piece)) for piece in pieces)
        decoder.close()
        return count

    def our_path(pieces: list[bytes]) -> int:
        async def body() -> AsyncIterator[bytes]:
            for piece in pieces:
                yield piece

        async def read_all() -> int:
            reader = MessagesStreamReader(request, CallInfo("bench", "m"), UsageCounter(None))
            return len([chunk async for chunk in read_event_stream(body(), reader, "bench")])

        return asyncio.run(read_all())

    return {
        "megabytes": len(data) / 1e6,
        "frame_bytes": len(data) / frames,
        "botocore_buffer_mb_s": mb_per_second(botocore_buffer, reads, len(data), frames),
        "our_decoder_mb_s": mb_per_second(our_decoder, reads, len(data), frames),
        "our_path_to_chunks_mb_s": mb_per_second(our_path, reads, len(data), frames),
    }


def report(result: dict[str, Any]) -> None:
    for kind, rows in result["per_call"].items():
        print_timings(f"{kind} per call (fake runtime, canned answer)", rows, "botocore")
    decode = result["decode"]
    print(
        f"\nevent-stream decoding, {decode['megabytes']:.1f} MB in {decode['frame_bytes']:.0f}-byte frames, "
        f"{READ_BYTES // 1024} KiB reads"
    )
    print(f"{'botocore EventStreamBuffer directly':<40}{decode['botocore_buffer_mb_s']:>8.1f} MB/s")
    print(f"{'our decoder (frames -> events)':<40}{decode['our_decoder_mb_s']:>8.1f} MB/s")
    print(f"{'our whole path (frames -> chat chunks)':<40}{decode['our_path_to_chunks_mb_s']:>8.1f} MB/s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000, help="calls per variant")
    parser.add_argument("--frames", type=int, default=20000, help="frames in the decoding benchmark")
    args = parser.parse_args(argv)
    with fake_runtime(free_port()) as url:
        calls = asyncio.run(per_call(url, args.calls))
    result = {"calls": args.calls, "per_call": calls, "decode": decode_throughput(args.frames)}
    for kind, rows in calls.items():
        result[f"{kind}_gateway_ratio_vs_botocore"] = ratio(rows, "gateway", "botocore")["median"]
    report(result)
    write_result(RESULTS, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
