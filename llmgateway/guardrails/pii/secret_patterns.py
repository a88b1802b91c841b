"""Credentials: provider API keys, tokens, private keys, and secret-looking assignments.

Known formats are matched whole (``sk-ant-...``, ``AKIA...``, ``ghp_...``, JWTs, PEM blocks).
For ``Bearer <token>`` and assignments (``api_key=...``, ``"password": "..."``) only the value is
taken, so the redacted text still says what was there. A value in prose form (``secret: ...`` with
a space, ``Bearer ...``) must look random (a digit, mixed case, or long) to count, so a sentence
such as "the secret: everything" is left alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from llmgateway.guardrails.pii.settings import PiiKind

_TOKEN_CHARS = r"[A-Za-z0-9_\-]"

# Whole-token formats, each with the literals that must be in the text for it to match: a plain
# substring test (fast) decides which patterns run at all.
_KNOWN_TOKENS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("sk-",), rf"sk-ant-{_TOKEN_CHARS}{{20,}}"),  # Anthropic
    (("sk-",), rf"sk-llmgw-[a-z2-7]{{12}}-{_TOKEN_CHARS}{{16,}}"),  # llmgateway virtual keys
    (("sk-",), rf"sk-(?:proj-|svcacct-|admin-)?{_TOKEN_CHARS}{{20,}}"),  # OpenAI
    (("AKIA", "ASIA"), r"(?:AKIA|ASIA)[A-Z0-9]{16}"),  # AWS access key ids
    (("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), r"gh[pousr]_[A-Za-z0-9]{30,}"),  # GitHub tokens
    (("github_pat_",), r"github_pat_[A-Za-z0-9_]{22,}"),
    (("xox",), r"xox[abprs]-[A-Za-z0-9\-]{10,}"),  # Slack
    (("AIza",), r"AIza[0-9A-Za-z_\-]{35}"),  # Google API keys
    (("sk_live_", "rk_live_", "sk_test_", "rk_test_"), r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"),  # Stripe
    (("eyJ",), rf"eyJ{_TOKEN_CHARS}{{5,}}\.eyJ{_TOKEN_CHARS}{{5,}}\.{_TOKEN_CHARS}*"),  # JWT
)
_NAME_WORDS = ("key", "secret", "token", "passw", "pwd", "passphrase")
_PEM = (
    r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----"
    r"(?:[\s\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|[\s\S]*)"  # unterminated: to the end
)
_SECRET_NAMES = (
    r"api[_\-]?key|apikey|api[_\-]?token|access[_\-]?key(?:[_\-]?id)?|secret[_\-]?access[_\-]?key"
    r"|client[_\-]?secret|secret[_\-]?key|secret|access[_\-]?token|auth[_\-]?token"
    r"|refresh[_\-]?token|session[_\-]?token|token|password|passwd|passphrase|pwd|private[_\-]?key"
)
# name, optional closing quote, ':' / '=' / '=>', then a quoted or bare value.
_ASSIGNMENT = (
    rf"(?<![A-Za-z0-9])(?:{_SECRET_NAMES})[\"']?(?P<op>\s*(?:=>|[:=])(?P<gap>\s*))"
    r"(?:\"(?P<dq>[^\"\n]{8,})\"|'(?P<sq>[^'\n]{8,})'|(?P<bare>[^\s\"',;)}\]]{8,}))"
)
_BEARER = r"(?<![A-Za-z0-9])[Bb]earer\s+(?P<bearer>[A-Za-z0-9._~+/\-]{8,}=*)"


class SecretDetector:
    """API keys and tokens of the common providers, PEM private keys, bearer tokens and values
    assigned to secret-sounding names (api_key, password, secret, token, ...)."""

    kind: PiiKind = "secret"

    def __init__(self) -> None:
        end = r"(?![A-Za-z0-9_\-])"
        self._known = [(literals, re.compile(pattern + end)) for literals, pattern in _KNOWN_TOKENS]
        self._pem = re.compile(_PEM)
        self._assignment = re.compile(_ASSIGNMENT, re.IGNORECASE)
        self._bearer = re.compile(_BEARER)
        self._name_word = re.compile("|".join(_NAME_WORDS))
        literals = list(dict.fromkeys(literal for group, _ in _KNOWN_TOKENS for literal in group))
        self._underscore_literals = tuple(x for x in literals if "_" in x)
        self._dash_literals = tuple(x for x in literals if "-" in x and "_" not in x)
        self._plain_literals = tuple(x for x in literals if "-" not in x and "_" not in x)

    def find(self, text: str) -> Iterator[tuple[int, int]]:
        # Two patterns may take the same span (a JWT after "Bearer"): report it once.
        yield from dict.fromkeys(self._spans(text))

    def _spans(self, text: str) -> Iterator[tuple[int, int]]:
        # Each substring test costs a pass over the text: the ones behind "-" or "_" (rare in
        # prose) run only when that character is there, and each literal is tested once.
        present = self._literals_present(text)
        for literals, pattern in self._known:
            if any(literal in present for literal in literals):
                for match in pattern.finditer(text):
                    if match.start() == 0 or not _is_token_char(text[match.start() - 1]):
                        yield match.span()
        if "-" in present and "-----BEGIN" in text:
            for match in self._pem.finditer(text):
                yield match.span()
        if "earer" in text:
            for match in self._bearer.finditer(text):
                start, end = _trim_period(text, *match.span("bearer"))
                if _looks_random(text[start:end]):
                    yield start, end
        lowered = text.lower()
        if len(lowered) == len(text) and any(word in lowered for word in _NAME_WORDS):
            yield from self._assignments(text, lowered)
        elif len(lowered) != len(text):  # lower() changed the length (rare letters): scan it all
            yield from self._assignments_in(text, 0, len(text))

    def _literals_present(self, text: str) -> set[str]:
        present = {literal for literal in self._plain_literals if literal in text}
        if "-" in text:
            present.add("-")
            present.update(literal for literal in self._dash_literals if literal in text)
        if "_" in text:
            present.update(literal for literal in self._underscore_literals if literal in text)
        return present

    def _assignments(self, text: str, lowered: str) -> Iterator[tuple[int, int]]:
        """Only around the secret-sounding words: the case-blind pattern is slow over a whole text."""
        window_end = 0
        for word in self._name_word.finditer(lowered):
            if word.start() < window_end:
                continue
            line_end = text.find("\n", word.end() + 64)
            window_end = len(text) if line_end == -1 else line_end + 1
            # Names such as "client_secret" start before the word; values end by the line's end.
            yield from self._assignments_in(text, max(0, word.start() - 24), window_end)

    def _assignments_in(self, text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
        for match in self._assignment.finditer(text, start, end):
            for group in ("dq", "sq", "bare"):
                value = match.group(group)
                if value is None:
                    continue
                # "password=hunter2hunter" is clearly an assignment; "the secret: everything"
                # (a space after the colon, no quotes) is prose unless the value looks random.
                prose = group == "bare" and match.group("gap") != "" and "=" not in match.group("op")
                value_start, value_end = match.span(group)
                if group == "bare":
                    value_start, value_end = _trim_period(text, value_start, value_end)
                if value_end - value_start >= 8 and (not prose or _looks_random(text[value_start:value_end])):
                    yield value_start, value_end


def _trim_period(text: str, start: int, end: int) -> tuple[int, int]:
    """Without the full stop of the sentence the value ends."""
    while end > start and text[end - 1] == ".":
        end -= 1
    return start, end


def _is_token_char(char: str) -> bool:
    return char.isascii() and (char.isalnum() or char in "_-")


def _looks_random(value: str) -> bool:
    """A credential rather than a word: it has a digit, mixes upper and lower case, or is long."""
    if len(value) >= 24 or any(char.isdigit() for char in value):
        return True
    return any(char.isupper() for char in value[1:]) and any(char.islower() for char in value)
