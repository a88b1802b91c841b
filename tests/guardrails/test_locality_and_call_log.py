"""Which deployments count as local (exempt from redaction), and prompts in the call log."""

from __future__ import annotations

import json
import logging

import pytest

from llmgateway.guardrails.locality import is_loopback_url, keeps_data_local
from llmgateway.routing.deployment import Deployment
from llmgateway.server.call_log import CallLog
from llmgateway.server.metrics import Metrics


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://127.0.0.1:8080/v1", True),
        ("http://localhost:8080/v1", True),
        ("http://[::1]:8080/v1", True),
        ("http://127.9.9.9/v1", True),
        ("http://10.0.0.5:8080/v1", False),
        ("https://api.example.com/v1", False),
        ("http://localhost.example.com/v1", False),
    ],
)
def test_loopback_urls(url: str, local: bool) -> None:
    assert is_loopback_url(url) is local


def test_local_backend_in_process_or_on_loopback_keeps_data_local() -> None:
    from providers.local import LocalProvider, LocalSettings
    from providers.mock import MockProvider

    def local(**settings: object) -> Deployment:
        return Deployment(name="l", provider=LocalProvider("l", LocalSettings.model_validate(settings)))

    assert keeps_data_local(local())
    assert keeps_data_local(local(mode="http", base_url="http://127.0.0.1:8080/v1"))
    assert not keeps_data_local(local(mode="http", base_url="http://gpu-box.internal:8080/v1"))
    assert not keeps_data_local(Deployment(name="m", provider=MockProvider()))


def test_logged_prompts_are_scrubbed(caplog: pytest.LogCaptureFixture) -> None:
    from llmgateway.guardrails.guard import Guardrails
    from llmgateway.guardrails.settings import GuardrailsConfig

    guardrails = Guardrails(GuardrailsConfig.model_validate({"pii": {}}), {})
    log = CallLog(Metrics(), {"chat"}, log_prompts=True, scrub=guardrails.scrub)
    caplog.set_level(logging.INFO, logger="llmgateway.calls")
    text = {
        "prompt": [{"role": "user", "content": "mail jane.doe@example.com"}],
        "answer": "ok jane.doe@example.com",
    }
    log.record("chat", "chat", None, 200, 0.0, "completed", text=text)
    line = json.loads(caplog.records[-1].getMessage())
    assert line["prompt"][0]["content"] == "mail <EMAIL_1>"
    assert line["answer"] == "ok <EMAIL_1>"


def test_logged_prompts_are_left_alone_without_a_pii_section(tmp_path: object) -> None:
    """Virtual keys may bring their own PII mode, but the call log's text is scrubbed only when
    the config asks for PII redaction (and nothing is scanned for a call whose mode is off)."""
    from pathlib import Path

    from llmgateway.server.app import create_app

    assert isinstance(tmp_path, Path)
    config = {
        "models": {"chat": {"deployments": [{"provider": "mock"}]}},
        "server": {
            "master_key": "sk-test-master-key-0123456789",
            "keys": {"path": str(tmp_path / "k.sqlite")},
        },
    }
    state = create_app(config).state.server
    assert state.calls._scrub is None and state.gateway.guardrails is None
