"""The proxy's error answers are scrubbed with the config's own secrets, not only by shape."""

from __future__ import annotations

from llmgateway.errors import UpstreamServerError
from llmgateway.server.app import create_app
from llmgateway.server.errors import render

PLAIN_SECRET = "plainvalue-no-known-shape-4821"


def test_error_answers_lose_the_configs_secrets() -> None:
    app = create_app(
        {
            "models": {
                "chat": {
                    "deployments": [
                        {
                            "provider": "openai",
                            "settings": {"base_url": "http://127.0.0.1:9/v1", "api_key": PLAIN_SECRET},
                        }
                    ]
                }
            }
        }
    )
    state = app.state.server
    error = UpstreamServerError(f"upstream said: bad key {PLAIN_SECRET}", deployment="chat-0")
    assert PLAIN_SECRET in render(error)[1].decode()  # no credential shape: the default keeps it
    assert PLAIN_SECRET not in render(error, state.scrub)[1].decode()
