"""The name kind: inline names, a names file, an operator's detector, and their config errors."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from llmgateway.errors import ConfigError
from llmgateway.guardrails.pii import NamesConfig, PiiDetectorsConfig, PiiScanner


def names_in(scanner: PiiScanner, text: str) -> list[str]:
    return [text[f.start : f.end] for f in scanner.scan(text) if f.kind == "name"]


def scanner_with(**names: object) -> PiiScanner:
    return PiiScanner.from_config(PiiDetectorsConfig(names=NamesConfig.model_validate(names)))


def test_names_config_needs_a_source() -> None:
    with pytest.raises(ValidationError, match="at least one of"):
        NamesConfig()
    with pytest.raises(ValidationError):
        NamesConfig.model_validate({"names": ["A"], "nicknames": ["B"]})


def test_no_names_section_no_name_kind() -> None:
    scanner = PiiScanner.from_config(PiiDetectorsConfig())
    assert names_in(scanner, "Alice Martin wrote") == []
    assert {d.kind for d in scanner.detectors} == {"email", "phone", "card", "iban", "ip", "secret"}


def test_detect_list_limits_the_kinds() -> None:
    scanner = PiiScanner.from_config(PiiDetectorsConfig(detect=["email"]))
    text = "a.b@example.com 415-555-2671"
    assert [f.kind for f in scanner.scan(text)] == ["email"]
    with pytest.raises(ValidationError):
        PiiDetectorsConfig.model_validate({"detect": ["email", "name"]})


def test_inline_names_whole_words_case_sensitive_longest_first() -> None:
    scanner = scanner_with(names=["Anna", "Anna Maria Lopez", "Bo"])
    text = "Anna Maria Lopez met Anna, not anna, Annabel or Bob; Bo came."
    assert names_in(scanner, text) == ["Anna Maria Lopez", "Anna", "Bo"]


def test_names_file(tmp_path: Path) -> None:
    path = tmp_path / "names.txt"
    path.write_text("# customers\nJörg Müller\n\n  Zoë  \n", encoding="utf-8")
    scanner = scanner_with(file=str(path), names=["Ann"])
    assert names_in(scanner, "Jörg Müller, Zoë and Ann; # customers") == ["Jörg Müller", "Zoë", "Ann"]


def test_missing_names_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        scanner_with(file=str(tmp_path / "absent.txt"))


@pytest.fixture
def detector_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    source = textwrap.dedent(
        """
        import re

        def capitalised_pairs(text):
            return [m.span() for m in re.finditer(r"[A-Z][a-z]+ [A-Z][a-z]+", text)]

        class Finder:
            def find(self, text):
                start = text.find("Dr. Who")
                return [] if start < 0 else [(start, start + 7)]

        finder = Finder()
        BAD_SPANS = lambda text: [(5, 2), (0, 10_000), (0, 2)]
        not_callable = 42

        class Offset:  # an integer type of its own, as numpy's int64 is
            def __init__(self, value):
                self.value = value

            def __index__(self):
                return self.value

        def other_ints(text):
            start = text.find("Ada")
            return [(Offset(start), Offset(start + 3))]

        def name_strings(text):
            return ["Ada Lovelace"]
        """
    )
    (tmp_path / "pii_names_plugin.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "pii_names_plugin"
    sys.modules.pop("pii_names_plugin", None)


def test_detector_function_object_and_class(detector_module: str) -> None:
    text = "Grace Hopper met Dr. Who"
    assert names_in(scanner_with(detector=f"{detector_module}:capitalised_pairs"), text) == ["Grace Hopper"]
    assert names_in(scanner_with(detector=f"{detector_module}:finder"), text) == ["Dr. Who"]
    assert names_in(scanner_with(detector=f"{detector_module}:Finder"), text) == ["Dr. Who"]


def test_detector_spans_out_of_range_are_dropped(detector_module: str) -> None:
    scanner = scanner_with(detector=f"{detector_module}:BAD_SPANS")
    assert names_in(scanner, "Hi there, Bob") == ["Hi"]


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("no_colon_here", "not of the form"),
        ("surely_absent_module_xyz:find", "could not be imported"),
        ("pii_names_plugin:absent", "no attribute"),
        ("pii_names_plugin:not_callable", "not a callable"),
    ],
)
def test_detector_errors_are_config_errors(detector_module: str, reference: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        scanner_with(detector=reference)


def test_detector_offsets_of_any_integer_type_are_taken(detector_module: str) -> None:
    assert names_in(scanner_with(detector=f"{detector_module}:other_ints"), "hi Ada") == ["Ada"]


def test_a_detector_yielding_names_fails_without_quoting_them(detector_module: str) -> None:
    with pytest.raises(TypeError) as caught:
        scanner_with(detector=f"{detector_module}:name_strings").scan("Ada Lovelace")
    assert "Ada" not in str(caught.value) and "(start, end)" in str(caught.value)
