"""One local-backend worker process: spawn it on a free port, wait for /ping, stop its group.

The elastic pool (``local_backend.replicas``) owns many of these; this module knows nothing of
scaling. On Linux each worker gets SIGKILL if the thread that started it dies
(``PR_SET_PDEATHSIG``), so a crashed parent leaves no workers behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from llmgateway.errors import ServiceUnavailableError

if TYPE_CHECKING:
    from providers.openai_compat import OpenAICompatProvider

logger = logging.getLogger(__name__)

CommandFactory = Callable[[int], Sequence[str]]
EnvFactory = Callable[[int], Mapping[str, str]]

_LOG_TAIL_BYTES = 4096
_PING_TIMEOUT = 5.0  # a worker busy loading may answer slowly


class ReplicaStartError(ServiceUnavailableError):
    """A worker died or did not answer its health check within the startup timeout."""


def serve_command(
    model: str = "tiny", host: str = "127.0.0.1", options: Sequence[str] = ()
) -> CommandFactory:
    """The default worker: ``python -m local_backend serve --model M --host H --port P`` plus any
    further server ``options`` (``--device cuda``, ``--max-batch 16``, ...)."""

    def command(port: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "local_backend",
            "serve",
            "--model",
            model,
            "--host",
            host,
            "--port",
            str(port),
            *options,
        ]

    return command


def one_gpu_per_replica(index: int) -> dict[str, str]:
    """A ``replica_env`` that pins replica slot ``index`` to GPU ``index``."""
    return {"CUDA_VISIBLE_DEVICES": str(index)}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------------------------------------
# One worker process
# ---------------------------------------------------------------------------------------------


class ReplicaState(enum.Enum):
    STARTING = "starting"
    READY = "ready"
    STOPPING = "stopping"


def _parent_death_hook() -> Callable[[], None] | None:
    """A preexec hook asking Linux to SIGKILL the child when the forking thread dies."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def hook() -> None:  # runs in the child between fork and exec: no allocation-heavy work
        prctl(pr_set_pdeathsig, signal.SIGKILL)

    return hook


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)  # each worker leads its own group (start_new_session)


@dataclass
class Replica:
    """One worker process and its routing state."""

    serial: int  # start order; ties in routing go to the lowest
    slot: int  # 0..max_replicas-1, handed to replica_env (e.g. which GPU)
    port: int
    log_path: Path
    state: ReplicaState = ReplicaState.STARTING
    process: asyncio.subprocess.Process | None = None
    provider: OpenAICompatProvider | None = None
    in_flight: int = 0
    served: int = 0
    last_used: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def log_tail(self, lines: int = 20) -> str:
        try:
            with self.log_path.open("rb") as handle:
                size = handle.seek(0, os.SEEK_END)
                handle.seek(max(0, size - _LOG_TAIL_BYTES))
                text = handle.read().decode("utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])

    async def spawn(self, argv: Sequence[str], env: Mapping[str, str]) -> None:
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                env=dict(env),
                start_new_session=True,
                preexec_fn=_parent_death_hook(),
            )

    async def wait_ready(self, ping_path: str, deadline: float) -> None:
        """Poll ``GET ping_path`` until it answers 200; fail fast if the process exits."""
        interval = 0.05
        while True:
            process = self.process
            if process is None or process.returncode is not None:
                code = None if process is None else process.returncode
                raise ReplicaStartError(self._failure(f"worker exited with code {code} while starting"))
            if await _ping(self.port, ping_path, min(_PING_TIMEOUT, max(deadline - time.monotonic(), 0.1))):
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ReplicaStartError(self._failure(f"worker did not answer {ping_path} in time"))
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(process.wait(), min(interval, remaining))
            interval = min(interval * 1.5, 0.5)

    def _failure(self, what: str) -> str:
        tail = self.log_tail()
        output = f"; its output ends with:\n{tail}" if tail else "; it wrote no output"
        return f"replica {self.slot} (port {self.port}, pid {self.pid}): {what}{output}"

    async def terminate(self, grace: float) -> None:
        """SIGTERM the worker's process group, SIGKILL it after ``grace`` seconds."""
        self.state = ReplicaState.STOPPING
        process = self.process
        if process is None:
            return
        if process.returncode is None:
            _signal_group(process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), grace)
            except asyncio.TimeoutError:
                logger.warning("replica %d (pid %d) ignored SIGTERM; killing it", self.slot, process.pid)
                _signal_group(process.pid, signal.SIGKILL)
                await process.wait()
        _signal_group(process.pid, signal.SIGKILL)  # anything the worker left behind in its group


async def _ping(port: int, path: str, timeout: float) -> bool:
    """True when ``GET path`` on 127.0.0.1:port answers HTTP 200 within ``timeout`` seconds."""
    try:
        status_line = await asyncio.wait_for(_status_line(port, path), timeout)
    except (OSError, asyncio.TimeoutError):
        return False
    parts = status_line.split()
    return len(parts) >= 2 and parts[1] == b"200"


async def _status_line(port: int, path: str) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        return await reader.readline()
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
