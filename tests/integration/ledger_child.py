"""A gateway process under load, for the signal tests: prints the request id of every answered
call (one per line, flushed) and records each in a SQLite ledger."""

from __future__ import annotations

import asyncio
import sys

from llmgateway import Gateway
from llmgateway.errors import ServiceUnavailableError


def _gateway(path: str, max_pending: int) -> Gateway:
    return Gateway(
        {
            "models": {"chat": {"deployments": [{"provider": "mock", "settings": {"latency_ms": 1}}]}},
            "ledger": {"backend": "sqlite", "path": path, "flush_interval": 1.0, "max_pending": max_pending},
            "shutdown": {"drain_seconds": 5},
        }
    )


async def main(paths: list[str], max_pending: int) -> None:
    """One gateway per ledger path, all in this process, all under load."""
    gateways = [_gateway(path, max_pending) for path in paths]

    async def worker(gateway: Gateway) -> None:
        while True:
            try:
                reply = await gateway.chat.completions.create(
                    model="chat", messages=[{"role": "user", "content": "hi"}], caller="load"
                )
            except ServiceUnavailableError:  # shutting down: no new calls
                return
            assert reply.gateway is not None
            sys.stdout.write(f"{reply.gateway.request_id}\n")
            sys.stdout.flush()

    print("ready", flush=True)
    await asyncio.gather(*(worker(gateway) for gateway in gateways for _ in range(8)))
    await asyncio.sleep(3600)  # the SIGTERM handler ends the process


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1].split(","), int(sys.argv[2])))
