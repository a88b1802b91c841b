"""A built-in classifier: an OpenAI-compatible ``/v1/moderations`` endpoint.

``POST {base_url}/moderations`` with ``{"input": text, "model": ...}``; the answer's first result
holds ``flagged``, ``categories`` (label -> bool) and ``category_scores`` (label -> float). A label
counts when it is true or its score reaches the threshold; with ``categories`` set only those
labels count (the overall ``flagged`` then only counts through one of them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmgateway.guardrails.policy.classifier import (
    Classification,
    ClassifierFailedError,
    Stage,
    classifier_name,
)

if TYPE_CHECKING:
    import httpx

    from llmgateway.guardrails.policy.settings import ClassifierConfig


class ModerationClassifier:
    def __init__(self, config: ClassifierConfig, *, http: httpx.AsyncClient | None = None) -> None:
        self.name = classifier_name(config)
        self._url = (config.base_url or "").rstrip("/") + "/moderations"
        self._model = config.model
        self._headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
        self._timeout = config.timeout
        self._threshold = config.threshold
        self._only = set(config.categories) if config.categories is not None else None
        self._http = http
        self._owned: httpx.AsyncClient | None = None

    def _client(self) -> httpx.AsyncClient:
        if self._http is not None:
            return self._http
        if self._owned is None:
            import httpx

            self._owned = httpx.AsyncClient(follow_redirects=False)
        return self._owned

    async def classify(self, text: str, *, stage: Stage) -> Classification:
        import httpx

        body: dict[str, Any] = {"input": text}
        if self._model:
            body["model"] = self._model
        try:
            response = await self._client().post(
                self._url, json=body, headers=self._headers, timeout=self._timeout
            )
        except httpx.TimeoutException:
            raise ClassifierFailedError(f"{self.name} did not answer within {self._timeout:g}s") from None
        except httpx.HTTPError as exc:
            # The exception's text is left out: it may hold the URL's credentials.
            raise ClassifierFailedError(f"{self.name} could not be reached ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise ClassifierFailedError(f"{self.name} answered HTTP {response.status_code}")
        try:
            result = response.json()["results"][0]
        except (ValueError, KeyError, IndexError, TypeError):
            raise ClassifierFailedError(
                f"{self.name} answered without results[0]; is base_url an OpenAI-compatible server's /v1?"
            ) from None
        if not isinstance(result, dict):
            raise ClassifierFailedError(f"{self.name} answered a result that is not an object")
        return self.verdict(result)

    def verdict(self, result: dict[str, Any]) -> Classification:
        """The Classification one moderation result amounts to under this threshold and filter."""
        labels = result.get("categories")
        labels = {} if labels is None else labels
        scores = result.get("category_scores")
        scores = {} if scores is None else scores
        if not isinstance(labels, dict) or not isinstance(scores, dict):
            raise ClassifierFailedError(f"{self.name} answered categories that are not objects")
        counted: list[tuple[float, str, float | None]] = []
        for name in sorted(set(labels) | set(scores)):
            if self._only is not None and name not in self._only:
                continue
            raw = scores.get(name)
            score = float(raw) if isinstance(raw, (int, float)) else None
            if labels.get(name) is True or (score is not None and score >= self._threshold):
                counted.append((score if score is not None else 1.0, name, score))
        if counted:
            # The label the server is surest of is the one a refusal names.
            _, name, score = max(counted, key=lambda item: item[0])
            return Classification(flagged=True, category=name, score=score)
        if self._only is None and result.get("flagged") is True:
            return Classification(flagged=True, category="moderation")
        return Classification(flagged=False)

    async def aclose(self) -> None:
        if self._owned is not None:
            await self._owned.aclose()
            self._owned = None
