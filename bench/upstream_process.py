"""An upstream server for a benchmark, run in its own process so that it is not what the
benchmark measures: ``python -m <module> --port N``, up once it prints its first line."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def upstream_process(module: str, port: int, path: str = "", *, stop_timeout: float = 10.0) -> Iterator[str]:
    """Runs ``module`` on 127.0.0.1:``port`` for the block; yields its base URL (+ ``path``).
    RuntimeError when it exits before its first line; at the end it gets SIGTERM, then SIGKILL
    after ``stop_timeout`` seconds."""
    process = subprocess.Popen(
        [sys.executable, "-m", module, "--port", str(port)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        # "listening on ...": it accepts connections from here on; nothing (end of file): it died.
        if not process.stdout.readline():
            status = process.wait()
            raise RuntimeError(f"{module} exited (status {status}) before it was listening on port {port}")
        yield f"http://127.0.0.1:{port}{path}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=stop_timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
