"""Starting and stopping the processes under test: the mock upstream, the two floors and the
proxy (``llmgateway serve``), each its own process on 127.0.0.1, optionally pinned to CPUs.

Also the proxy's generated config (every book on, no limit ever binding), its virtual key, and
a launcher: ``python -m bench.proxy.servers --config C --port N [--profile OUT]`` runs
``llmgateway.server.runner.serve`` (what ``llmgateway serve`` runs); with ``--profile`` it
profiles with cProfile from SIGUSR1 on and writes the stats when stopped (SIGINT).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[2]
NEVER_BINDS = {"rpm": 1_000_000_000, "tpm": 1_000_000_000_000}


@dataclass
class Server:
    """One running process and the URL wrk posts to."""

    name: str
    process: subprocess.Popen[bytes]
    url: str
    log: IO[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 30) -> str:
        self.log.flush()
        text = Path(self.log.name).read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def _pinned(command: list[str], cpus: str | None) -> list[str]:
    return ["taskset", "-c", cpus, *command] if cpus is not None else command


def spawn(
    name: str, command: list[str], url: str, cpus: str | None, env: dict[str, str] | None = None
) -> Server:
    # Kept open for the process's life; stop() closes and removes it.
    log = tempfile.NamedTemporaryFile(prefix=f"bench-proxy-{name}-", suffix=".log", delete=False)
    process = subprocess.Popen(
        _pinned(command, cpus),
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )
    return Server(name, process, url, log)


def start_mock(port: int, cpus: str | None) -> Server:
    command = [sys.executable, "-m", "bench.mock_upstream", "--port", str(port)]
    return spawn("mock", command, f"http://127.0.0.1:{port}/v1", cpus)


def start_floor(kind: str, upstream: str, port: int, cpus: str | None) -> Server:
    command = [sys.executable, "-m", "bench.proxy.floors", "--kind", kind, "--upstream", upstream]
    command += ["--port", str(port)]
    return spawn(f"floor-{kind}", command, f"http://127.0.0.1:{port}/v1/chat/completions", cpus)


def cli_has_serve() -> bool:
    """Whether ``llmgateway serve`` is wired into the command line yet."""
    command = [sys.executable, "-m", "llmgateway", "serve", "--help"]
    return subprocess.run(command, cwd=ROOT, capture_output=True, check=False).returncode == 0


def start_proxy(
    config: Path, port: int, cpus: str | None, *, cli: bool = True, profile: Path | None = None
) -> Server:
    """``llmgateway serve`` when ``cli``, else this module's launcher: the same
    ``llmgateway.server.runner.serve`` call, optionally profiled."""
    if cli and profile is None:
        command = [sys.executable, "-m", "llmgateway", "serve", "--config", str(config)]
        command += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    else:
        command = [sys.executable, "-m", "bench.proxy.servers", "--config", str(config)]
        command += ["--port", str(port)] + (["--profile", str(profile)] if profile else [])
    return spawn("proxy", command, f"http://127.0.0.1:{port}/v1/chat/completions", cpus)


def wait_ready(server: Server, body: bytes, headers: dict[str, str], timeout: float = 60.0) -> bytes:
    """Post until the server answers 200 (returns that answer's body); fail with its log when
    it exits, answers anything else for good, or takes longer than ``timeout``."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited {server.process.returncode}:\n{server.log_tail()}")
        request = urllib.request.Request(server.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return bytes(response.read())
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}: {exc.read()[:500]!r}"
            if exc.code not in (502, 503, 404):
                break
        except OSError as exc:
            last = str(exc)
        time.sleep(0.1)
    raise RuntimeError(f"{server.name} at {server.url} is not answering 200 ({last}):\n{server.log_tail()}")


def wait_listening(server: Server, timeout: float = 30.0) -> None:
    """For the mock upstream: wait until it prints that it listens."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited:\n{server.log_tail()}")
        if "listening" in server.log_tail():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{server.name} did not start:\n{server.log_tail()}")


def stop(server: Server, timeout: float = 15.0) -> None:
    """SIGINT first (uvicorn shuts down cleanly, the ledger flushes), then SIGKILL."""
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGINT)
        try:
            server.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=5)
    server.log.close()
    Path(server.log.name).unlink(missing_ok=True)


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def worker_pid(pid: int) -> int:
    """The process that serves: ``pid`` itself, or its last descendant when a launcher (taskset
    exec's, so it is none) or a supervisor stands in between."""
    while children := _children(pid):
        pid = children[-1]
    return pid


def memory_mb(pid: int) -> dict[str, float]:
    """Resident (VmRSS) and peak resident (VmHWM) memory of ``pid``, in MB (10^6 bytes)."""
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) * 1024 / 1e6
    return {"rss_mb": fields["VmRSS"], "peak_rss_mb": fields["VmHWM"]}


def proxy_config(upstream: str, directory: Path, master_key: str) -> dict[str, Any]:
    """One model, one OpenAI deployment on the mock (priced, with a deployment limit), a key
    rate limit, the SQLite ledger and SQLite virtual keys; no limit ever binds. The call log is
    off: it is a stdout line per call, a cost of where the logs go rather than of the proxy."""
    deployment = {
        "name": "mock",
        "provider": "openai",
        "settings": {"base_url": upstream, "model": "mock-model", "api_key": "sk-bench"},
        "pricing": {"input_per_million": "0.15", "output_per_million": "0.60"},
        "limits": NEVER_BINDS,
    }
    return {
        "models": {"chat": {"deployments": [deployment]}},
        "limits": {"backend": "memory", "keys": {"*": NEVER_BINDS}},
        "ledger": {"backend": "sqlite", "path": str(directory / "usage.sqlite")},
        "server": {
            "master_key": master_key,
            "log_calls": False,
            "keys": {"backend": "sqlite", "path": str(directory / "keys.sqlite")},
        },
    }


def write_config(config: dict[str, Any], path: Path) -> Path:
    path.write_text(json.dumps(config, indent=2))  # JSON is YAML
    return path


def new_master_key() -> str:
    return "sk-master-" + secrets.token_hex(16)


def create_virtual_key(config: dict[str, Any]) -> tuple[str | None, str]:
    """A virtual key in the proxy's key store (before it starts), or ``(None, why)`` when the
    key store cannot make one; the benchmark then authenticates with the master key."""
    try:
        from llmgateway.server.keys import build_key_store
        from llmgateway.server.settings import KeyStoreConfig

        store_config = KeyStoreConfig.model_validate(config["server"]["keys"])

        async def create() -> str:
            store = build_key_store(store_config)
            try:
                _, key = await store.create({"name": "bench-proxy", "models": ["chat"], **NEVER_BINDS})
            finally:
                await store.aclose()
            return key

        return asyncio.run(create()), "virtual key"
    except Exception as exc:  # a store still being written must not stop the bench
        return None, f"master key (no virtual key: {type(exc).__name__}: {exc})"


def _profiled_serve(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="llmgateway serve (one worker), maybe under cProfile")
    parser.add_argument("--config", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--profile", help="profile from SIGUSR1 on; the pstats file goes here")
    args = parser.parse_args(argv)

    import cProfile

    from llmgateway.server.runner import serve

    if not args.profile:
        serve(args.config, "127.0.0.1", args.port, 1)
        return
    profiler = cProfile.Profile()
    # Enabled on SIGUSR1, once warm, so start-up and imports stay out of the per-request picture.
    # The handler runs on the main thread, where the event loop runs every request.
    signal.signal(signal.SIGUSR1, lambda *_: profiler.enable())
    try:
        serve(args.config, "127.0.0.1", args.port, 1)
    finally:
        profiler.disable()
        profiler.dump_stats(args.profile)


if __name__ == "__main__":
    _profiled_serve()
