"""A bounded schemathesis run against a real proxy, from its own /openapi.json: generated valid
and invalid requests to every /v1 operation (most with a served model and the master key). No
answer may be a 5xx, every request gets an answer, 200s match the documented schema, and the
proxy still answers /health/live afterwards. bench/fuzz_proxy.py runs the same, bigger."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.fuzz_proxy import fuzz, fuzz_config
from tests.server.harness import MASTER_KEY, RunningServer

EXAMPLES = 80  # per operation and generation mode: ~800 requests, well under a minute


@pytest.fixture(scope="module")
def proxy() -> Iterator[RunningServer]:
    with RunningServer(fuzz_config(MASTER_KEY)) as running:
        yield running


def test_no_server_errors_or_crashes(proxy: RunningServer) -> None:
    report = fuzz(proxy.url, MASTER_KEY, EXAMPLES, seed=1)
    summary = "\n".join(report.lines())
    assert len(report.operations) == 5, summary
    assert report.sent >= 5 * 2 * EXAMPLES * 0.9, summary  # hypothesis may stop early on small spaces
    assert not report.server_errors, summary
    assert not report.crashes, summary
    assert not [m for f in report.operations.values() for m in f.schema_mismatches], summary
    assert report.alive_after, summary
    served = sum(f.statuses[200] for f in report.operations.values())
    refused = sum(f.statuses[400] + f.statuses[401] for f in report.operations.values())
    assert served > report.sent / 4 and refused > 0, summary  # it reached the pipeline, and the checks
