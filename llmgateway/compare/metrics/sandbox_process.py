"""Process plumbing for the code sandbox: capped reads, the report pipe, killing a process
group, and what this machine allows (a network namespace; a standard library nobody can read)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
from pathlib import Path


async def read_capped(stream: asyncio.StreamReader, limit: int) -> bytes:
    """Everything until EOF, keeping the first ``limit`` bytes (the rest is read and dropped)."""
    kept = bytearray()
    while chunk := await stream.read(65536):
        if len(kept) < limit:
            kept += chunk[: limit - len(kept)]
    return bytes(kept)


def drain_pipe(fd: int, limit: int) -> bytes:
    """What the child wrote on the report pipe (its write ends are all closed by now)."""
    os.set_blocking(fd, False)
    data = bytearray()
    while len(data) < limit:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            break
        if not chunk:
            break
        data += chunk
    return bytes(data[:limit])


def stdlib_public() -> bool:
    """Whether any user can read the standard library (every directory above it world-searchable)."""
    import sysconfig

    path = Path(sysconfig.get_paths()["stdlib"]).resolve()
    for directory in (path, *path.parents):
        mode = directory.stat().st_mode
        if not mode & 0o001 or (directory == path and not mode & 0o004):
            return False
    return True


def kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


async def unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    try:
        probe = await asyncio.create_subprocess_exec(
            *("unshare", "--net", "--", "true"),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        return await asyncio.wait_for(probe.wait(), 5.0) == 0
    except (OSError, asyncio.TimeoutError):
        return False
