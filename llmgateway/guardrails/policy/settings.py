"""Content policy settings: blocklist rules, an optional classifier, and whether answers are checked.

```yaml
policy:
  blocklist:
    - {category: weapons, terms: ["pipe bomb", "nerve agent"], patterns: ['\\bak-?47s?\\b']}
  blocklist_file: /etc/llmgateway/blocklist.yaml   # a list of entries like the ones above, merged
  check_output: true
  classifier: {kind: moderation, base_url: "https://api.openai.com/v1", api_key: "${OPENAI_KEY}"}
```
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """A blocklist pattern as it is matched (case-insensitive, on normalised text); ValueError with
    the reason when it is not a usable regex. The pattern itself is not echoed: a blocklist may be
    sensitive."""
    try:
        compiled = re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        where = f" at position {exc.pos}" if exc.pos is not None else ""
        raise ValueError(f"not a valid Python regex ({exc.msg}{where})") from None
    if compiled.match("") is not None:
        raise ValueError("the pattern matches the empty string, so it would refuse every call")
    return compiled


class BlocklistEntry(BaseModel):
    """One rule: words or phrases (matched as whole words, any whitespace between words) and regexes
    (matched case-insensitively on the normalised text). ``category`` is what a refusal names."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    category: str = Field(default="blocked", min_length=1)
    terms: list[str] = Field(default_factory=list)
    patterns: list[str] = Field(default_factory=list)

    @field_validator("terms")
    @classmethod
    def _terms_have_words(cls, terms: list[str]) -> list[str]:
        for index, term in enumerate(terms):
            if not term.strip():
                raise ValueError(f"term {index} is empty; remove it")
        return terms

    @field_validator("patterns")
    @classmethod
    def _patterns_compile(cls, patterns: list[str]) -> list[str]:
        for index, pattern in enumerate(patterns):
            try:
                compile_pattern(pattern)
            except ValueError as exc:
                raise ValueError(f"pattern {index}: {exc}") from None
        return patterns


Stage = Literal["input", "output"]


def _both_stages() -> list[Stage]:
    return ["input", "output"]


class ClassifierConfig(BaseModel):
    """A model that judges text: your own (``kind: callable``) or an OpenAI-compatible moderation
    endpoint (``kind: moderation``)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    kind: Literal["callable", "moderation"]
    callable: str | None = Field(
        default=None,
        description="'package.module:attr': an object with async classify(text, *, stage), or a "
        "plain (async or sync) function of (text, stage)",
    )
    base_url: str | None = Field(default=None, description="kind moderation: the server's '.../v1' URL")
    api_key: str | None = Field(default=None, repr=False)
    model: str | None = None
    threshold: float = Field(default=0.5, ge=0, le=1, description="a category score at or above flags")
    categories: list[str] | None = Field(default=None, description="only these labels count; None: all")
    stages: list[Stage] = Field(default_factory=_both_stages, min_length=1)
    timeout: float = Field(default=10.0, gt=0, description="seconds per classification")
    on_error: Literal["block", "allow"] = Field(
        default="block",
        description="the classifier failed or timed out: refuse the call (503, retryable) or let it "
        "through with a warning",
    )

    @model_validator(mode="after")
    def _kind_has_its_settings(self) -> ClassifierConfig:
        if self.kind == "callable":
            module, sep, attr = (self.callable or "").partition(":")
            if not (module and sep and attr):
                raise ValueError(
                    "kind 'callable' needs callable: 'package.module:attr', e.g. "
                    "callable: 'my_policies.toxicity:classify'"
                )
        if self.kind == "moderation" and not self.base_url:
            raise ValueError("kind 'moderation' needs base_url, e.g. base_url: https://api.openai.com/v1")
        return self


class PolicyConfig(BaseModel):
    """The content policy: refuse requests (and answers) that match a blocklist rule or that the
    classifier flags."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    blocklist: list[BlocklistEntry] = Field(default_factory=list)
    blocklist_file: str | None = Field(
        default=None, min_length=1, description="a YAML or JSON list of blocklist entries, merged"
    )
    check_output: bool = Field(default=True, description="also check what the model answered")
    classifier: ClassifierConfig | None = None
