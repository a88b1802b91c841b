"""The classifier protocol, and loading one from the policy settings.

A plugin is named by import path (``package.module:attr``) and may be an object with
``async classify(text, *, stage)`` (a class is instantiated without arguments), or a plain
function of ``(text, stage)``, async or sync (a sync one runs in a worker thread so a slow model
never stalls the event loop). Every classifier this module hands out has ``aclose``.
"""

from __future__ import annotations

import asyncio
import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from llmgateway.errors import ConfigError

if TYPE_CHECKING:
    import httpx

    from llmgateway.guardrails.policy.settings import ClassifierConfig

Stage = Literal["input", "output"]


@dataclass(frozen=True)
class Classification:
    """A classifier's verdict: ``flagged`` refuses the call; ``category`` names the label that
    matched (never the text); ``score`` is its confidence when the classifier has one."""

    flagged: bool
    category: str | None = None
    score: float | None = None


@runtime_checkable
class Classifier(Protocol):
    async def classify(self, text: str, *, stage: Stage) -> Classification: ...

    async def aclose(self) -> None: ...


class ClassifierFailedError(Exception):
    """The classifier could not give a verdict (an error answer, a bad body, a wrong return type).
    The message says why; it never holds the text classified or a credential."""


class PluginClassifier:
    """A plugin object or function behind the Classifier protocol."""

    def __init__(self, target: Any, name: str) -> None:
        self.name = name
        self._target = target
        self._method = getattr(target, "classify", None)
        if self._method is None and not callable(target):
            raise ConfigError(
                f"classifier '{name}' is neither callable nor has a classify method; point it at an "
                "object with async classify(text, *, stage) or a function of (text, stage)"
            )

    async def classify(self, text: str, *, stage: Stage) -> Classification:
        function = self._method if self._method is not None else self._target
        if inspect.iscoroutinefunction(function):
            result = await function(text, stage=stage)
        else:
            result = await asyncio.to_thread(function, text, stage=stage)
            if inspect.isawaitable(result):
                result = await result
        return _as_classification(result, self.name)

    async def aclose(self) -> None:
        for method_name in ("aclose", "close"):
            method = getattr(self._target, method_name, None)
            if callable(method):
                outcome = method()
                if inspect.isawaitable(outcome):
                    await outcome
                return


def _as_classification(result: Any, name: str) -> Classification:
    if isinstance(result, Classification):
        return result
    if isinstance(result, bool):  # a plain yes/no classifier
        return Classification(flagged=result)
    raise ClassifierFailedError(
        f"classifier '{name}' returned {type(result).__name__}; it must return a Classification "
        "(llmgateway.guardrails.policy.classifier.Classification) or a bool"
    )


def load_classifier(config: ClassifierConfig, *, http: httpx.AsyncClient | None = None) -> Classifier:
    """The classifier a policy's settings describe."""
    if config.kind == "moderation":
        from llmgateway.guardrails.policy.moderation import ModerationClassifier

        return ModerationClassifier(config, http=http)
    path = config.callable or ""
    from llmgateway.guardrails.plugins import import_target

    target = import_target(path, "classifier callable")
    if inspect.isclass(target):
        try:
            target = target()
        except TypeError as exc:
            raise ConfigError(
                f"classifier callable '{path}' is a class that cannot be built without arguments "
                f"({exc}); point it at an instance or a factory-made object instead"
            ) from exc
    return PluginClassifier(target, path)


def classifier_name(config: ClassifierConfig) -> str:
    """How errors and logs name the classifier (never with its key)."""
    if config.kind == "moderation":
        from urllib.parse import urlsplit

        # Only the host: a base URL may carry credentials (https://user:secret@host/v1).
        netloc = urlsplit(config.base_url or "").netloc.rpartition("@")[2]
        return f"moderation at {netloc or 'an unparsable base_url'}"
    return str(config.callable)
