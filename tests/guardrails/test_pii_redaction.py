"""Scanner overlap rules, one call's placeholders, restoring whole answers and streams."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from llmgateway.guardrails.pii import Finding, PiiDetectorsConfig, PiiKind, PiiScanner, Redaction


class Spans:
    def __init__(self, kind: PiiKind, spans: Iterable[tuple[int, int]]) -> None:
        self.kind: PiiKind = kind
        self._spans = list(spans)

    def find(self, text: str) -> Iterable[tuple[int, int]]:
        return self._spans


@pytest.fixture(scope="module")
def scanner() -> PiiScanner:
    return PiiScanner.from_config(PiiDetectorsConfig())


def test_scan_longer_span_wins_then_priority_then_sorted() -> None:
    scanner = PiiScanner(
        [
            Spans("phone", [(0, 10), (20, 25), (30, 34)]),
            Spans("email", [(2, 12), (20, 25)]),  # same length as phone (0, 10): phone came first
            Spans("secret", [(20, 25), (40, 41), (45, 45)]),  # ties: secret beats email and phone
            Spans("name", [(29, 35)]),  # longer than the phone inside it
        ]
    )
    assert scanner.scan("x" * 50) == [
        Finding(2, 12, "email"),
        Finding(20, 25, "secret"),
        Finding(29, 35, "name"),
        Finding(40, 41, "secret"),
    ]


def test_scan_card_beats_phone_and_iban_beats_card(scanner: PiiScanner) -> None:
    text = "card 4111 1111 1111 1111, iban DE89 3704 0044 0532 0130 00, ip 10.0.0.1"
    kinds = [(text[f.start : f.end], f.kind) for f in scanner.scan(text)]
    assert kinds == [
        ("4111 1111 1111 1111", "card"),
        ("DE89 3704 0044 0532 0130 00", "iban"),
        ("10.0.0.1", "ip"),
    ]


def test_redact_numbers_per_kind_and_reuses_within_the_call(scanner: PiiScanner) -> None:
    redaction = Redaction(scanner)
    first = redaction.redact("Mail bob@example.com or ann@example.org, call 415-555-2671.")
    second = redaction.redact("Again: ann@example.org. Key sk-abcdefghijklmnopqrstuvwxyz0123")
    assert first == "Mail <EMAIL_1> or <EMAIL_2>, call <PHONE_1>."
    assert second == "Again: <EMAIL_2>. Key <SECRET_1>"
    assert dict(redaction.found) == {"email": 2, "phone": 1, "secret": 1}
    assert redaction


def test_nothing_found_is_falsy_and_untouched(scanner: PiiScanner) -> None:
    redaction = Redaction(scanner)
    text = "What is the capital of France?"
    assert redaction.redact(text) is text
    assert not redaction
    assert dict(redaction.found) == {}
    assert redaction.restore("EMAIL_1 <EMAIL_1>") == "EMAIL_1 <EMAIL_1>"


def test_reserved_placeholders_are_never_issued(scanner: PiiScanner) -> None:
    redaction = Redaction(scanner)
    redaction.reserve("the template uses <EMAIL_1> and [EMAIL_2]")
    redaction.reserve("xEMAIL_3y")
    safe = redaction.redact("bob@example.com, literally <EMAIL_4> too")
    assert safe == "<EMAIL_5>, literally <EMAIL_4> too"
    answer = "Sent to <EMAIL_5>; <EMAIL_1> and EMAIL_4 are yours"
    assert redaction.restore(answer) == "Sent to bob@example.com; <EMAIL_1> and EMAIL_4 are yours"
    assert dict(redaction.found) == {"email": 1}


def test_restore_accepts_the_forms_models_write(scanner: PiiScanner) -> None:
    redaction = Redaction(scanner)
    redaction.redact("ann@example.org and 10.1.2.3")
    answer = "<EMAIL_1>, [EMAIL_1], EMAIL_1. IP_1! (IP_1) EMAIL_12 MY_EMAIL_1 EMAIL_1x <EMAIL_2> IP_2"
    assert redaction.restore(answer) == (
        "ann@example.org, ann@example.org, ann@example.org. 10.1.2.3! (10.1.2.3) "
        "EMAIL_12 MY_EMAIL_1 EMAIL_1x <EMAIL_2> IP_2"
    )


def answer_and_redaction(scanner: PiiScanner) -> tuple[Redaction, str]:
    redaction = Redaction(scanner)
    for n in range(1, 13):
        redaction.redact(f"user{n}@example.com")
    redaction.redact("call +44 20 7946 0958")
    answer = (
        "Dear <EMAIL_1>, [EMAIL_12] and EMAIL_2 (also EMAIL_1x, <EMAIL_13>, PHONE_1).\n"
        "<PHONE_1> <PHONE_ [EMAIL_1> EMAIL_1"
    )
    return redaction, answer


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 1000])
def test_stream_restorer_equals_whole_restore(scanner: PiiScanner, size: int) -> None:
    redaction, answer = answer_and_redaction(scanner)
    restorer = redaction.restorer()
    pieces = [restorer.feed(answer[i : i + size]) for i in range(0, len(answer), size)]
    pieces.append(restorer.flush())
    assert "".join(pieces) == redaction.restore(answer)


def test_stream_restorer_holds_only_a_possible_placeholder(scanner: PiiScanner) -> None:
    redaction, _ = answer_and_redaction(scanner)
    longest = len("<EMAIL_12>")
    restorer = redaction.restorer()
    assert restorer.feed("Hello <EMA") == "Hello "
    assert restorer.feed("IL_1") == ""
    assert restorer.feed("> and [PHONE_") == "user1@example.com and "
    assert restorer.feed("1] x") == "+44 20 7946 0958 x"
    assert restorer.feed(" EMAIL_1") == " "  # could still become EMAIL_12
    assert restorer.feed("2") == ""  # complete, but could still be followed by a word character
    assert restorer.feed(".") == "user12@example.com."
    assert restorer.feed("<b>tag</b> EMAILS") == "<b>tag</b> EMAILS"
    held = "<EMAIL_1"
    assert restorer.feed(held) == ""
    assert len(held) < longest
    assert restorer.flush() == "<user1@example.com"  # as restore() reads a bare EMAIL_1 at the end
    assert restorer.flush() == ""


def test_stream_restorer_without_placeholders_passes_through(scanner: PiiScanner) -> None:
    restorer = Redaction(scanner).restorer()
    assert restorer.feed("<EMA") == "<EMA"
    assert restorer.flush() == ""
