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
def upstream_process(module: str, port: int, path: str = "") -> Iterator[str]:
    """Runs ``module`` on 127.0.0.1:``port`` for the block; yields its base URL (+ ``path``)."""
    process = subprocess.Popen(
        [sys.executable, "-m", module, "--port", str(port)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        process.stdout.readline()  # "listening on ...": it accepts connections from here on
        yield f"http://127.0.0.1:{port}{path}"
    finally:
        process.terminate()
        process.wait(timeout=10)
