"""The "name" kind: people's names from a list, a file, or the operator's own detector."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from llmgateway.errors import ConfigError
from llmgateway.guardrails.pii.settings import NamesConfig, PiiKind


class NameListDetector:
    """Listed names as whole words, case-sensitive; the longest name wins where two start together
    ("Anna Maria Lopez" before "Anna")."""

    kind: PiiKind = "name"

    def __init__(self, names: Iterable[str]) -> None:
        unique = sorted({name.strip() for name in names if name.strip()}, key=len, reverse=True)
        self._pattern = (
            re.compile(rf"(?<!\w)(?:{'|'.join(map(re.escape, unique))})(?!\w)") if unique else None
        )

    def find(self, text: str) -> Iterator[tuple[int, int]]:
        if self._pattern is None:
            return
        for match in self._pattern.finditer(text):
            yield match.span()


class CustomNameDetector:
    """The operator's detector (``package.module:attr``), its spans checked before use."""

    kind: PiiKind = "name"

    def __init__(self, find: Callable[[str], Iterable[tuple[int, int]]], origin: str) -> None:
        self._find = find
        self._origin = origin

    def find(self, text: str) -> Iterator[tuple[int, int]]:
        for span in self._find(text):
            try:
                # Any integer type (numpy's from an NER stack too); a wrong shape must fail loudly,
                # never let the names through.
                start, end = (operator.index(offset) for offset in span)
            except (TypeError, ValueError):
                # Only the type: the value may be the name itself.
                raise TypeError(
                    f"pii.names.detector {self._origin} yielded a {type(span).__name__}; "
                    "it must yield (start, end) pairs of character offsets"
                ) from None
            if 0 <= start < end <= len(text):
                yield start, end


def name_detectors(config: NamesConfig) -> list[NameListDetector | CustomNameDetector]:
    names = list(config.names)
    if config.file is not None:
        names.extend(read_names_file(config.file))
    detectors: list[NameListDetector | CustomNameDetector] = []
    if names:
        detectors.append(NameListDetector(names))
    if config.detector is not None:
        detectors.append(CustomNameDetector(load_detector(config.detector), config.detector))
    return detectors


def read_names_file(path: str) -> list[str]:
    try:
        lines = Path(path).expanduser().read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(
            f"pii.names.file {path!r} cannot be read ({exc.strerror or exc}); "
            "give the path of a UTF-8 text file with one name per line"
        ) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"pii.names.file {path!r} is not UTF-8 text; save it as UTF-8") from exc
    stripped = (line.strip() for line in lines)
    return [line for line in stripped if line and not line.startswith("#")]


def load_detector(reference: str) -> Callable[[str], Iterable[tuple[int, int]]]:
    """Import ``package.module:attr``: a function of the text, an object with ``.find(text)``, or a
    class with ``.find`` (made with no arguments)."""
    from llmgateway.guardrails.plugins import import_target

    target = import_target(reference, "pii.names.detector")
    if isinstance(target, type) and callable(getattr(target, "find", None)):
        try:
            target = target()
        except Exception as exc:
            raise ConfigError(
                f"pii.names.detector {reference!r}: the class could not be made with no arguments ({exc})"
            ) from exc
    find = None if isinstance(target, (str, bytes, type)) else getattr(target, "find", None)
    if callable(find):
        return find  # type: ignore[no-any-return]
    if callable(target) and not isinstance(target, type):
        return target  # type: ignore[no-any-return]
    raise ConfigError(
        f"pii.names.detector {reference!r} is a {type(target).__name__}, not a callable "
        "(text) -> [(start, end), ...] or an object with a .find(text) method"
    )
