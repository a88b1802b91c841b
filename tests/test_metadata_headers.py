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
