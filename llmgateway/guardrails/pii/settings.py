"""Which kinds of personal data and secrets the PII scanner looks for.

```yaml
pii:
  detect: [email, phone, card, iban, ip, secret]   # the default: all six
  names:                                           # optional: the "name" kind
    names: [Alice Martin, Bob Stone]
    file: /etc/llmgateway/customer-names.txt       # one name a line; '#' comments
    detector: mycompany.ner:find_person_names      # (text) -> [(start, end), ...]
```
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

PiiKind = Literal["email", "phone", "card", "iban", "ip", "secret", "name"]
PatternKind = Literal["email", "phone", "card", "iban", "ip", "secret"]

# The order decides ties between two detectors claiming the same span; placeholders use it too.
PII_KINDS: tuple[PiiKind, ...] = ("secret", "card", "iban", "email", "ip", "phone", "name")
PATTERN_KINDS: tuple[PatternKind, ...] = ("email", "phone", "card", "iban", "ip", "secret")


class NamesConfig(BaseModel):
    """People's names to redact: listed inline, read from a file, or found by your own detector."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    names: list[str] = Field(default_factory=list, description="Names matched as whole words, case-sensitive")
    file: str | None = Field(
        default=None, description="A text file with one name per line (blank lines and # comments skipped)"
    )
    detector: str | None = Field(
        default=None,
        description=(
            "'package.module:attr': a callable (text) -> iterable of (start, end) spans, "
            "or an object (or class) with a .find(text) method"
        ),
    )

    @model_validator(mode="after")
    def _needs_a_source(self) -> NamesConfig:
        if not self.names and self.file is None and self.detector is None:
            raise ValueError(
                "pii.names needs at least one of: names (a list), file (a path, one name a line) "
                "or detector ('package.module:attr'); remove the names section to turn name redaction off"
            )
        return self


class PiiDetectorsConfig(BaseModel):
    """The detectors a PII scanner runs: the pattern kinds in ``detect``, plus names when set."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    detect: list[PatternKind] = Field(
        default_factory=lambda: list(PATTERN_KINDS),
        description="Pattern-based kinds to detect: email, phone, card, iban, ip, secret",
    )
    names: NamesConfig | None = Field(default=None, description="Turns on the 'name' kind; off when not set")
