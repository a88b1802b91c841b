from __future__ import annotations

from llmgateway import Gateway
from llmgateway.metadata_headers import metadata_headers
from providers.mock import MockProvider, ServerError
from tests.payloads import USER


async def test_headers_carry_deployment_attempts_scores_and_cost() -> None:
    gw = Gateway(
        models={"m": [MockProvider(name="bad\nname", script=[ServerError(503)]), MockProvider(name="ok")]}
    )
    reply = await gw.chat.completions.create(model="m", messages=USER)
    assert reply.gateway is not None
    headers = metadata_headers(reply.gateway)
    assert headers["x-llmgateway-deployment"] == "ok"
    assert headers["x-llmgateway-attempts"] == "2"
    assert headers["x-llmgateway-attempt-log"].startswith("bad%0Aname,error,503,")
    assert headers["x-llmgateway-policy"] == "priority"
    assert headers["x-llmgateway-route-scores"] == "bad%0Aname=0;ok=1"
    assert headers["x-llmgateway-cost"] == "0" and headers["x-llmgateway-cost-estimated"] == "false"
    assert all(v.isascii() and "\n" not in v for v in headers.values())


def test_routing_override_from_headers() -> None:
    import pytest

    from llmgateway.errors import BadRequestError
    from llmgateway.routing.override_headers import override_from_headers

    assert override_from_headers({"content-type": "application/json"}) is None
    override = override_from_headers(
        {"x-llmgateway-policy": "cost", "x-llmgateway-max-cost": "0.002", "x-llmgateway-hedging": "true"}
    )
    assert override is not None and override.policy == "cost" and override.hedging is True
    assert str(override.max_cost_per_request) == "0.002"
    with pytest.raises(BadRequestError, match="x-llmgateway-policy"):
        override_from_headers({"x-llmgateway-policy": "fastest"})
