"""The drop-in proxy against two bare pass-through floors, in one run, on one mock upstream.

Every server is one uvicorn worker in its own process, posting to the same mock upstream (its own
process): the floors (uvicorn + one aiohttp session; uvicorn + one httpx client on the aiohttp
transport) forward bodies with no logic; the proxy (``llmgateway serve``) does auth (a virtual key),
routing, key and deployment rate limits (that never bind) and the SQLite usage ledger. wrk POSTs
the same chat request with the same headers to each: at 32 connections (requests/s, after a
warm-up) and at 1 connection (median latency). Rounds of all three alternate, so drift on the
machine hits them alike; medians over rounds are reported. By default the server under test runs
alone on CPU 1, and wrk and the mock share CPU 0 (a 2-core machine: the same for every server).

    python -m bench.proxy [--rounds 3] [--seconds 10] [--warmup 3] [--no-pin] [--profile-seconds 10]

Targets (issue 7): at 32 connections the proxy does >= 70% of the httpx floor's requests/s and
>= 25% of the aiohttp floor's; at 1 connection it adds < 0.5 ms median latency; its worker's
resident memory stays < 100 MB; every answer is a 200. Exit code 1 when one is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.proxy.load import WrkResult, lua_script, run_wrk
from bench.proxy.report import PROXY, VARIANTS, profile_summary, profile_table, summarize, table
from bench.proxy.servers import (
    Server,
    cli_has_serve,
    create_virtual_key,
    memory_mb,
    new_master_key,
    proxy_config,
    start_floor,
    start_mock,
    start_proxy,
    stop,
    wait_listening,
    wait_ready,
    worker_pid,
    write_config,
)
from bench.sdk_overhead import free_port

RESULTS = Path(__file__).resolve().parents[1] / "results" / "proxy.json"
BODY = json.dumps(
    {
        "model": "chat",
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
        "max_tokens": 16,
    }
).encode()


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _ledger_rows(path: Path) -> int | None:
    try:
        with sqlite3.connect(path) as connection:
            return int(connection.execute("SELECT count(*) FROM llm_usage").fetchone()[0])
    except sqlite3.Error:
        return None


def _measure(
    args: argparse.Namespace, servers: dict[str, Server], scripts: dict[str, Path], load_cpus: str | None
) -> tuple[dict[str, list[float]], dict[str, list[float]], list[WrkResult]]:
    rps: dict[str, list[float]] = {name: [] for name in VARIANTS}
    p50: dict[str, list[float]] = {name: [] for name in VARIANTS}
    proxy_runs: list[WrkResult] = []
    for round_index in range(args.rounds):
        for name in VARIANTS:
            url, script = servers[name].url, scripts[name]
            warm = run_wrk(url, script, threads=2, connections=32, seconds=args.warmup, cpus=load_cpus)
            busy = run_wrk(url, script, threads=2, connections=32, seconds=args.seconds, cpus=load_cpus)
            one = run_wrk(
                url, script, threads=1, connections=1, seconds=args.seconds, latency=True, cpus=load_cpus
            )
            rps[name].append(busy.requests_per_s)
            p50[name].append(one.median_ms)
            if name == PROXY:
                proxy_runs += [warm, busy, one]
            _log(
                f"round {round_index + 1}/{args.rounds} {name:<14} {busy.requests_per_s:>9.0f} req/s @32"
                f"  p50 {one.median_ms:.3f} ms @1  errors {warm.errors + busy.errors + one.errors}"
            )
    return rps, p50, proxy_runs


def _profile(
    args: argparse.Namespace,
    config_path: Path,
    script: Path,
    headers: dict[str, str],
    stats: Path,
    server_cpus: str | None,
    load_cpus: str | None,
) -> dict[str, Any]:
    """A fresh proxy under cProfile: warmed up, profiled from SIGUSR1 through one wrk run."""
    stats.unlink(missing_ok=True)
    proxy = start_proxy(config_path, free_port(), server_cpus, cli=False, profile=stats)
    try:
        wait_ready(proxy, BODY, headers)
        run_wrk(proxy.url, script, threads=2, connections=32, seconds=args.warmup, cpus=load_cpus)
        os.kill(worker_pid(proxy.pid), signal.SIGUSR1)
        time.sleep(0.2)
        profiled = run_wrk(
            proxy.url, script, threads=2, connections=32, seconds=args.profile_seconds, cpus=load_cpus
        )
    finally:
        stop(proxy)
    # In-flight requests at wrk's end are in the profile too; at most 32 of them.
    return profile_summary(str(stats), profiled.requests)


def run(args: argparse.Namespace) -> dict[str, Any]:
    pin = not args.no_pin and (os.cpu_count() or 1) >= 2
    load_cpus, server_cpus = ("0", "1") if pin else (None, None)
    with tempfile.TemporaryDirectory(prefix="bench-proxy-") as directory:
        tmp = Path(directory)
        mock = start_mock(free_port(), load_cpus)
        servers: dict[str, Server] = {}
        try:
            wait_listening(mock)
            config = proxy_config(mock.url, tmp, new_master_key())
            key, auth = create_virtual_key(config)  # before the proxy opens the store
            cli = cli_has_serve()
            launcher = (
                "llmgateway serve" if cli else "llmgateway.server.runner.serve (no `llmgateway serve` yet)"
            )
            token = key or config["server"]["master_key"]
            config_path = write_config(config, tmp / "proxy.yaml")
            headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
            script = tmp / "post.lua"
            script.write_text(lua_script(BODY, headers))
            servers = {
                "floor-aiohttp": start_floor("aiohttp", mock.url, free_port(), server_cpus),
                "floor-httpx": start_floor("httpx", mock.url, free_port(), server_cpus),
                PROXY: start_proxy(config_path, free_port(), server_cpus, cli=cli),
            }
            for server in servers.values():
                answer = json.loads(wait_ready(server, BODY, headers))
                if not answer.get("choices"):
                    raise RuntimeError(f"{server.name} answered without choices: {answer}")
            placement = "server CPU 1, wrk and mock CPU 0" if pin else "none"
            _log(f"proxy authenticates with: {auth}; pinning: {placement}")
            rps, p50, proxy_runs = _measure(args, servers, dict.fromkeys(VARIANTS, script), load_cpus)
            memory = memory_mb(worker_pid(servers[PROXY].pid))
        finally:
            for server in (*servers.values(), mock):
                stop(server)
        ledger_rows = _ledger_rows(tmp / "usage.sqlite")
        profile = None
        if args.profile_seconds > 0:
            mock = start_mock(free_port(), load_cpus)
            try:
                wait_listening(mock)
                # Same stores (the virtual key is in them), the new mock.
                profiled = proxy_config(mock.url, tmp, config["server"]["master_key"])
                config_path = write_config(profiled, tmp / "proxy-profiled.yaml")
                stats = Path(args.profile_out) if args.profile_out else tmp / "proxy.pstats"
                profile = _profile(args, config_path, script, headers, stats, server_cpus, load_cpus)
            finally:
                stop(mock)
    errors = sum(r.errors for r in proxy_runs)
    result = summarize(rps, p50, memory, errors)
    return {
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "pinning": "server under test on CPU 1; wrk and the mock upstream on CPU 0" if pin else "none",
        "auth": auth,
        "proxy_launched_by": launcher,
        "wrk": {
            "busy": "-t2 -c32",
            "latency": "-t1 -c1 --latency",
            "seconds": args.seconds,
            "warmup_seconds": args.warmup,
            "rounds": args.rounds,
        },
        "proxy_requests_counted_by_wrk": sum(r.requests for r in proxy_runs),
        "ledger_rows": ledger_rows,
        **result,
        "profile": profile,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of all three servers")
    parser.add_argument("--seconds", type=int, default=10, help="per wrk measurement")
    parser.add_argument("--warmup", type=int, default=3, help="wrk at 32 connections before each")
    parser.add_argument("--no-pin", action="store_true", help="let the OS place every process")
    parser.add_argument("--profile-seconds", type=int, default=10, help="0: no profile")
    parser.add_argument("--profile-out", help="keep the proxy's pstats file here")
    args = parser.parse_args(argv)
    result = run(args)
    print(f"\nproxy: {result['proxy_launched_by']}, authenticated with a {result['auth']}")
    print(f"pinning: {result['pinning']}")
    print(table(result))
    print(
        f"ledger rows: {result['ledger_rows']} (wrk counted {result['proxy_requests_counted_by_wrk']} "
        "proxy answers, not those in flight when it stopped)"
    )
    if result["profile"] is not None:
        print("\n" + profile_table(result["profile"]))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    print(f"\nwrote {RESULTS}" + ("" if result["passed"] else "; a target was missed"), file=sys.stderr)
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
