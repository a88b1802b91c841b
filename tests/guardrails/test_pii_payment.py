"""Card and IBAN detectors and the check digits behind them."""

from __future__ import annotations

import pytest

from llmgateway.guardrails.pii.checksums import IBAN_LENGTHS, iban_valid, luhn_valid
from llmgateway.guardrails.pii.payment import CardDetector, IbanDetector

VALID_IBANS = [
    "DE89370400440532013000",
    "GB82WEST12345698765432",
    "FR1420041010050500013M02606",
    "NL91ABNA0417164300",
    "BE68539007547034",
    "CH9300762011623852957",
    "ES9121000418450200051332",
    "IT60X0542811101000000123456",
]


def luhn_complete(payload: str) -> str:
    """``payload`` plus the check digit that makes it pass Luhn."""
    return next(payload + d for d in "0123456789" if luhn_valid(payload + d))


def with_iban_check_digits(country: str, bban: str) -> str:
    numeric = "".join(str(int(char, 36)) for char in bban + country + "00")
    return f"{country}{98 - int(numeric) % 97:02d}{bban}"


def spaced(compact: str) -> str:
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def found(detector: CardDetector | IbanDetector, text: str) -> list[str]:
    return [text[start:end] for start, end in detector.find(text)]


@pytest.mark.parametrize(
    ("digits", "valid"),
    [
        ("4111111111111111", True),
        ("79927398713", True),
        ("4111111111111112", False),
        ("79927398710", False),
        ("", False),
        ("4111 1111", False),
        ("٤١١١١١١١١١١١١١١١", False),  # Arabic-Indic digits are not card digits
    ],
)
def test_luhn(digits: str, valid: bool) -> None:
    assert luhn_valid(digits) is valid


@pytest.mark.parametrize("iban", VALID_IBANS)
def test_iban_valid_examples(iban: str) -> None:
    assert iban_valid(iban)
    assert len(iban) == IBAN_LENGTHS[iban[:2]]


@pytest.mark.parametrize("iban", VALID_IBANS)
def test_iban_any_single_digit_change_fails(iban: str) -> None:
    for position, char in enumerate(iban):
        if char.isdigit() and position >= 2:
            changed = iban[:position] + str((int(char) + 1) % 10) + iban[position + 1 :]
            assert not iban_valid(changed), changed


def test_iban_rejects_wrong_length_and_shape() -> None:
    assert not iban_valid("DE8937040044053201300")  # one short for Germany
    assert not iban_valid("de89370400440532013000")
    assert not iban_valid("DE89 3704 0044 0532 0130 00")  # the compact form only
    unknown = with_iban_check_digits("ZZ", "12345678901")
    assert iban_valid(unknown)  # 15 characters: the shortest a country may have
    assert not iban_valid(with_iban_check_digits("ZZ", "1234567890"))  # 14


@pytest.mark.parametrize(
    "card",
    [
        "4111111111111111",
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "5555 5555 5555 4444",
        "3782 822463 10005",
        "378282246310005",
        "6011111111111117",
        "4222222222222",
    ],
)
def test_cards_are_found(card: str) -> None:
    assert found(CardDetector(), f"Pay with {card}, thanks.") == [card]


def test_nineteen_digit_card_is_found() -> None:
    card = luhn_complete("622126" + "0" * 11 + "1")
    assert len(card) == 19
    assert found(CardDetector(), f"card {card}") == [card]
    grouped = " ".join([card[0:4], card[4:8], card[8:12], card[12:16], card[16:]])
    assert found(CardDetector(), f"card {grouped}.") == [grouped]


@pytest.mark.parametrize(
    "text",
    [
        "4111111111111112",  # Luhn fails
        "4111 1111 1111 1112",
        "123456789012",  # 12 digits
        luhn_complete("1" * 19),  # 20 digits
        "0000 0000 0000 0000",
        "4111 1111-1111 1111",  # mixed separators
        "41 11 11 11 11 11 11 11",  # not a card's grouping
        "order4111111111111111",
        "4111111111111111.5",
        "DE89 3704 0044 0532 0130 01",  # an IBAN with a bad check whose tail passes Luhn
    ],
)
def test_card_look_alikes_are_not_found(text: str) -> None:
    assert found(CardDetector(), f"number {text} here") == []


@pytest.mark.parametrize("iban", VALID_IBANS)
def test_ibans_are_found_compact_and_spaced(iban: str) -> None:
    assert found(IbanDetector(), f"Send it to {iban}.") == [iban]
    assert found(IbanDetector(), f"Send it to {spaced(iban)}, today") == [spaced(iban)]


def test_iban_of_an_unknown_country_uses_the_general_range() -> None:
    iban = with_iban_check_digits("ZZ", "ABCD12345678901234")
    assert found(IbanDetector(), f"iban {iban} ok") == [iban]


@pytest.mark.parametrize(
    "text",
    [
        "DE89370400440532013001",  # one digit changed
        "DE89 3704 0044 0532 0130 01",
        "DE8937040044053201300",  # too short for Germany
        "DE893704004405320130000",  # too long for Germany
        "DE89 3704 0044 0532 0130 000",
        "DE89 37040044 0532 0130 00",  # irregular grouping
        "XDE89370400440532013000",
        "ABCD12345678901",  # not a country code and check digits
    ],
)
def test_iban_look_alikes_are_not_found(text: str) -> None:
    assert found(IbanDetector(), f"iban {text} ok") == []
