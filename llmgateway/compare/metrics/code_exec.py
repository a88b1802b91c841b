"""pass@1: a model's function run against the item's tests in a sandboxed Python subprocess.

The child (``sandbox_runner.py``) runs with ``python -I -S -B -u``: isolated mode (no PYTHON*
variables, no user site, the script's directory not on sys.path) and no site-packages, so the
code and its tests get the standard library only - the gateway's own packages and credentials
are out of reach and start-up is fast. Around it:

* a wall-clock timeout (the whole process group is killed), and in the child RLIMIT_CPU,
  RLIMIT_AS (1 GiB), RLIMIT_FSIZE, RLIMIT_NOFILE and no core dumps, set by the child itself
  before any untrusted code (``preexec_fn`` is unsafe in a threaded parent such as the gateway);
* an audit hook installed before the code runs that ends it on networking, process creation,
  ctypes, introspection of other frames' secrets and writes outside its directory (see
  ``sandbox_runner``); as root, also a new, empty network namespace (``unshare -n``, probed once
  per sandbox) and a drop to uid/gid 65534 (nobody) when nobody can read the standard library
  (a Python installed under /root cannot be used by nobody; the child then stays root);
* an empty environment, its own temporary directory as cwd, stdin closed, output capped;
* a verdict the code cannot fake by exiting early or printing: the child reports a random
  nonce, that only its audit hook knows, on a private pipe after the tests ran to the end.
"""

from __future__ import annotations

import asyncio
import math
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from llmgateway.compare.metrics.code_extract import extract_code
from llmgateway.compare.metrics.sandbox_process import (
    drain_pipe,
    kill_group,
    read_capped,
    stdlib_public,
    unshare_works,
)

_RUNNER = Path(__file__).with_name("sandbox_runner.py")
_NOBODY = 65534


@dataclass(frozen=True)
class SandboxResult:
    passed: bool
    # "passed", "failed", "timeout", or the child's own report ("error AssertionError: ...",
    # "blocked socket.connect", ...).
    reason: str
    output: str  # the child's stdout and stderr together, at most max_output_bytes
    exit_code: int | None
    seconds: float


class CodeSandbox:
    """Runs generated code plus tests; one instance may serve many concurrent runs."""

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        memory_bytes: int = 1 << 30,
        file_size_bytes: int = 16 << 20,
        open_files: int = 64,
        max_output_bytes: int = 64 << 10,
        python: str = sys.executable,
        network_namespace: bool | None = None,
    ) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        self.timeout = timeout
        self.memory_bytes = memory_bytes
        self.file_size_bytes = file_size_bytes
        self.open_files = open_files
        self.max_output_bytes = max_output_bytes
        self.python = python
        # None: use a new network namespace when this machine allows it (probed on first run).
        self._network_namespace = network_namespace

    async def network_namespace(self) -> bool:
        """Whether runs get their own empty network namespace (``unshare -n`` works here)."""
        if self._network_namespace is None:
            self._network_namespace = await unshare_works()
        return self._network_namespace

    async def run(self, answer: str, tests: str, entry_point: str) -> SandboxResult:
        """Extract the code from ``answer`` and run ``tests`` against its ``entry_point``."""
        prefix = ["unshare", "--net", "--"] if await self.network_namespace() else []
        # Making and removing the directory is disk I/O: in a thread, so the loop never waits on it.
        made = asyncio.ensure_future(
            asyncio.to_thread(_sandbox_directory, extract_code(answer, entry_point), tests)
        )
        try:
            directory = await asyncio.shield(made)
        except asyncio.CancelledError:
            # The thread makes the directory anyway: remove it once it is there.
            made.add_done_callback(_remove_made_directory)
            raise
        try:
            return await self._spawn(prefix, directory, entry_point)
        finally:
            # A cancelled run still removes it: the thread runs to the end even if this await is cut.
            await asyncio.to_thread(shutil.rmtree, directory, ignore_errors=True)

    async def _spawn(self, prefix: list[str], directory: str, entry_point: str) -> SandboxResult:
        nonce = secrets.token_hex(16).encode()
        nonce_read, nonce_write = os.pipe()
        os.write(nonce_write, nonce + b"\n")
        os.close(nonce_write)
        report_read, report_write = os.pipe()
        limits = [math.ceil(self.timeout) + 1, self.memory_bytes, self.file_size_bytes, self.open_files]
        uid = _NOBODY if os.geteuid() == 0 and stdlib_public() else -1
        args = [str(_RUNNER), directory, str(nonce_read), str(report_write), *map(str, limits)]
        command = [*prefix, self.python, "-I", "-S", "-B", "-u", "-X", "utf8", *args, entry_point, str(uid)]
        env = {"PATH": "/usr/bin:/bin", "HOME": directory, "TMPDIR": directory, "LANG": "C.UTF-8"}
        started = time.monotonic()
        try:
            process = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                cwd=directory,
                env=env,
                pass_fds=(nonce_read, report_write),
                start_new_session=True,  # its own process group, killed as one
            )
        finally:
            os.close(nonce_read)
            os.close(report_write)
        try:
            timed_out, output = await self._wait(process)
            report = drain_pipe(report_read, self.max_output_bytes)
        finally:
            os.close(report_read)
            if process.returncode is None:
                kill_group(process.pid)
                await process.wait()
        seconds = time.monotonic() - started
        passed = not timed_out and (nonce + b" passed") in report.splitlines()
        if passed or timed_out:
            reason = "passed" if passed else "timeout"
        else:
            reason = _failure_reason(report, process.returncode)
        text = output.decode("utf-8", "replace")
        return SandboxResult(passed, reason, text, process.returncode, seconds)

    async def _wait(self, process: asyncio.subprocess.Process) -> tuple[bool, bytes]:
        assert process.stdout is not None
        reader = asyncio.ensure_future(read_capped(process.stdout, self.max_output_bytes))
        timed_out = False
        try:
            try:
                await asyncio.wait_for(process.wait(), self.timeout)
            except asyncio.TimeoutError:
                timed_out = True
                kill_group(process.pid)
                await process.wait()
            try:
                # The group is gone, so the pipe closes; the bound guards against the unexpected.
                output = await asyncio.wait_for(reader, 5.0)
            except asyncio.TimeoutError:
                output = b""
        finally:
            reader.cancel()  # when the run itself is cancelled
        return timed_out, output


def _sandbox_directory(code: str, tests: str) -> str:
    """A fresh private directory holding ``solution.py`` and ``tests.py`` (small, local writes)."""
    directory = tempfile.mkdtemp(prefix="llmgw-sandbox-")
    Path(directory, "solution.py").write_text(code, encoding="utf-8")
    Path(directory, "tests.py").write_text(tests, encoding="utf-8")
    return directory


def _remove_made_directory(made: asyncio.Future[str]) -> None:
    """Done callback of a cancelled run's directory making: remove what it made, in a thread."""
    if made.cancelled() or made.exception() is not None:
        return
    made.get_loop().run_in_executor(None, shutil.rmtree, made.result(), True)


def _failure_reason(report: bytes, exit_code: int | None) -> str:
    # The child's own reports; anything else on the pipe was written by the code under test.
    lines = [
        line.decode("utf-8", "replace")
        for line in report.splitlines()
        if line.startswith((b"error ", b"blocked "))
    ]
    if lines:
        return lines[-1][:300]
    if exit_code is not None and exit_code < 0:
        try:
            return f"killed by {signal.Signals(-exit_code).name}"
        except ValueError:
            return f"killed by signal {-exit_code}"
    return f"failed (exit code {exit_code}, tests did not complete)"
