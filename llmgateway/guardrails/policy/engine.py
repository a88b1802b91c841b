"""The content policy: refuse a request, or withhold an answer, that breaks a blocklist rule or that
the classifier flags.

The blocklist runs first (microseconds); the classifier only runs on text the blocklist passed,
and only at the stages it is configured for. A classifier that fails or times out refuses the call
(503, retryable) or lets it through with a warning, as ``on_error`` says. ``redact`` is what the
classifier may see of a text: a moderation service is a remote party like any other, so with PII
redaction on it gets the placeholders, never the values.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from llmgateway.errors import ConfigError, ContentPolicyError, PolicyCheckFailedError
from llmgateway.guardrails.policy.blocklist import Blocklist
from llmgateway.guardrails.policy.classifier import (
    Classifier,
    Stage,
    classifier_name,
    load_classifier,
)
from llmgateway.guardrails.policy.stream_check import StreamPolicyCheck

if TYPE_CHECKING:
    import httpx

    from llmgateway.guardrails.policy.settings import BlocklistEntry, ClassifierConfig, PolicyConfig

logger = logging.getLogger("llmgateway.guardrails.policy")
Redact = Callable[[str], str]


def refusal(stage: Stage, source: str, category: str) -> ContentPolicyError:
    """The error for a refused call: names the stage and the rule (``source`` is "blocklist rule"
    or "classifier category"), never the text that matched."""
    rule = f"{source} '{category}'"
    if stage == "input":
        message = (
            f"the request was refused by the content policy ({rule}); rephrase it or ask an admin "
            "about the policy"
        )
    else:
        message = (
            f"the model's answer was withheld by the content policy ({rule}); rephrase the request "
            "or ask an admin about the policy"
        )
    return ContentPolicyError(message, stage=stage, category=category)


class GuardedClassifier:
    """A classifier with the policy's stages, label filter, timeout and on_error around it."""

    def __init__(self, classifier: Classifier, config: ClassifierConfig) -> None:
        self.classifier = classifier
        self.name = classifier_name(config)
        self.stages = frozenset(config.stages)
        self._only = frozenset(config.categories) if config.categories is not None else None
        self._timeout = config.timeout
        self._block_on_error = config.on_error == "block"

    async def check(self, text: str, stage: Stage) -> None:
        """Raise ContentPolicyError when the classifier flags ``text`` at ``stage``."""
        if stage not in self.stages or not text.strip():
            return
        try:
            verdict = await asyncio.wait_for(self.classifier.classify(text, stage=stage), self._timeout)
        except ContentPolicyError:
            raise  # a plugin may refuse in its own words
        except Exception as exc:
            self._failed(stage, _reason(exc, self._timeout))
            return
        if not verdict.flagged:
            return
        if self._only is not None and verdict.category not in self._only:
            return
        raise refusal(stage, "classifier category", verdict.category or "flagged")

    def _failed(self, stage: Stage, reason: str) -> None:
        if self._block_on_error:
            what = "the request was not sent" if stage == "input" else "the answer was withheld"
            raise PolicyCheckFailedError(
                f"the content policy classifier ({self.name}) failed: {reason}; {what}. Try again "
                "shortly, or ask an admin to check the classifier (or set its on_error: allow)"
            )
        logger.warning(
            "content policy classifier (%s) failed at the %s stage: %s; letting the call through "
            "(on_error: allow)",
            self.name,
            stage,
            reason,
        )


def _reason(exc: Exception, timeout: float) -> str:
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return f"no verdict within {timeout:g}s"
    from llmgateway.guardrails.policy.classifier import ClassifierFailedError

    if isinstance(exc, ClassifierFailedError):
        return str(exc)
    # A plugin's own exception text may quote the text it was given: only its type is shown.
    return f"it raised {type(exc).__name__}"


class ContentPolicy:
    def __init__(
        self,
        blocklist: Blocklist,
        *,
        classifier: GuardedClassifier | None = None,
        check_output: bool = True,
    ) -> None:
        self.blocklist = blocklist
        self.classifier = classifier
        self.checks_output = check_output

    @classmethod
    def from_config(cls, config: PolicyConfig, *, http: httpx.AsyncClient | None = None) -> ContentPolicy:
        entries: list[BlocklistEntry] = list(config.blocklist)
        if config.blocklist_file:
            entries.extend(read_blocklist_file(config.blocklist_file))
        classifier = None
        if config.classifier is not None:
            classifier = GuardedClassifier(load_classifier(config.classifier, http=http), config.classifier)
        return cls(Blocklist(entries), classifier=classifier, check_output=config.check_output)

    async def check_input(self, texts: Sequence[str], *, redact: Redact | None = None) -> None:
        """Raise ContentPolicyError(stage="input") when the request's texts break the policy."""
        found = self.blocklist.first_match(texts)
        if found is not None:
            raise refusal("input", "blocklist rule", found.category)
        if self.classifier is not None and "input" in self.classifier.stages:
            # One classification per request: its texts joined, so a long chat costs one call.
            joined = "\n\n".join(texts)
            await self.classifier.check(redact(joined) if redact is not None else joined, "input")

    async def check_output(self, text: str, *, redact: Redact | None = None) -> None:
        """Raise ContentPolicyError(stage="output") when the answer breaks the policy."""
        if not self.checks_output:
            return
        found = self.blocklist.search(text)
        if found is not None:
            raise refusal("output", "blocklist rule", found.category)
        await self._classify_output(text, redact)

    def stream_check(self, *, redact: Redact | None = None) -> StreamPolicyCheck:
        """A fresh check for one streamed answer."""
        classify_at_end = (
            self.classifier is not None and "output" in self.classifier.stages and self.checks_output
        )

        async def classify(text: str) -> None:
            await self._classify_output(text, redact)

        return StreamPolicyCheck(
            self.blocklist,
            enabled=self.checks_output,
            final_check=classify if classify_at_end else None,
        )

    async def _classify_output(self, text: str, redact: Redact | None) -> None:
        if self.classifier is not None and "output" in self.classifier.stages:
            await self.classifier.check(redact(text) if redact is not None else text, "output")

    async def aclose(self) -> None:
        if self.classifier is not None:
            await self.classifier.classifier.aclose()


def read_blocklist_file(path: str) -> Iterable[BlocklistEntry]:
    """The entries of a YAML or JSON blocklist file (a list of entries), validated; ConfigError
    naming the file and the entry at fault otherwise."""
    from pydantic import TypeAdapter, ValidationError

    from llmgateway.config import describe_validation_error, read_yaml
    from llmgateway.guardrails.policy.settings import BlocklistEntry

    data = read_yaml(path)
    if not isinstance(data, list):
        raise ConfigError(
            f"{path}: a blocklist file holds a list of entries, e.g. "
            "- {category: weapons, terms: [pipe bomb]}"
        )
    try:
        return TypeAdapter(list[BlocklistEntry]).validate_python(data)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {describe_validation_error(exc)}") from exc
