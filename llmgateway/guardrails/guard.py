"""The guardrails around each call: one ``Guardrails`` per gateway, one ``CallGuard`` per call.

```
PII scan of the request (unless the call's mode is off, or every deployment is exempt)
  found, mode block  -> only exempt (local) deployments may take the call; none: PiiBlockedError
  found, mode redact -> remote deployments get a copy with placeholders; their answers come back
                        with the values restored; exempt deployments get the original
content policy on the request   -> refused: ContentPolicyError (400), audited
content policy on the answer    -> refused: ContentPolicyError (400), audited, still paid for
```
The classifier (a remote service, often) sees what a remote deployment would: placeholders,
whenever the call's PII mode is not off. A call in which PII was found is neither looked up in nor
written to the response cache.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any

from llmgateway.errors import ContentPolicyError, GatewayError, PiiBlockedError
from llmgateway.guardrails.locality import keeps_data_local
from llmgateway.guardrails.pii.redaction import Redaction
from llmgateway.guardrails.pii.scanner import PiiScanner
from llmgateway.guardrails.settings import GuardrailsConfig, PiiGuardConfig, PiiMode
from llmgateway.guardrails.wire_text import (
    answer_text,
    request_texts,
    restore_chat,
    restore_completion,
    rewritten,
)
from llmgateway.types import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Completion,
    CompletionRequest,
    EmbeddingRequest,
    EmbeddingResponse,
)

if TYPE_CHECKING:
    from llmgateway.audit.log import AuditLog
    from llmgateway.caller import Caller
    from llmgateway.guardrails.policy.engine import ContentPolicy
    from llmgateway.routing.deployment import Deployment
    from llmgateway.routing.route import ModelRoute

logger = logging.getLogger("llmgateway.guardrails")
AnyRequest = ChatCompletionRequest | CompletionRequest | EmbeddingRequest
Chunks = AsyncIterator[ChatCompletionChunk]


def _kinds(found: Mapping[str, int]) -> tuple[str, ...]:
    return tuple(sorted(kind for kind, count in found.items() if count))


class CallGuard:
    """One call's guardrails: which deployments may take it, what each of them is sent, the
    answer's values put back, and the output policy."""

    __slots__ = (
        "_call",
        "_guardrails",
        "classifier_view",
        "found",
        "local_only",
        "redacted",
        "redaction",
    )

    def __init__(
        self,
        guardrails: Guardrails,
        call: tuple[Caller, str, str | None],
        redaction: Redaction | None = None,
        redacted: Any = None,
        local_only: bool = False,
        classifier_view: Callable[[str], str] | None = None,
        found: bool = False,
    ) -> None:
        self._guardrails = guardrails
        self._call = call  # who, which model, the ledger's request id: for the audit log
        self.redaction = redaction  # set only when something was redacted
        self.redacted = redacted  # the request as remote deployments get it
        self.local_only = local_only  # block mode with PII found: exempt deployments only
        self.classifier_view = classifier_view  # what the classifier may see of a text
        self.found = found  # PII found where nothing is redacted (a model whose deployments are exempt)

    @property
    def found_pii(self) -> bool:
        return self.redaction is not None or self.local_only or self.found

    def allows(self, deployment: Deployment) -> bool:
        return not self.local_only or self._guardrails.exempt(deployment)

    def redacts(self, deployment: Deployment) -> bool:
        return self.redaction is not None and not self._guardrails.exempt(deployment)

    def request_for(self, deployment: Deployment, request: Any) -> Any:
        return self.redacted if self.redacts(deployment) else request

    async def chat(
        self, deployment: Deployment, request: ChatCompletionRequest, timeout: float | None
    ) -> ChatCompletion:
        response = await deployment.provider.chat(self.request_for(deployment, request), timeout=timeout)
        if self.redaction is not None and self.redacts(deployment):
            restore_chat(response, self.redaction.restore)
        return response

    async def completions(
        self, deployment: Deployment, request: CompletionRequest, timeout: float | None
    ) -> Completion:
        response = await deployment.provider.completions(
            self.request_for(deployment, request), timeout=timeout
        )
        if self.redaction is not None and self.redacts(deployment):
            restore_completion(response, self.redaction.restore)
        return response

    async def embeddings(
        self, deployment: Deployment, request: EmbeddingRequest, timeout: float | None
    ) -> EmbeddingResponse:
        """The vectors of the redacted text: nothing in an embedding can be put back."""
        return await deployment.provider.embeddings(self.request_for(deployment, request), timeout=timeout)

    def stream_chat(
        self, deployment: Deployment, request: ChatCompletionRequest, timeout: float | None
    ) -> Chunks:
        """The deployment's stream, restored when it got placeholders."""
        upstream = deployment.provider.stream_chat(self.request_for(deployment, request), timeout=timeout)
        if self.redaction is None or not self.redacts(deployment):
            return upstream
        from llmgateway.guardrails.guarded_stream import restored_chunks

        return restored_chunks(upstream, self.redaction)

    @property
    def screens(self) -> bool:
        """Whether streamed answers go through the output policy."""
        policy = self._guardrails.policy
        return policy is not None and policy.checks_output

    def screen(self, chunks: Chunks) -> Chunks:
        """The answer's chunks, stopped before any text the output policy refuses (audited)."""
        policy = self._guardrails.policy
        assert policy is not None
        from llmgateway.guardrails.guarded_stream import screened_chunks

        return screened_chunks(chunks, lambda: policy.stream_check(redact=self.classifier_view), self.refused)

    async def refuse_unserved(self, what: str) -> None:
        """Block mode kept the call to exempt deployments and none of them can serve it."""
        error = PiiBlockedError(
            "the request holds personal data or secrets and this model or key is set to block "
            f"them; only local deployments may take it, and none of them supports {what}. Remove "
            "them, or ask an admin to set this model or key to redact"
        )
        await self.refused(error)
        raise error

    async def refused(self, refusal: GatewayError) -> None:
        caller, model, request_id = self._call
        await self._guardrails.refused(refusal, caller, model, request_id)

    async def check_answer(self, response: ChatCompletion | Completion) -> GatewayError | None:
        """The output policy's verdict on an answer (already restored): the refusal (audited), or
        the classifier's failure under ``on_error: block``; None: the answer may go out."""
        policy = self._guardrails.policy
        if policy is None:
            return None
        try:
            await policy.check_output(answer_text(response), redact=self.classifier_view)
        except ContentPolicyError as refusal:
            await self.refused(refusal)
            return refusal
        except GatewayError as failure:  # the classifier could not judge it: withheld
            return failure
        return None


class Guardrails:
    """PII redaction and the content policy for one gateway. ``keys_may_ask``: virtual keys carry
    their own PII mode, so the scanner is there even when the config sets no ``pii`` section
    (every model then defaults to off, and a key's mode applies)."""

    def __init__(
        self,
        config: GuardrailsConfig,
        routes: Mapping[str, ModelRoute],
        audit: AuditLog | None = None,
        *,
        keys_may_ask: bool = False,
    ) -> None:
        self.config = config
        self.audit = audit
        pii = config.pii
        if pii is None and keys_may_ask:
            pii = PiiGuardConfig(mode="off")
        self._pii: PiiGuardConfig | None = pii
        if pii is not None:
            _check_names(pii, routes)
        self.scanner = PiiScanner.from_config(pii) if pii is not None else None
        self.policy: ContentPolicy | None = None
        if config.policy is not None:
            from llmgateway.guardrails.policy.engine import ContentPolicy

            self.policy = ContentPolicy.from_config(config.policy)
        named = frozenset(pii.exempt_deployments) if pii is not None else frozenset()
        exempt_local = pii is not None and pii.exempt_local
        self._exempt = frozenset(
            d.name
            for route in routes.values()
            for d in route.deployments
            if d.name in named or (exempt_local and keeps_data_local(d))
        )
        # Models whose every deployment is exempt need no scan, unless a classifier is remote.
        self._all_exempt = frozenset(
            model for model, route in routes.items() if all(d.name in self._exempt for d in route.deployments)
        )
        self._some_exempt = frozenset(
            model for model, route in routes.items() if any(d.name in self._exempt for d in route.deployments)
        )
        self._classifies = self.policy is not None and self.policy.classifier is not None

    def exempt(self, deployment: Deployment) -> bool:
        return deployment.name in self._exempt

    def pii_mode(self, model: str, caller: Caller) -> PiiMode:
        pii = self._pii
        if pii is None:
            return "off"
        if caller.pii in ("off", "redact", "block"):
            return caller.pii  # type: ignore[return-value]
        return pii.models.get(model, pii.mode)

    def scrub(self, text: str) -> str:
        """``text`` with every PII value replaced by a placeholder (for logs)."""
        if self.scanner is None:
            return text
        return Redaction(self.scanner).redact(text)

    async def begin(self, request: AnyRequest, caller: Caller, request_id: str | None) -> CallGuard | None:
        """The call's guard, after the input checks; None when nothing applies to it. Raises the
        refusal (audited) when a PII block or the policy stops the call."""
        model = request.model
        call = (caller, model, request_id)
        mode = self.pii_mode(model, caller)
        scans = self.scanner is not None and mode != "off"
        if not scans and self.policy is None:
            return None
        texts, secrets = request_texts(request)
        guard = CallGuard(self, call)
        if scans and (model not in self._all_exempt or self._classifies):
            guard = await self._redact(request, texts, secrets, mode, call)
        if self.policy is not None:
            try:
                await self.policy.check_input(texts + secrets, redact=guard.classifier_view)
            except ContentPolicyError as refusal:
                await self.refused(refusal, caller, model, request_id)
                raise
        return guard

    async def _redact(
        self,
        request: AnyRequest,
        texts: list[str],
        secrets: list[str],
        mode: PiiMode,
        call: tuple[Caller, str, str | None],
    ) -> CallGuard:
        assert self.scanner is not None
        caller, model, request_id = call
        redaction = Redaction(self.scanner)
        for text in texts:
            redaction.reserve(text)
        for value in secrets:  # values of fields named like secrets: secrets whatever they look like
            redaction.placeholder("secret", value)
        first = {text: redaction.redact(text) for text in texts}
        # Then every secret found by its context comes out of the other texts too.
        replaced = {text: redaction.hide_secrets(done) for text, done in first.items()}
        # Whatever the classifier is shown goes through this call's placeholders (an answer's new
        # values get new ones).
        view = redaction.conceal
        if not redaction:
            return CallGuard(self, call, classifier_view=view)
        if mode == "block":
            kinds = _kinds(redaction.found)
            if model not in self._some_exempt:
                error = PiiBlockedError(
                    f"the request holds personal data or secrets ({', '.join(kinds)}) and this "
                    "model or key is set to block them; remove them, or ask an admin to set this "
                    "model or key to redact",
                    kinds=kinds,
                )
                await self.refused(error, caller, model, request_id)
                raise error
            return CallGuard(self, call, local_only=True, classifier_view=view)
        if model in self._all_exempt:  # scanned only for the classifier's sake
            return CallGuard(self, call, classifier_view=view, found=True)

        def free_text(value: str) -> str:
            known = replaced.get(value)
            return known if known is not None else redaction.conceal(value)

        def secret(value: str) -> str:
            return redaction.placeholder("secret", value)

        redacted = rewritten(request, free_text, secret)
        return CallGuard(self, call, redaction, redacted, classifier_view=view)

    async def refused(self, error: GatewayError, caller: Caller, model: str, request_id: str | None) -> None:
        """Audit a blocked call: who, which model, why; never the text."""
        details: dict[str, Any] = {"model": model, "error": error.code}
        if isinstance(error, PiiBlockedError):
            details["kinds"] = list(error.kinds)
        elif isinstance(error, ContentPolicyError):
            details["stage"] = error.stage
            details["category"] = error.category
        if self.audit is None:
            logger.warning("call blocked: %s", details)
            return
        await self.audit.record(
            "call.blocked",
            actor=caller.key or "anonymous",
            target=model,
            outcome="blocked",
            details=details,
            request_id=request_id,
        )

    async def aclose(self) -> None:
        if self.policy is not None:
            await self.policy.aclose()


def _check_names(pii: PiiGuardConfig, routes: Mapping[str, ModelRoute]) -> None:
    """A misspelt model or deployment name would silently leave it unguarded or unexempted."""
    from llmgateway.errors import ConfigError

    for model in pii.models:
        if model not in routes:
            known = ", ".join(sorted(routes))
            raise ConfigError(f"guardrails.pii.models.{model}: no such model; known models: {known}")
    deployments = {d.name for route in routes.values() for d in route.deployments}
    for name in pii.exempt_deployments:
        if name not in deployments:
            raise ConfigError(
                f"guardrails.pii.exempt_deployments: no deployment named '{name}'; "
                f"known: {', '.join(sorted(deployments))}"
            )
