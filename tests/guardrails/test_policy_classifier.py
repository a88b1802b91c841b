"""Callable classifiers loaded by import path (the plugins below, named
tests.guardrails.test_policy_classifier:<name>), and the timeout / on_error / stages / categories
the policy puts around any classifier."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest

from llmgateway.errors import ConfigError, ContentPolicyError, ServiceUnavailableError
from llmgateway.guardrails.policy.classifier import Classification, Classifier, Stage, load_classifier
from llmgateway.guardrails.policy.engine import ContentPolicy
from llmgateway.guardrails.policy.settings import ClassifierConfig, PolicyConfig

HERE = "tests.guardrails.test_policy_classifier"


# --- plugins, loaded by import path --------------------------------------------------------------


class KeywordClassifier:
    """An object plugin: flags texts with "forbidden" (as "toxicity"), remembers what it saw."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Stage]] = []
        self.closed = False

    async def classify(self, text: str, *, stage: Stage) -> Classification:
        self.seen.append((text, stage))
        flagged = "forbidden" in text
        return Classification(
            flagged=flagged, category="toxicity" if flagged else None, score=0.9 if flagged else 0.1
        )

    async def aclose(self) -> None:
        self.closed = True


keyword_classifier = KeywordClassifier()


async def async_function(text: str, stage: Stage) -> Classification:
    return Classification(flagged="evil" in text, category="evil")


SYNC_THREADS: list[str] = []


def sync_function(text: str, stage: str) -> bool:
    SYNC_THREADS.append(threading.current_thread().name)
    time.sleep(0.01)  # a blocking model: runs in a worker thread, not on the event loop
    return stage == "output" and "leak" in text


def wrong_type(text: str, stage: Stage) -> str:
    return "flagged"


async def slow(text: str, stage: Stage) -> Classification:
    await asyncio.sleep(5)
    return Classification(flagged=False)


async def broken(text: str, stage: Stage) -> Classification:
    raise RuntimeError(f"model crashed on {text}")


async def refuses_itself(text: str, stage: Stage) -> Classification:
    raise ContentPolicyError("refused by the plugin's own rule", stage=stage, category="own")


class BuiltWithoutArguments:
    instances = 0

    def __init__(self) -> None:
        type(self).instances += 1

    def classify(self, text: str, *, stage: Stage) -> Classification:  # a sync method works too
        return Classification(flagged=text == "bad", category="built")


class NeedsArguments:
    def __init__(self, model_path: str) -> None:
        self.model_path = model_path


not_callable = 42


# --- tests -----------------------------------------------------------------------------------------


def policy(attr: str, **settings: object) -> ContentPolicy:
    classifier = ClassifierConfig.model_validate(
        {"kind": "callable", "callable": f"{HERE}:{attr}", **settings}
    )
    return ContentPolicy.from_config(PolicyConfig(classifier=classifier))


async def test_an_object_plugin_flags_with_its_category_at_both_stages() -> None:
    keyword_classifier.seen.clear()
    checks = policy("keyword_classifier")
    await checks.check_input(["hello", "world"])
    with pytest.raises(ContentPolicyError) as info:
        await checks.check_input(["hello", "something forbidden here"])
    error = info.value
    assert error.stage == "input" and error.category == "toxicity" and error.status_code == 400
    assert error.code == "content_policy_violation"
    assert "classifier category 'toxicity'" in error.message and "forbidden" not in error.message
    with pytest.raises(ContentPolicyError) as info:
        await checks.check_output("a forbidden answer")
    assert info.value.stage == "output" and "answer was withheld" in info.value.message
    # The request's texts reach the classifier as one text, with the stage.
    assert keyword_classifier.seen[0] == ("hello\n\nworld", "input")
    assert keyword_classifier.seen[-1] == ("a forbidden answer", "output")
    await checks.aclose()
    assert keyword_classifier.closed


async def test_plain_async_and_sync_functions_are_classifiers() -> None:
    checks = policy("async_function")
    with pytest.raises(ContentPolicyError, match="classifier category 'evil'"):
        await checks.check_input(["an evil plan"])
    await checks.check_input(["a kind plan"])
    await checks.aclose()  # nothing to close on a function: still fine

    SYNC_THREADS.clear()
    checks = policy("sync_function")
    await checks.check_input(["leak"])  # the function only flags at the output stage
    with pytest.raises(ContentPolicyError, match="classifier category 'flagged'") as info:
        await checks.check_output("this would leak")
    assert info.value.category == "flagged"
    assert SYNC_THREADS and all(name != threading.main_thread().name for name in SYNC_THREADS)


async def test_a_class_is_built_without_arguments() -> None:
    before = BuiltWithoutArguments.instances
    checks = policy("BuiltWithoutArguments")
    assert BuiltWithoutArguments.instances == before + 1
    with pytest.raises(ContentPolicyError, match="'built'"):
        await checks.check_input(["bad"])


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("tests.guardrails.no_such_module:thing", "could not be imported"),
        (f"{HERE}:no_such_attr", "has no attribute 'no_such_attr'"),
        (f"{HERE}:not_callable", "neither callable nor has a classify method"),
        (f"{HERE}:NeedsArguments", "cannot be built without arguments"),
    ],
)
def test_loading_errors_say_what_is_wrong(path: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_classifier(ClassifierConfig(kind="callable", callable=path))


def test_loaded_classifiers_satisfy_the_protocol() -> None:
    for attr in ("keyword_classifier", "async_function", "sync_function"):
        assert isinstance(
            load_classifier(ClassifierConfig(kind="callable", callable=f"{HERE}:{attr}")), Classifier
        )


async def test_a_wrong_return_type_is_a_classifier_failure() -> None:
    with pytest.raises(ServiceUnavailableError, match="returned str; it must return a Classification"):
        await policy("wrong_type").check_input(["x"])


async def test_a_timeout_blocks_with_a_retryable_503_naming_the_classifier() -> None:
    started = time.perf_counter()
    with pytest.raises(ServiceUnavailableError) as info:
        await policy("slow", timeout=0.05).check_input(["x"])
    assert time.perf_counter() - started < 2
    error = info.value
    assert error.status_code == 503 and error.retryable
    assert f"{HERE}:slow" in error.message and "no verdict within 0.05s" in error.message
    assert "the request was not sent" in error.message


async def test_a_crash_blocks_without_echoing_the_text() -> None:
    with pytest.raises(ServiceUnavailableError) as info:
        await policy("broken").check_output("my private answer")
    assert "it raised RuntimeError" in info.value.message and "private" not in info.value.message
    assert "the answer was withheld" in info.value.message


async def test_on_error_allow_lets_the_call_through_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    checks = policy("broken", on_error="allow")
    with caplog.at_level(logging.WARNING, logger="llmgateway.guardrails.policy"):
        await checks.check_input(["secret prompt text"])
        await policy("slow", on_error="allow", timeout=0.05).check_output("y")
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2 and all("letting the call through" in m for m in messages)
    assert "input stage" in messages[0] and "output stage" in messages[1]
    assert not any("secret prompt" in m for m in messages)


async def test_a_plugin_may_refuse_in_its_own_words() -> None:
    with pytest.raises(ContentPolicyError, match="plugin's own rule"):
        await policy("refuses_itself").check_input(["x"])


async def test_stages_limit_where_the_classifier_runs() -> None:
    keyword_classifier.seen.clear()
    checks = policy("keyword_classifier", stages=["output"])
    await checks.check_input(["forbidden"])  # not classified at the input stage
    with pytest.raises(ContentPolicyError):
        await checks.check_output("forbidden")
    assert keyword_classifier.seen == [("forbidden", "output")]


async def test_categories_filter_the_labels_that_count() -> None:
    await policy("keyword_classifier", categories=["violence"]).check_input(["forbidden"])
    with pytest.raises(ContentPolicyError):
        await policy("keyword_classifier", categories=["toxicity"]).check_input(["forbidden"])


async def test_empty_texts_are_not_sent_to_the_classifier() -> None:
    keyword_classifier.seen.clear()
    checks = policy("keyword_classifier")
    await checks.check_input([])
    await checks.check_input(["", "  "])
    await checks.check_output("")
    assert keyword_classifier.seen == []
