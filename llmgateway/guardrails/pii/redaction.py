"""One call's redaction: personal data out of the prompt, the same placeholders back in the answer.

```python
redaction = Redaction(scanner)
for text in texts: redaction.reserve(text)   # the caller's own "<EMAIL_1>" is never issued
safe = [redaction.redact(text) for text in texts]
answer = redaction.restore(model_answer)      # or redaction.restorer() for a stream
```
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from types import MappingProxyType

from llmgateway.guardrails.pii.scanner import PiiScanner
from llmgateway.guardrails.pii.stream_restore import StreamRestorer, restore_text

# Looser than restoring on purpose: any "EMAIL_1" inside the caller's text, whatever surrounds it,
# keeps that number out of use, since a model may echo it in a form restoring would match.
_RESERVED = re.compile(r"(?:EMAIL|PHONE|CARD|IBAN|IP|SECRET|NAME)_[0-9]+")


class Redaction:
    """One call's placeholders: the same original value always gets the same placeholder within
    this Redaction, across all the texts of the call.

    Reserve every text of the call before redacting the first, so that a placeholder-looking token
    in a later text is not issued for an earlier one. ``redact`` reserves its own text as well.
    """

    def __init__(self, scanner: PiiScanner) -> None:
        self._scanner = scanner
        self._keys: dict[tuple[str, str], str] = {}  # (kind, value) -> "EMAIL_1"
        self._values: dict[str, str] = {}  # "EMAIL_1" -> value
        self._counts: dict[str, int] = {}  # kind -> distinct values
        self._last_number: dict[str, int] = {}  # kind -> the number in its last placeholder
        self._reserved: set[str] = set()

    def reserve(self, text: str) -> None:
        """Keep the placeholder-looking tokens already in ``text`` from ever being issued."""
        if "_" not in text:
            return
        for match in _RESERVED.finditer(text):
            self._reserved.add(match.group())

    def redact(self, text: str) -> str:
        """``text`` with each finding replaced by its placeholder (``<EMAIL_1>``, ``<PHONE_2>``...)."""
        self.reserve(text)
        findings = self._scanner.scan(text)
        if not findings:
            return text
        pieces: list[str] = []
        last = 0
        for finding in findings:
            pieces.append(text[last : finding.start])
            pieces.append(f"<{self._key(finding.kind, text[finding.start : finding.end])}>")
            last = finding.end
        pieces.append(text[last:])
        return "".join(pieces)

    def placeholder(self, kind: str, value: str) -> str:
        """The placeholder of a whole value known to be of ``kind`` (a field named ``password``
        holds a secret whatever it looks like)."""
        return f"<{self._key(kind, value)}>"

    def hide_secrets(self, text: str) -> str:
        """``text`` with the secrets this call already issued replaced by their placeholders: a
        secret found by its context (``password=...``, a field called ``api_key``) is no longer
        findable where it appears without it."""
        for (kind, value), key in self._keys.items():
            if kind == "secret" and value in text:
                # Whole tokens only: "abc123" must not eat into "abc1234" or an identifier.
                pattern = rf"(?<![\w-]){re.escape(value)}(?![\w-])"
                text = re.sub(pattern, f"<{key}>", text)
        return text

    def conceal(self, text: str) -> str:
        """``hide_secrets``, then ``redact``: what a remote party may see of a text."""
        return self.redact(self.hide_secrets(text))

    @property
    def found(self) -> Mapping[str, int]:
        """Kind -> number of distinct values redacted so far."""
        return MappingProxyType(self._counts)

    def __bool__(self) -> bool:
        return bool(self._values)

    def restore(self, text: str) -> str:
        """Issued placeholders, also as ``[EMAIL_1]`` or a bare ``EMAIL_1``, back to their values."""
        if not self._values:
            return text
        return restore_text(text, self._values)

    def restorer(self, *, json_escaped: bool = False) -> StreamRestorer:
        """A restorer for a streamed answer, knowing the placeholders issued so far.
        ``json_escaped``: the text is JSON (tool-call arguments streamed in pieces), so each value
        goes back escaped as a JSON string's content."""
        if not json_escaped:
            return StreamRestorer(self._values)
        return StreamRestorer(
            {key: json.dumps(value, ensure_ascii=False)[1:-1] for key, value in self._values.items()}
        )

    def _key(self, kind: str, value: str) -> str:
        key = self._keys.get((kind, value))
        if key is not None:
            return key
        label = kind.upper()
        number = self._last_number.get(kind, 0)
        while True:
            number += 1
            key = f"{label}_{number}"
            if key not in self._reserved:
                break
        self._last_number[kind] = number
        self._counts[kind] = self._counts.get(kind, 0) + 1
        self._keys[kind, value] = key
        self._values[key] = value
        return key
