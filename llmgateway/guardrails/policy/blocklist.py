"""Blocklist matching: a policy's rules compiled once, run on normalised text.

Text is normalised the same way as the terms (invisible characters removed, NFKC, casefold), so
full-width letters, ligatures, zero-width joiners and case do not hide a term. Terms match whole
words with any whitespace between their words ("ass" never matches "class"); patterns are the
operator's own regexes, matched case-insensitively on the normalised text.

All terms share one regex built as a trie ("ass" and "assault rifle" share their "ass" branch) that
starts with a non-word character, so the regex engine only tries the terms at word starts and only
the branch of the letter found there: a 2 KB prompt costs tens of microseconds for hundreds of
terms, where a plain alternation costs a millisecond. Patterns share a second regex.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from llmgateway.guardrails.policy.settings import BlocklistEntry, compile_pattern

# Characters that render as nothing: soft hyphen, zero-width space / non-joiner / joiner, word
# joiner and BOM. Removing them keeps "b\u200bomb" from slipping past the term "bomb".
_INVISIBLE_CHARS = "\u00ad\u200b\u200c\u200d\u2060\ufeff"
_INVISIBLE = re.compile(f"[{_INVISIBLE_CHARS}]")
_GAP = " "  # a trie key for "any run of whitespace" (never a key otherwise: terms are split on it)
_END = ""  # a trie key marking the end of a term


def normalise(text: str) -> str:
    """The form rules are matched on. ASCII text (the common case) only needs lowering."""
    if text.isascii():
        return text.lower()
    if any(char in text for char in _INVISIBLE_CHARS):
        text = _INVISIBLE.sub("", text)
    return unicodedata.normalize("NFKC", text).casefold()


def term_key(term: str) -> str:
    """A term's normalised words, single-spaced: how a match is mapped back to its rule."""
    return " ".join(normalise(term).split())


def terms_regex(keys: Iterable[str]) -> str:
    """One regex for all term keys: a non-word character (the text is padded with a space), then the
    keys as a trie with ``\\s+`` between words and a word end after each key."""
    root: dict[str, Any] = {}
    for key in keys:
        node = root
        for char in key:
            node = node.setdefault(char, {})
        node[_END] = {}
    return r"\W" + _trie_to_regex(root)


def _trie_to_regex(node: dict[str, Any]) -> str:
    branches = [
        (r"\s+" if char == _GAP else re.escape(char)) + _trie_to_regex(child)
        for char, child in sorted(node.items())
        if char != _END
    ]
    if _END in node:
        branches.append(r"(?!\w)")
    return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"


@dataclass(frozen=True)
class BlocklistMatch:
    category: str
    start: int
    end: int


class Blocklist:
    """Every rule of a policy; ``search`` answers the first rule the text breaks, or None."""

    def __init__(self, entries: Iterable[BlocklistEntry]) -> None:
        self._term_categories: dict[str, str] = {}
        joined: list[re.Pattern[str]] = []
        self._pattern_categories: list[str] = []
        # Patterns with groups of their own (back-references would shift) or global inline flags
        # cannot join the shared regex; they are searched one by one after it.
        self._separate: list[tuple[re.Pattern[str], str]] = []
        self.longest_term = 0
        for entry in entries:
            for term in entry.terms:
                key = term_key(term)
                if key:  # a term of only invisible characters has nothing to match
                    self._term_categories.setdefault(key, entry.category)
                    self.longest_term = max(self.longest_term, len(term))
            for pattern in entry.patterns:
                compiled = compile_pattern(pattern)
                if compiled.groups or not _joinable(pattern):
                    self._separate.append((compiled, entry.category))
                else:
                    joined.append(compiled)
                    self._pattern_categories.append(entry.category)
        self._terms = re.compile(terms_regex(self._term_categories)) if self._term_categories else None
        self._joined = joined
        self._patterns = (
            re.compile("|".join(f"(?:{p.pattern})" for p in joined), re.IGNORECASE) if joined else None
        )

    def __bool__(self) -> bool:
        return bool(self._term_categories or self._joined or self._separate)

    def search(self, text: str) -> BlocklistMatch | None:
        """The first rule ``text`` breaks."""
        if not self:
            return None
        return self.search_normalised(normalise(text), at_start=True)

    def first_match(self, texts: Sequence[str]) -> BlocklistMatch | None:
        """The first rule any of ``texts`` breaks; each text is matched on its own, so a phrase
        never spans two messages."""
        for text in texts:
            found = self.search(text)
            if found is not None:
                return found
        return None

    def search_normalised(self, normalised: str, *, at_start: bool) -> BlocklistMatch | None:
        """Like ``search`` on already normalised text. ``at_start``: the text begins the message;
        otherwise its first character is only context (the left neighbour of a word) and no term
        starts there, since it may be the middle of a word cut off by the stream check."""
        if self._terms is not None:
            padded = " " + normalised if at_start else normalised
            found = self._terms.search(padded)
            if found is not None:
                shift = 1 if at_start else 0
                category = self._term_categories[" ".join(found.group()[1:].split())]
                return BlocklistMatch(category, found.start() + 1 - shift, found.end() - shift)
        pos = 0 if at_start else 1
        if self._patterns is not None:
            hit = self._patterns.search(normalised, pos)
            if hit is not None:
                category = self._pattern_category(normalised, hit.start())
                return BlocklistMatch(category, hit.start(), hit.end())
        for compiled, category in self._separate:
            hit = compiled.search(normalised, pos)
            if hit is not None:
                return BlocklistMatch(category, hit.start(), hit.end())
        return None

    def _pattern_category(self, normalised: str, start: int) -> str:
        # The shared regex took the first pattern (in order) that matches at ``start``.
        for compiled, category in zip(self._joined, self._pattern_categories, strict=True):
            if compiled.match(normalised, start) is not None:
                return category
        return self._pattern_categories[0]  # not reached: the shared regex matched one of them


def _joinable(pattern: str) -> bool:
    """Whether the pattern still compiles inside a group (global inline flags such as ``(?x)``
    must stand at the very start of a regex, so those do not)."""
    try:
        re.compile(f"(?:{pattern})")
    except re.error:
        return False
    return True
