"""Email, phone and IP detectors: what they take, and the look-alikes they leave alone."""

from __future__ import annotations

import pytest

from llmgateway.guardrails.pii.detectors import EmailDetector, IpDetector, PhoneDetector


def found(detector: EmailDetector | PhoneDetector | IpDetector, text: str) -> list[str]:
    return [text[start:end] for start, end in detector.find(text)]


@pytest.mark.parametrize(
    "email",
    [
        "alice@example.com",
        "alice.martin@example.com",
        "alice+news@example.com",
        "first-last@sub.mail.example.co.uk",
        "o_brien@my-company.io",
        "jörg@bücher.de",
        "user@xn--80ak6aa92e.xn--p1ai",
    ],
)
def test_email_found_whole_in_a_sentence(email: str) -> None:
    assert found(EmailDetector(), f"Write to {email}, please.") == [email]


@pytest.mark.parametrize(
    "text",
    ["ping @handle on slack", "a@b", "pip install pkg@1.2.3", "user@localhost", "x@example.", "@@"],
)
def test_email_look_alikes_are_not_found(text: str) -> None:
    assert found(EmailDetector(), text) == []


def test_email_sentence_end_and_brackets() -> None:
    assert found(EmailDetector(), "<bob@example.org>. And (carol@example.net).") == [
        "bob@example.org",
        "carol@example.net",
    ]


@pytest.mark.parametrize(
    "phone",
    [
        "+44 20 7946 0958",
        "+1 (415) 555-2671",
        "(415) 555-2671",
        "415-555-2671",
        "415.555.2671",
        "+33 1 42 68 53 00",
        "0044 20 7946 0958",
        "+14155552671",
        "020 7946 0958",
        "01 42 68 53 00",
        "030 12345678",
        "1-800-555-0199",
        "+44 (0)20 7946 0958",
        "555-2671",
    ],
)
def test_phone_forms_are_found_whole(phone: str) -> None:
    assert found(PhoneDetector(), f"Call me on {phone} tomorrow.") == [phone]


@pytest.mark.parametrize(
    "text",
    [
        "Due 2024-01-15, paid 15/01/2024.",
        "Meeting at 12:30:45 today.",
        "Version 1.2.3.4 and 10.15.7 released.",
        "It costs $1,299.99 or 1.299,99 EUR.",
        "Order 12345 shipped; order 4155552671 too.",
        "Born in 1987, moved in 2024.",
        "Card 4111 1111 1111 1111 on file.",
        "Population 100 000 000 and 1 000 000.",
        "Account 1234 5678 9012 on file.",
        "Reference 12345-67890.",
        "ISBN 978-3-16-148410-0.",
        "Timestamp 2024-01-15T10:30:00Z.",
        "Server 192.168.100.200 is up.",
        "Short +1 234.",
    ],
)
def test_phone_look_alikes_are_not_found(text: str) -> None:
    assert found(PhoneDetector(), text) == []


def test_phone_stops_before_a_following_small_number() -> None:
    assert found(PhoneDetector(), "Ring 415 555 2671 3 times") == ["415 555 2671"]
    assert found(PhoneDetector(), "Ring +44 20 7946 0958 3 times") == ["+44 20 7946 0958"]


def test_phone_attached_to_letters_or_email_is_not_found() -> None:
    assert found(PhoneDetector(), "id415-555-2671 and 415-555-2671abc and 415-555-2671@x.io") == []


def test_phone_after_a_label() -> None:
    assert found(PhoneDetector(), "tel:+14155552671") == ["+14155552671"]


@pytest.mark.parametrize(
    "address",
    [
        "192.168.1.10",
        "10.0.0.1",
        "255.255.255.255",
        "0.0.0.0",
        "1.2.3.4",
        "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
        "2001:db8::8a2e:370:7334",
        "fe80::1",
        "::1",
        "::ffff:192.168.1.1",
        "64:ff9b::192.0.2.33",
    ],
)
def test_ip_addresses_are_found(address: str) -> None:
    assert found(IpDetector(), f"host {address} answered.") == [address]


@pytest.mark.parametrize(
    "text",
    [
        "999.1.1.1",
        "1.2.3",
        "1.2.3.4.5",
        "256.1.1.1",
        "1.2.3.1000",
        "12:30:45",
        "the :: operator",
        "std::vector<int> and a::b",
        "MAC 00:1A:2B:3C:4D:5E",
        "2001:db8:::1",
        "v1.2.3.4a",
    ],
)
def test_ip_look_alikes_are_not_found(text: str) -> None:
    assert found(IpDetector(), text) == []


def test_ipv6_before_a_colon_in_prose() -> None:
    assert found(IpDetector(), "reach 2001:db8::1: it answers, and 10.0.0.1: too") == [
        "2001:db8::1",
        "10.0.0.1",
    ]
