"""Pattern detectors for contact data: email addresses, phone numbers, IP addresses.

Each detector is built once per scanner (its regexes compiled then) and answers ``find(text)``
with the ``(start, end)`` spans it is sure of. Every one starts with a cheap test of the text
(``"@" in text``, a digit, a colon) so a prompt without anything of its kind costs one scan.
Spans may overlap other detectors' spans: the scanner settles overlaps.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass

from llmgateway.guardrails.pii.settings import PiiKind

# Python's \d and \w are Unicode-aware; digits in these formats are ASCII only.
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"


class EmailDetector:
    """``local@domain.tld``: dots, plus and hyphens in the local part, subdomains, Unicode letters,
    a letters-only (or punycode) top-level domain. Not ``@handle``, ``a@b``, ``pkg@1.2.3`` or
    ``user@localhost``."""

    kind: PiiKind = "email"

    def __init__(self) -> None:
        self._domain = re.compile(
            r"@(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+(?:[^\W\d_]{2,63}|xn--[A-Za-z0-9-]{1,59})"
            r"(?![\w-])"
        )

    def find(self, text: str) -> Iterator[tuple[int, int]]:
        # From each "@": the local part is the run of [\w.+-] before it (1 to 64 characters, not
        # starting with "."), the domain is matched after it. Scanning every position with the
        # whole pattern would try up to 64 characters at each one.
        at = text.find("@")
        while at != -1:
            start = at
            while start > 0 and _is_local_char(text[start - 1]):
                start -= 1
            if 1 <= at - start <= 64 and text[start] != ".":
                domain = self._domain.match(text, at)
                if domain is not None:
                    yield start, domain.end()
            at = text.find("@", at + 1)


def _is_local_char(char: str) -> bool:
    return char.isalnum() or char in "_.+-"  # Python's \w is isalnum() plus "_"


class IpDetector:
    """IPv4 dotted quads (0-255 each, not part of a longer dotted number) and IPv6 addresses
    (full, compressed, with an embedded IPv4), checked with :mod:`ipaddress`."""

    kind: PiiKind = "ip"
    needs_digit = True  # the scanner skips it for text without an ASCII digit

    def __init__(self) -> None:
        # Runs of digits and dots (found in C: the pattern starts with a character set), each
        # checked whole: an address is a run of its own (not "1.2.3.4.5", not "v1.2.3.4").
        self._v4_run = re.compile(r"[0-9][0-9.]{6,}")
        self._v4 = re.compile(rf"(?:{_OCTET}\.){{3}}{_OCTET}")
        self._v4_hint = re.compile(r"[0-9]\.[0-9]{1,3}\.[0-9]")
        self._v6 = re.compile(
            r"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}"
            r"(?:(?<=:)[0-9]{1,3}(?:\.[0-9]{1,3}){3})?(?![\w]|:[0-9A-Fa-f:]|\.[0-9])"
        )

    def find(self, text: str) -> Iterator[tuple[int, int]]:
        v6_spans = list(self._find_v6(text)) if "::" in text or text.count(":") >= 7 else []
        yield from v6_spans
        if "." in text and self._v4_hint.search(text):
            for start, end in self._find_v4(text):
                # The IPv4 tail of "::ffff:192.168.1.1" is part of the IPv6 address already.
                if not any(v6_start <= start < v6_end for v6_start, v6_end in v6_spans):
                    yield start, end

    def _find_v4(self, text: str) -> Iterator[tuple[int, int]]:
        for run in self._v4_run.finditer(text):
            start, end = run.span()
            while text[end - 1] == ".":  # the full stop of the sentence
                end -= 1
            before = text[start - 1] if start else " "
            if before.isalnum() or before in "_.":  # inside a word (Python's \w) or a dotted number
                continue
            if end < len(text) and (text[end].isalnum() or text[end] == "_"):
                continue
            if self._v4.fullmatch(text, start, end):
                yield start, end

    def _find_v6(self, text: str) -> Iterator[tuple[int, int]]:
        for match in self._v6.finditer(text):
            candidate = match.group()
            start, end = match.span()
            if candidate.endswith(":") and not candidate.endswith("::"):
                candidate, end = candidate[:-1], end - 1  # "... 2001:db8::1: reachable"
            # "a::b" is as likely C++ as an address; real addresses carry a digit somewhere.
            if not any(char.isdigit() for char in candidate):
                continue
            try:
                ipaddress.IPv6Address(candidate)
            except ValueError:
                continue
            yield start, end


# 15 digits (E.164), an international "00" prefix and a "(0)" trunk zero.
_MAX_PHONE_DIGITS = 18


@dataclass(frozen=True, slots=True)
class _Group:
    start: int  # offsets in the text
    end: int
    digits: str
    parenthesised: bool
    separator: str  # the character before this group ("" for none)


class PhoneDetector:
    """Phone numbers in E.164 (``+44 20 7946 0958``, ``+14155552671``), with the ``00``
    international prefix, and in national forms with separators (``(415) 555-2671``,
    ``415-555-2671``, ``020 7946 0958``, ``01 42 68 53 00``): 7 to 15 digits.

    A bare run of digits without ``+`` is not taken (order numbers, timestamps), nor dates, times,
    version numbers, thousands groupings (``100 000 000``) or card-like groups of four."""

    kind: PiiKind = "phone"
    needs_digit = True  # the scanner skips it for text without an ASCII digit

    def __init__(self) -> None:
        # Each character is taken by exactly one branch, so matching stays linear. The first
        # character comes before the lookbehinds (widened by it): a pattern that starts with a
        # character set lets the regex engine skip ahead to "+", "(" or a digit in C.
        guard = r"(?<![\w.+@/-].)(?<![0-9]:.)"  # not inside a word, an address or a time
        self._candidate = re.compile(
            rf"(?:\+{guard}(?:\([0-9]{{1,5}}\)|[0-9])|\({guard}[0-9]{{1,5}}\)|[0-9]{guard})"
            r"(?:[0-9]|\([0-9]{1,5}\)|[ .\-](?=[0-9]|\([0-9]))*"
        )
        self._bad_follower = re.compile(r"[^\W_]|[_@]|[/:,.\-][0-9]")
        self._has_digit_run = re.compile(r"[0-9]{2}")

    def find(self, text: str) -> Iterator[tuple[int, int]]:
        if not self._has_digit_run.search(text):
            return
        for match in self._candidate.finditer(text):
            if self._bad_follower.match(text, match.end()):
                continue
            span = self._best_span(text, match.start(), match.end())
            if span is not None:
                yield span

    def _best_span(self, text: str, start: int, end: int) -> tuple[int, int] | None:
        """The whole candidate when it is a phone number, else its longest valid head that ends
        at a space (``415 555 2671 3 times`` -> ``415 555 2671``)."""
        international = text[start] == "+"
        groups = _split_groups(text, start + international, end)
        for count in range(len(groups), 0, -1):
            if count < len(groups) and groups[count].separator != " ":
                continue
            head = groups[:count]
            if _is_phone(head, international):
                return start, head[-1].end
        return None


def _split_groups(text: str, start: int, end: int) -> list[_Group]:
    """Digit groups of a candidate; stops at a stray parenthesis, and once the groups hold more
    digits than any phone number can (a long run of numbers must not cost quadratic time: every
    head of the groups is tried), keeping the group that crossed for its separator."""
    groups: list[_Group] = []
    separator = ""
    index = start
    digits = 0
    while index < end and digits <= _MAX_PHONE_DIGITS:
        char = text[index]
        if char == "(":
            close = text.find(")", index, end)
            inner = text[index + 1 : close] if close != -1 else ""
            if not inner.isdigit():
                break
            groups.append(_Group(index, close + 1, inner, True, separator))
            index, separator = close + 1, ""
            digits += len(inner)
        elif char.isdigit():
            stop = index
            while stop < end and text[stop].isdigit():
                stop += 1
            groups.append(_Group(index, stop, text[index:stop], False, separator))
            digits += stop - index
            index, separator = stop, ""
        elif char in " .-":
            separator = char
            index += 1
        else:
            break
    return groups


def _is_phone(groups: list[_Group], international: bool) -> bool:
    if not groups:
        return False
    if international:
        # "+44 (0)20 ...": the national trunk zero in parentheses is not part of the number.
        digits = "".join(g.digits for g in groups if not (g.parenthesised and g.digits == "0"))
        # A last group of one digit is more likely the next number in the text ("... 0958 3 times").
        return digits[0] != "0" and 7 <= len(digits) <= 15 and len(groups[-1].digits) >= 2
    first = groups[0]
    if len(groups) >= 2 and not first.parenthesised and first.digits.startswith("00"):
        digits = "".join(g.digits for g in groups)[2:]
        return bool(digits) and digits[0] != "0" and 7 <= len(digits) <= 15
    return _is_national(groups)


def _is_national(groups: list[_Group]) -> bool:
    lengths = [len(g.digits) for g in groups]
    total = sum(lengths)
    if len(groups) < 2 or any(g.parenthesised for g in groups[1:]):
        return False
    if groups[0].parenthesised and not 2 <= lengths[0] <= 5:
        return False
    if lengths == [3, 4]:  # a local number: 555-2671
        return groups[1].separator in " -"
    if lengths == [1, 3, 3, 4] and groups[0].digits == "1":  # 1-800-555-0199
        return True
    if not 9 <= total <= 12 or min(lengths) < 2 or max(lengths) > 8:
        return False
    if len(groups) == 2 and not (groups[0].parenthesised or groups[0].digits.startswith("0")):
        return False  # two groups only with a trunk zero (030 12345678) or an area code in ()
    if len(groups) >= 3 and all(length == 4 for length in lengths):
        return False  # 1234 5678 9012: an account or card-like number
    separators = {g.separator for g in groups[1:]}
    return not (len(separators) == 1 and lengths[0] <= 3 and all(n == 3 for n in lengths[1:]))
