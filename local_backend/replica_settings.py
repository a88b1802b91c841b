"""The replica pool's settings, checked once when the pool is built (``local_backend.replicas``).

Seconds are floats; the meaning of each bound is spelled out in ``local_backend.scaling`` (when to
start or stop a replica) and ``local_backend.replica_lifecycle`` (how one is started).
"""

from __future__ import annotations

from dataclasses import dataclass

from local_backend.replica_process import CommandFactory, EnvFactory
from local_backend.scaling import ScalingPolicy


@dataclass(frozen=True)
class ReplicaPoolSettings:
    command: CommandFactory  # port -> argv of one worker
    name: str = "local-replicas"
    min_replicas: int = 1
    max_replicas: int = 1
    max_concurrency: int = 8  # calls one replica holds at once
    max_queue: int = 128  # calls waiting for a slot before RateLimitError
    target_queue_wait: float = 0.5
    wait_window: float = 10.0
    idle_seconds: float = 300.0
    startup_timeout: float = 180.0
    stop_grace: float = 10.0  # SIGTERM to SIGKILL
    scale_interval: float = 0.5
    restart_backoff: float = 1.0
    replica_env: EnvFactory | None = None  # slot -> extra environment (e.g. which GPU)
    ping_path: str = "/ping"
    api_prefix: str = "/v1"  # without a trailing slash
    request_timeout: float | None = None
    max_events: int = 256

    def __post_init__(self) -> None:
        object.__setattr__(self, "api_prefix", self.api_prefix.rstrip("/"))  # frozen: normalised once
        _check(
            0 <= self.min_replicas <= self.max_replicas and self.max_replicas >= 1,
            f"need 0 <= min_replicas <= max_replicas and max_replicas >= 1, "
            f"got min_replicas={self.min_replicas}, max_replicas={self.max_replicas}",
        )
        _check(self.max_concurrency >= 1, f"max_concurrency must be >= 1, got {self.max_concurrency}")
        _check(self.max_queue >= 0, f"max_queue must be >= 0, got {self.max_queue}")
        _check(
            self.min_replicas > 0 or self.max_queue > 0,
            "min_replicas=0 needs max_queue >= 1 (a cold start queues the call that wakes the pool)",
        )
        for label in (
            "target_queue_wait",
            "wait_window",
            "idle_seconds",
            "startup_timeout",
            "stop_grace",
            "scale_interval",
        ):
            value = getattr(self, label)
            _check(value > 0, f"{label} must be > 0 seconds, got {value}")

    def policy(self) -> ScalingPolicy:
        return ScalingPolicy(
            self.min_replicas,
            self.max_replicas,
            self.target_queue_wait,
            self.wait_window,
            self.idle_seconds,
            self.restart_backoff,
        )


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(f"ReplicaPool: {message}")
