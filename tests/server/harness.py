"""A real proxy on localhost: uvicorn (uvloop, httptools) in a background thread, on a free port."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

from llmgateway.server.app import create_app
from llmgateway.server.state import ServerState

MASTER_KEY = "sk-test-master-key-0123456789"


def mock_config(**server: Any) -> dict[str, Any]:
    """Mock deployments for every kind of answer and failure the tests need."""
    return {
        "models": {
            "chat": {"deployments": [{"name": "mock-chat", "provider": "mock"}]},
            "other": {"deployments": [{"name": "mock-other", "provider": "mock"}]},
            "slow": {"deployments": [{"name": "mock-slow", "provider": "mock", "settings": {}}]},
            "slowstream": {"deployments": [{"name": "mock-slowstream", "provider": "mock", "settings": {}}]},
            "broken": {
                "routing": {"retry": {"max_rounds": 1}},
                "deployments": [
                    {
                        "name": "mock-broken",
                        "provider": "mock",
                        "settings": {"script": [{"fault": "error", "status": 500}], "repeat": True},
                    }
                ],
            },
            "broke": {
                "deployments": [
                    {
                        "name": "mock-broke",
                        "provider": "mock",
                        "settings": {"script": [{"fault": "error", "status": 402}], "repeat": True},
                    }
                ]
            },
            "limited": {"deployments": [{"name": "mock-limited", "provider": "mock"}]},
        },
        "limits": {"models": {"limited": {"rpm": 60, "max_wait": 0}}},
        "shutdown": {"drain_seconds": 1},
        "server": {"master_key": MASTER_KEY, **server},
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RunningServer:
    def __init__(self, config: dict[str, Any]) -> None:
        import uvicorn

        self.app = create_app(config)
        self.state: ServerState = self.app.state.server
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = uvicorn.Server(
            uvicorn.Config(
                self.app,
                host="127.0.0.1",
                port=self.port,
                loop="uvloop",
                http="httptools",
                log_level="warning",
                access_log=False,
                lifespan="on",
            )
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> RunningServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the proxy did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
