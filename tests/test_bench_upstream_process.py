"""bench.upstream_process: the upstream's process is reaped and its pipe closed however the block
ends; a child that dies before listening is an error, not a URL; one that ignores SIGTERM is killed."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from bench.upstream_process import free_port, upstream_process


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[subprocess.Popen[str]]:
    """Every process upstream_process starts."""
    processes: list[subprocess.Popen[str]] = []
    popen = subprocess.Popen

    def recording(*args: Any, **kwargs: Any) -> subprocess.Popen[str]:
        processes.append(popen(*args, **kwargs))
        return processes[-1]

    monkeypatch.setattr(subprocess, "Popen", recording)
    return processes


def test_a_child_that_dies_before_listening_is_an_error(started: list[subprocess.Popen[str]]) -> None:
    with pytest.raises(RuntimeError, match=r"bench\.no_such_upstream exited \(status 1\) before"):
        with upstream_process("bench.no_such_upstream", free_port()):
            pytest.fail("yielded a URL for a dead child")
    assert started[0].stdout is not None and started[0].stdout.closed


def test_the_pipe_is_closed_and_the_child_reaped_after_the_block(
    started: list[subprocess.Popen[str]],
) -> None:
    port = free_port()
    with upstream_process("bench.mock_upstream", port, "/v1") as url:
        assert url == f"http://127.0.0.1:{port}/v1"
    assert started[0].returncode is not None
    assert started[0].stdout is not None and started[0].stdout.closed


def test_a_child_that_ignores_sigterm_is_killed(
    started: list[subprocess.Popen[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "stubborn_upstream.py").write_text(
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('listening', flush=True)\n"
        "time.sleep(60)\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    with upstream_process("stubborn_upstream", free_port(), stop_timeout=0.5):
        pass
    assert started[0].returncode == -9
