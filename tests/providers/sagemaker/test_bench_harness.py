"""bench.sagemaker's harness (not the benchmark): both clients get answers from the fake runtime
process, and every decoder reads every frame."""

from __future__ import annotations

import asyncio

from bench.sagemaker import decode_throughput, fake_runtime, per_call
from bench.sdk_overhead import free_port


def test_per_call_variants_all_answer() -> None:
    with fake_runtime(free_port()) as url:
        result = asyncio.run(per_call(url, 3))
    assert set(result["invoke"]) == {"gateway", "provider", "botocore"}
    assert set(result["stream"]) == {"gateway", "botocore"}
    assert all(row["median_us"] > 0 for rows in result.values() for row in rows.values())


def test_decoders_read_every_frame() -> None:
    result = decode_throughput(300)
    assert result["megabytes"] > 0
    assert all(
        result[key] > 0 for key in ("botocore_buffer_mb_s", "our_decoder_mb_s", "our_path_to_chunks_mb_s")
    )
