"""Check digits that separate real card numbers and IBANs from look-alike digit runs."""

from __future__ import annotations

# ISO 13616 lengths (country code and check digits included) for the countries seen most.
# Unknown countries fall back to the general 15-34 range.
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20,
    "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18,
    "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IS": 26, "IT": 27, "JO": 30,
    "KW": 30, "KZ": 20, "LB": 28, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24,
    "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28,
    "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SE": 24, "SI": 19, "SK": 24,
    "SM": 27, "TN": 24, "TR": 26, "UA": 29, "VG": 24, "XK": 20,
}  # fmt: skip
IBAN_MIN_LENGTH = 15
IBAN_MAX_LENGTH = 34


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check of a card number given as ASCII digits only."""
    if not digits or not digits.isascii() or not digits.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def iban_length_ok(iban: str) -> bool:
    """Whether a compact IBAN has its country's length (15-34 for countries not in the table)."""
    expected = IBAN_LENGTHS.get(iban[:2])
    if expected is not None:
        return len(iban) == expected
    return IBAN_MIN_LENGTH <= len(iban) <= IBAN_MAX_LENGTH


def iban_valid(iban: str) -> bool:
    """ISO 13616 check of a compact IBAN (no spaces, upper case): shape, length, mod 97 == 1."""
    if not iban.isascii() or not iban.isalnum() or not iban_length_ok(iban):
        return False
    if not (iban[:2].isalpha() and iban[:2].isupper() and iban[2:4].isdigit()):
        return False
    rearranged = iban[4:] + iban[:4]
    # Letters count as two digits (A=10 .. Z=35); folding piecewise keeps the numbers small.
    remainder = 0
    for char in rearranged:
        if char.isdigit():
            remainder = (remainder * 10 + ord(char) - 48) % 97
        elif "A" <= char <= "Z":
            remainder = (remainder * 100 + ord(char) - 55) % 97
        else:
            return False
    return remainder == 1
