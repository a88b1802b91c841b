"""Runs the configured detectors over a text and settles their overlaps into one list of findings."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from llmgateway.guardrails.pii.detectors import EmailDetector, IpDetector, PhoneDetector
from llmgateway.guardrails.pii.names import name_detectors
from llmgateway.guardrails.pii.payment import CardDetector, IbanDetector
from llmgateway.guardrails.pii.secret_patterns import SecretDetector
from llmgateway.guardrails.pii.settings import PII_KINDS, PiiDetectorsConfig, PiiKind


@dataclass(frozen=True, slots=True)
class Finding:
    start: int
    end: int
    kind: PiiKind


class Detector(Protocol):
    kind: PiiKind

    def find(self, text: str) -> Iterable[tuple[int, int]]: ...


_PRIORITY = {kind: rank for rank, kind in enumerate(PII_KINDS)}


class PiiScanner:
    """Finds personal data and secrets in text. Build once (the regexes compile then), scan often."""

    def __init__(self, detectors: Sequence[Detector]) -> None:
        self._detectors = tuple(detectors)
        # Phone, card, IBAN and IP all need a digit: one cheap test spares a prose text their
        # regex scans (most prompts have no digit at all).
        self._plan = tuple((d, bool(getattr(d, "needs_digit", False))) for d in self._detectors)
        # Nothing shorter is an email ("a@b.co"), an IP, a phone or card number, or a secret: roles,
        # types and ids cost nothing. A configured name may be as short as two letters.
        self._shortest = 2 if any(d.kind == "name" for d in self._detectors) else 6

    @classmethod
    def from_config(cls, config: PiiDetectorsConfig) -> PiiScanner:
        factories: dict[str, Callable[[], Detector]] = {
            "email": EmailDetector,
            "phone": PhoneDetector,
            "card": CardDetector,
            "iban": IbanDetector,
            "ip": IpDetector,
            "secret": SecretDetector,
        }
        detectors: list[Detector] = [factories[kind]() for kind in dict.fromkeys(config.detect)]
        if config.names is not None:
            detectors.extend(name_detectors(config.names))
        return cls(detectors)

    @property
    def detectors(self) -> tuple[Detector, ...]:
        return self._detectors

    def scan(self, text: str) -> list[Finding]:
        """Findings sorted by start and never overlapping: where two overlap the longer span wins,
        on a tie the kind first in (secret, card, iban, email, ip, phone, name)."""
        if len(text) < self._shortest:
            return []
        candidates: list[tuple[int, int, int, int, PiiKind]] = []
        has_digit = any(digit in text for digit in "0123456789")  # C-speed substring tests
        for order, (detector, needs_digit) in enumerate(self._plan):
            if needs_digit and not has_digit:
                continue
            kind = detector.kind
            for start, end in detector.find(text):
                if start < end:
                    candidates.append((start - end, _PRIORITY[kind], order, start, kind))
        if not candidates:
            return []
        if len(candidates) == 1:
            negative_length, _, _, start, kind = candidates[0]
            return [Finding(start, start - negative_length, kind)]
        candidates.sort()
        # Taken spans stay sorted and disjoint, so a new span can only clash with its neighbours.
        starts: list[int] = []
        taken: list[Finding] = []
        for negative_length, _, _, start, kind in candidates:
            end = start - negative_length
            index = bisect.bisect_left(starts, start)
            if index > 0 and taken[index - 1].end > start:
                continue
            if index < len(starts) and starts[index] < end:
                continue
            starts.insert(index, start)
            taken.insert(index, Finding(start, end, kind))
        return taken
