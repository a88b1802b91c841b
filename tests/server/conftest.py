"""One real proxy per test module (uvicorn in a thread), with mock deployments."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.server.harness import RunningServer, mock_config


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with RunningServer(mock_config()) as running:
        yield running
