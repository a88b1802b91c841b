"""Pattern detectors for payment data: card numbers (Luhn) and IBANs (ISO 13616 mod 97)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from llmgateway.guardrails.pii.checksums import IBAN_LENGTHS, IBAN_MAX_LENGTH, iban_valid, luhn_valid
from llmgateway.guardrails.pii.settings import PiiKind


class CardDetector:
    """13 to 19 digits, bare or in groups split by single spaces or dashes (``4111 1111 1111 1111``,
    ``3782-822463-10005``), passing the Luhn check."""

    kind: PiiKind = "card"
    needs_digit = True  # the scanner skips it for text without an ASCII digit

    def __init__(self) -> None:
        # The first digit before the lookbehind (widened by it): a leading character set lets the
        # regex engine skip to the next digit in C instead of testing the lookbehind everywhere.
        self._candidate = re.compile(r"[0-9](?<![\w.,+-].)(?:[ -]?[0-9]){12,18}(?![\w]|[.,-][0-9])")
        self._digit_run = re.compile(r"[0-9]{4}")
        # The account part of an IBAN that failed its own check is not a card number.
        self._iban_head = re.compile(r"[A-Z]{2}[0-9]{2} ?$")

    def find(self, text: str) -> Iterator[tuple[int, int]]:
        if not self._digit_run.search(text):
            return
        for match in self._candidate.finditer(text):
            start = match.start()
            if _card_shaped(match.group()) and not self._iban_head.search(text, max(0, start - 5), start):
                yield match.span()


def _card_shaped(candidate: str) -> bool:
    digits = candidate.replace(" ", "").replace("-", "")
    if digits == digits[0] * len(digits) or not luhn_valid(digits):
        return False  # 0000 0000 0000 0000 passes Luhn
    if len(digits) == len(candidate):
        return True
    separators = {char for char in candidate if not char.isdigit()}
    if len(separators) != 1:
        return False
    groups = candidate.split(separators.pop())
    # Cards print in groups: 4-4-4-4, 4-6-5, 4-4-4-4-3; a first group of 4 sets them apart from
    # long phone numbers ("0044 20 7946 0958") that happen to pass Luhn.
    return len(groups[0]) == 4 and all(3 <= len(g) <= 6 for g in groups[1:-1]) and 1 <= len(groups[-1]) <= 6


class IbanDetector:
    """IBANs: country code, two check digits and the account part, compact or in groups of four
    (``GB82 WEST 1234 5698 7654 32``), with the country's length and a valid mod-97 check."""

    kind: PiiKind = "iban"
    needs_digit = True  # the scanner skips it for text without an ASCII digit

    def __init__(self) -> None:
        # " ?" and the character class are disjoint, so the repetition cannot backtrack badly.
        # The first letter before the (widened) lookbehind, as for cards.
        self._candidate = re.compile(r"[A-Z](?<![A-Za-z0-9].)[A-Z][0-9]{2}(?: ?[A-Z0-9]){11,30}")

    def find(self, text: str) -> Iterator[tuple[int, int]]:
        for match in self._candidate.finditer(text):
            end = _iban_end(text, match.start(), match.group())
            if end is not None:
                yield match.start(), end


def _iban_end(text: str, start: int, raw: str) -> int | None:
    """Where the IBAN starting at ``start`` ends, or None when it is not a valid IBAN."""
    expected = IBAN_LENGTHS.get(raw[:2])
    spaced = raw[4:5] == " "
    taken = 0
    end = start
    for offset, char in enumerate(raw):
        if char == " ":
            # Spaces only between groups of four, and only when the IBAN is written spaced.
            if not spaced or taken % 4:
                break
            continue
        if spaced and taken and taken % 4 == 0 and raw[offset - 1] != " ":
            return None  # a spaced IBAN with a group longer than four
        taken += 1
        end = start + offset + 1
        if taken == (expected or IBAN_MAX_LENGTH):
            break
    if expected is not None and taken != expected:
        return None  # too short for its country
    if end < len(text) and text[end].isascii() and text[end].isalnum():
        return None  # too long for its country (or runs on into a word)
    compact = text[start:end].replace(" ", "")
    return end if iban_valid(compact) else None
