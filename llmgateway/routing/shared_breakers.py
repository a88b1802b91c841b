"""Circuit-breaker state shared by replicas through Redis.

When a replica opens a deployment's breaker, it publishes the opening (deployment, seconds) on a
Redis channel and keeps it under a key that expires with it; every other replica subscribed to
the channel opens its own breaker of that deployment for as long, and a replica that starts
later reads the openings still running. Nothing is read per call: sharing costs one message per
opening. Half-open probing stays each replica's own.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from llmgateway.routing.deployment import Deployment

logger = logging.getLogger(__name__)


class ClusterConfig(BaseModel):
    """What replicas share besides limits, cache, budgets and the ledger (each of which names its
    own store): circuit-breaker state."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    redis_url: str = Field(min_length=1)
    prefix: str = "llmgw:"


class SharedBreakers:
    def __init__(self, config: ClusterConfig, deployments: list[Deployment]) -> None:
        self._config = config
        self._channel = f"{config.prefix}breakers"
        self._by_name = {d.name: d for d in deployments}
        self._origin = os.urandom(8).hex()  # this replica: its own messages are not applied twice
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: Any = None
        self._listener: asyncio.Task[None] | None = None
        self._sends: set[asyncio.Task[None]] = set()
        for deployment in deployments:
            deployment.breaker.on_open = self._opened

    def _key(self, name: str) -> str:
        return f"{self._config.prefix}breaker:{name}"

    def ensure(self) -> None:
        """Listen on the loop the gateway is used from (started by the first call there)."""
        loop = asyncio.get_running_loop()
        if self._loop is loop and self._listener is not None and not self._listener.done():
            return
        import redis.asyncio as redis

        self._loop = loop
        self._client = redis.from_url(self._config.redis_url)  # connects on first use
        self._listener = loop.create_task(self._run())

    async def _run(self) -> None:
        try:
            pubsub = self._client.pubsub()
            await pubsub.subscribe(self._channel)
            await self._catch_up()
        except Exception as exc:
            logger.warning(
                "shared breakers: Redis at %s failed (%s); breakers are local", self._config.redis_url, exc
            )
            return
        await self._listen(pubsub)

    async def _catch_up(self) -> None:
        """Openings decided before this replica listened, still running."""
        names = list(self._by_name)
        if not names:
            return
        async with self._client.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.pttl(self._key(name))
            remaining = await pipe.execute()
        now = time.monotonic()
        for name, ms in zip(names, remaining, strict=True):
            if isinstance(ms, int) and ms > 0:
                self._by_name[name].breaker.open_elsewhere(ms / 1000.0, now)

    async def _listen(self, pubsub: Any) -> None:
        try:
            async for message in pubsub.listen():
                if message.get("type") != "message":
                    continue
                try:
                    event = json.loads(message["data"])
                    deployment = self._by_name.get(event["deployment"])
                    if deployment is not None and event["origin"] != self._origin:
                        deployment.breaker.open_elsewhere(float(event["seconds"]), time.monotonic())
                except (KeyError, TypeError, ValueError) as exc:
                    logger.warning("shared breakers: ignored a malformed message (%s)", exc)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis went away: breakers stay local until the next ensure()
            logger.warning(
                "shared breakers: Redis at %s failed (%s); breakers are local now",
                self._config.redis_url,
                exc,
            )
        finally:
            await pubsub.aclose()

    def _opened(self, name: str, seconds: float) -> None:
        if self._client is None or self._loop is None or self._loop.is_closed():
            return
        message = json.dumps({"deployment": name, "seconds": seconds, "origin": self._origin})
        task = self._loop.create_task(self._send(name, seconds, message))
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    async def _send(self, name: str, seconds: float, message: str) -> None:
        try:
            await self._client.set(self._key(name), "open", px=max(1, int(seconds * 1000)))
            await self._client.publish(self._channel, message)
        except Exception as exc:
            logger.warning("shared breakers: could not tell other replicas that %s opened (%s)", name, exc)

    async def aclose(self) -> None:
        if self._sends:
            await asyncio.gather(*self._sends, return_exceptions=True)
        listener, self._listener = self._listener, None
        if listener is not None and listener.get_loop() is asyncio.get_running_loop():
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
