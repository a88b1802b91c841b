"""Properties of redaction over generated texts: it round-trips, it leaves no value behind, and a
streamed restore equals a whole one however the answer is cut into deltas."""

from __future__ import annotations

import functools
import itertools
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmgateway.guardrails.pii import NamesConfig, PiiDetectorsConfig, PiiScanner, Redaction
from llmgateway.guardrails.pii.checksums import luhn_valid

PROPERTY_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@functools.cache
def scanner() -> PiiScanner:
    return PiiScanner.from_config(PiiDetectorsConfig(names=NamesConfig(names=["Zyx Quorra", "Ilse"])))


def digits(n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789", min_size=n, max_size=n)


def luhn_complete(payload: str) -> str:
    return next(payload + d for d in "0123456789" if luhn_valid(payload + d))


_label = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8)
emails = st.builds(
    lambda local, domain, tld: f"{local}@{domain}.{tld}",
    st.from_regex(r"[a-z][a-z0-9._+-]{0,10}[a-z0-9]", fullmatch=True),
    _label,
    st.sampled_from(["com", "org", "co.uk", "io", "de"]),
)
phones = st.one_of(
    st.builds(lambda a, b: f"+44 20 {a} {b}", digits(4), digits(4)),
    st.builds(
        lambda a, b, c: f"({a}) {b}-{c}",
        st.from_regex(r"[2-9][0-9]{2}", fullmatch=True),
        digits(3),
        digits(4),
    ),
    st.builds(lambda a, b: f"+1 415-{a}-{b}", digits(3), digits(4)),
)
cards = st.builds(lambda body: luhn_complete("4" + body), digits(14)).map(
    lambda card: " ".join(card[i : i + 4] for i in range(0, 16, 4))
)
ips = st.builds(
    lambda parts: ".".join(map(str, parts)),
    st.lists(st.integers(min_value=1, max_value=255), min_size=4, max_size=4),
)
fixed = st.sampled_from(
    [
        "DE89 3704 0044 0532 0130 00",
        "GB82WEST12345698765432",
        "2001:db8::8a2e:370:7334",
        "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z",
        "AKIAIOSFODNN7EXAMPLE",
        "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        "Zyx Quorra",
        "Ilse",
    ]
)
pii_values = st.one_of(emails, phones, cards, ips, fixed)
words = st.lists(
    st.sampled_from(["the", "order", "Hello", "meet", "café", "naïve", "ok", "Re"]), max_size=4
).map(" ".join)
separators = st.sampled_from([" ", "\n", ", ", "; ", " (", ") ", ": "])


@st.composite
def clean_texts(draw: st.DrawFn) -> tuple[str, list[str]]:
    """Prose without digits or '@' between PII values, so every value is a whole finding."""
    values = draw(st.lists(pii_values, min_size=1, max_size=6))
    parts: list[str] = []
    for value in values:
        parts += [draw(words), draw(separators), value, draw(separators)]
    parts.append(draw(words))
    return "".join(parts), values


noisy_texts = st.lists(
    st.one_of(
        pii_values, st.text(max_size=20), st.sampled_from(["<EMAIL_1>", "[PHONE_1]", "IP_1", "<", "_"])
    ),
    max_size=10,
).map("".join)


@PROPERTY_SETTINGS
@given(noisy_texts)
def test_restore_undoes_redact_for_any_text(text: str) -> None:
    redaction = Redaction(scanner())
    assert redaction.restore(redaction.redact(text)) == text


@PROPERTY_SETTINGS
@given(clean_texts())
def test_redacted_text_holds_none_of_the_values(case: tuple[str, list[str]]) -> None:
    text, values = case
    redaction = Redaction(scanner())
    redacted = redaction.redact(text)
    findings = scanner().scan(text)
    assert sorted(text[f.start : f.end] for f in findings) == sorted(values)
    for value in values:
        assert value not in redacted
    assert redaction.restore(redacted) == text


def as_model_writes(redacted: str, forms: list[int]) -> str:
    """The redacted text with placeholders rewritten the ways a model may write them."""
    counter = iter(forms * (redacted.count("<") + 1))

    def rewrite(match: re.Match[str]) -> str:
        key = match.group(1)
        return [f"<{key}>", f"[{key}]", key, f"<{key}", f"{key[:-1]}"][next(counter) % 5]

    return re.sub(r"<([A-Z]+_[0-9]+)>", rewrite, redacted)


@PROPERTY_SETTINGS
@given(
    clean_texts(),
    st.lists(st.integers(min_value=0, max_value=4), min_size=1, max_size=8),
    st.lists(st.text(max_size=6), max_size=5),
    st.data(),
)
def test_stream_restore_equals_whole_restore(
    case: tuple[str, list[str]], forms: list[int], noise: list[str], data: st.DataObject
) -> None:
    redaction = Redaction(scanner())
    redacted = redaction.redact(case[0])
    answer = as_model_writes(redacted, forms) + "".join(noise)
    cuts = sorted(data.draw(st.lists(st.integers(min_value=0, max_value=len(answer)), max_size=12)))
    bounds = [0, *cuts, len(answer)]
    restorer = redaction.restorer()
    longest = max(len(f"<{key}>") for key in re.findall(r"<([A-Z]+_[0-9]+)>", redacted))
    out: list[str] = []
    for start, end in itertools.pairwise(bounds):
        out.append(restorer.feed(answer[start:end]))
        # Never more held back than the longest placeholder form.
        assert end - len(_emitted_source(redaction, out, answer[:end])) <= longest
    out.append(restorer.flush())
    assert "".join(out) == redaction.restore(answer)


def _emitted_source(redaction: Redaction, out: list[str], fed: str) -> str:
    """The longest prefix of what was fed whose restoration is what came out so far."""
    emitted = "".join(out)
    for end in range(len(fed), -1, -1):
        if redaction.restore(fed[:end]) == emitted:
            return fed[:end]
    raise AssertionError(f"output {emitted!r} is no restoration of a prefix of {fed!r}")
