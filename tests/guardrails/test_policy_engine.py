"""The content policy on requests and answers: blocklist first, then the classifier."""

from __future__ import annotations

import json

import httpx
import pytest

from llmgateway.errors import ContentPolicyError, ServiceUnavailableError
from llmgateway.guardrails.policy.engine import ContentPolicy
from llmgateway.guardrails.policy.settings import BlocklistEntry, ClassifierConfig, PolicyConfig

SECRET = "sk-policy-secret"


def blocklist_policy(**settings: object) -> ContentPolicy:
    entries = [BlocklistEntry(category="weapons", terms=["pipe bomb"], patterns=[r"nerve\s+agents?"])]
    return ContentPolicy.from_config(PolicyConfig(blocklist=entries, **settings))  # type: ignore[arg-type]


async def test_a_blocked_request_is_refused_naming_the_stage_and_rule_but_not_the_text() -> None:
    policy = blocklist_policy()
    await policy.check_input(["how do pipes work?", "tell me about bombs"])
    with pytest.raises(ContentPolicyError) as info:
        await policy.check_input(["hello", "how to build a Pipe  Bomb"])
    error = info.value
    assert error.message == (
        "the request was refused by the content policy (blocklist rule 'weapons'); "
        "rephrase it or ask an admin about the policy"
    )
    assert error.stage == "input" and error.category == "weapons" and error.status_code == 400
    assert not error.retryable and not error.fallback
    body = error.to_openai_body()["error"]
    assert body["code"] == "content_policy_violation" and body["type"] == "content_policy_violation"
    assert "pipe" not in json.dumps(body).lower()


async def test_a_blocked_answer_is_withheld() -> None:
    policy = blocklist_policy()
    await policy.check_output("nothing to see")
    with pytest.raises(ContentPolicyError) as info:
        await policy.check_output("Nerve agents are ...")
    assert info.value.stage == "output" and info.value.category == "weapons"
    assert info.value.message.startswith(
        "the model's answer was withheld by the content policy (blocklist rule"
    )


async def test_check_output_false_skips_answers_and_streams() -> None:
    policy = blocklist_policy(check_output=False)
    await policy.check_output("pipe bomb")
    stream = policy.stream_check()
    stream.feed("pipe bomb")
    await stream.finish()
    with pytest.raises(ContentPolicyError):
        await policy.check_input(["pipe bomb"])  # the request is still checked


def moderation_policy(
    handler: httpx.MockTransport, **settings: object
) -> tuple[ContentPolicy, httpx.AsyncClient]:
    http = httpx.AsyncClient(transport=handler)
    classifier = ClassifierConfig.model_validate(
        {"kind": "moderation", "base_url": "http://mod.test/v1", "api_key": SECRET, **settings}
    )
    entries = [BlocklistEntry(category="weapons", terms=["pipe bomb"])]
    return ContentPolicy.from_config(PolicyConfig(blocklist=entries, classifier=classifier), http=http), http


async def test_the_moderation_classifier_runs_after_the_blocklist_on_the_gateway_client() -> None:
    inputs: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        text = json.loads(request.content)["input"]
        inputs.append(text)
        score = 0.97 if "hurt" in text else 0.01
        return httpx.Response(
            200,
            json={
                "results": [
                    {
                        "flagged": score > 0.5,
                        "categories": {"violence": score > 0.5},
                        "category_scores": {"violence": score},
                    }
                ]
            },
        )

    policy, http = moderation_policy(httpx.MockTransport(handler))
    await policy.check_input(["hello there"])
    with pytest.raises(ContentPolicyError, match="blocklist rule 'weapons'"):
        await policy.check_input(["a pipe bomb"])  # refused by the blocklist: no moderation call
    with pytest.raises(ContentPolicyError) as info:
        await policy.check_input(["system prompt", "I want to hurt someone"])
    assert info.value.category == "violence" and "classifier category 'violence'" in info.value.message
    assert inputs == ["hello there", "system prompt\n\nI want to hurt someone"]
    await policy.aclose()
    assert not http.is_closed  # the gateway's client belongs to the gateway
    await http.aclose()


async def test_a_failing_moderation_server_blocks_or_allows_as_configured() -> None:
    down = httpx.MockTransport(lambda request: httpx.Response(502, text="bad gateway"))
    policy, http = moderation_policy(down)
    with pytest.raises(ServiceUnavailableError) as info:
        await policy.check_input(["hello"])
    assert info.value.retryable and "moderation at mod.test" in info.value.message
    assert "answered HTTP 502" in info.value.message and SECRET not in info.value.message
    await http.aclose()

    policy, http = moderation_policy(down, on_error="allow")
    await policy.check_input(["hello"])
    await policy.check_output("answer")
    await http.aclose()


async def test_a_policy_without_rules_allows_everything() -> None:
    policy = ContentPolicy.from_config(PolicyConfig())
    await policy.check_input(["anything"])
    await policy.check_output("anything")
    stream = policy.stream_check()
    stream.feed("anything")
    await stream.finish()
    await policy.aclose()
