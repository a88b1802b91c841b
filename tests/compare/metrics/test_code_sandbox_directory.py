"""The sandbox's directory is made and removed in a worker thread, not on the event loop (both are
file-system calls that can stall on a slow or busy disk), and removed even when the run fails."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from llmgateway.compare.metrics import code_exec
from llmgateway.compare.metrics.code_exec import CodeSandbox

RIGHT = "def add(a, b):\n    return a + b\n"
TESTS = "assert add(1, 2) == 3\n"


def gone(directory: str) -> bool:
    return not Path(directory).exists()


@pytest.fixture
def threads_seen(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Which thread made and which removed each sandbox directory (the real calls still run)."""
    seen: dict[str, list[str]] = {"made": [], "removed": []}
    mkdtemp, rmtree = code_exec.tempfile.mkdtemp, code_exec.shutil.rmtree

    def recording_mkdtemp(*args: object, **kwargs: object) -> str:
        seen["made"].append(threading.current_thread().name)
        return mkdtemp(*args, **kwargs)  # type: ignore[call-overload,no-any-return]

    def recording_rmtree(path: str, *args: object, **kwargs: object) -> None:
        seen["removed"].append(threading.current_thread().name)
        rmtree(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(code_exec.tempfile, "mkdtemp", recording_mkdtemp)
    monkeypatch.setattr(code_exec.shutil, "rmtree", recording_rmtree)
    return seen


async def test_the_directory_is_made_and_removed_off_the_loop(threads_seen: dict[str, list[str]]) -> None:
    loop_thread = threading.current_thread().name
    result = await CodeSandbox(timeout=5.0).run(RIGHT, TESTS, "add")
    assert result.passed
    assert len(threads_seen["made"]) == 1 and len(threads_seen["removed"]) == 1
    assert loop_thread not in threads_seen["made"] + threads_seen["removed"]


async def test_the_directory_is_removed_when_the_run_fails_to_start(
    threads_seen: dict[str, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[str] = []
    make = code_exec._sandbox_directory

    def remember(code: str, tests: str) -> str:
        made.append(make(code, tests))
        return made[-1]

    monkeypatch.setattr(code_exec, "_sandbox_directory", remember)
    sandbox = CodeSandbox(timeout=5.0, python=str(tmp_path / "no-such-python"), network_namespace=False)
    with pytest.raises(FileNotFoundError):
        await sandbox.run(RIGHT, TESTS, "add")
    assert len(made) == 1 and gone(made[0])
    assert len(threads_seen["removed"]) == 1


async def test_a_run_cancelled_while_its_directory_is_being_made_still_removes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[str] = []
    release = threading.Event()
    make = code_exec._sandbox_directory

    def slow_disk(code: str, tests: str) -> str:
        release.wait(5)  # still making it when the run is cancelled
        made.append(make(code, tests))
        return made[-1]

    monkeypatch.setattr(code_exec, "_sandbox_directory", slow_disk)
    run = asyncio.ensure_future(CodeSandbox(timeout=5.0, network_namespace=False).run(RIGHT, TESTS, "add"))
    await asyncio.sleep(0.05)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    release.set()
    for _ in range(200):  # the thread finishes on its own time; its directory goes after it
        if made and gone(made[0]):
            break
        await asyncio.sleep(0.01)
    assert len(made) == 1 and gone(made[0])
