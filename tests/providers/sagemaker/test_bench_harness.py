"""bench.sagemaker's harness (not the benchmark): both clients get answers from the fake runtime
process, the result reports what was measured (calls, medians, p95s), and every decoder reads
every frame."""

from __future__ import annotations

import asyncio

import pytest

from bench.sagemaker import decode_throughput, fake_runtime, per_call
from bench.sdk_overhead import free_port
from tests.providers.timing_spy import TurnsSpy


def test_per_call_variants_all_answer_and_the_result_is_what_was_measured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spy = TurnsSpy(monkeypatch)
    with fake_runtime(free_port()) as url:
        result = asyncio.run(per_call(url, 5))
    assert set(result["invoke"]) == {"gateway", "provider", "botocore"}
    assert set(result["stream"]) == {"gateway", "botocore"}
    spy.check(result["invoke"], 5)
    spy.check(result["stream"], 5)


def test_decoders_read_every_frame() -> None:
    result = decode_throughput(300)  # each decoder's frame count is checked inside, on every run
    assert result["megabytes"] == pytest.approx(300 * result["frame_bytes"] / 1e6)
    assert all(
        result[key] > 0 for key in ("botocore_buffer_mb_s", "our_decoder_mb_s", "our_path_to_chunks_mb_s")
    )
