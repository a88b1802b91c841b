"""Correct implementations of the built-in code suite's functions: every item's tests must pass
against these (tests/compare/test_suites.py), so a model's failure is the model's."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any


def fizzbuzz(n: int) -> list[str]:
    return ["FizzBuzz" if i % 15 == 0 else "Fizz" if i % 3 == 0 else "Buzz" if i % 5 == 0 else str(i)
            for i in range(1, n + 1)]  # fmt: skip


def reverse_words(text: str) -> str:
    return " ".join(reversed(text.split()))


def is_palindrome(text: str) -> bool:
    kept = [c.lower() for c in text if c.isalnum()]
    return kept == kept[::-1]


def count_vowels(text: str) -> int:
    return sum(1 for c in text.lower() if c in "aeiou")


def flatten(lists: list[list[Any]]) -> list[Any]:
    return [x for inner in lists for x in inner]


def chunk(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def dedupe(items: list[Any]) -> list[Any]:
    return list(dict.fromkeys(items))


def word_counts(text: str) -> dict[str, int]:
    return dict(Counter(re.findall(r"[a-z]+", text.lower())))


def second_largest(numbers: list[float]) -> float | None:
    distinct = sorted(set(numbers))
    return distinct[-2] if len(distinct) >= 2 else None


def capitalize_words(text: str) -> str:
    return " ".join(word[:1].upper() + word[1:].lower() for word in text.split(" "))


def running_sum(numbers: list[float]) -> list[float]:
    total, out = 0.0, []
    for n in numbers:
        total += n
        out.append(total)
    return out


def is_anagram(a: str, b: str) -> bool:
    return sorted(a.replace(" ", "").lower()) == sorted(b.replace(" ", "").lower())


def celsius_to_fahrenheit(celsius: float) -> float:
    return round(celsius * 9 / 5 + 32, 1)


def digit_sum(n: int) -> int:
    return sum(int(d) for d in str(abs(n)))


def merge_sorted(a: list[float], b: list[float]) -> list[float]:
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        if a[i] <= b[j]:
            out.append(a[i])
            i += 1
        else:
            out.append(b[j])
            j += 1
    return out + a[i:] + b[j:]


def rotate_left(items: list[Any], k: int) -> list[Any]:
    if not items:
        return []
    k %= len(items)
    return items[k:] + items[:k]


def longest_word(text: str) -> str:
    best = ""
    for word in text.split():
        if len(word) > len(best):
            best = word
    return best


def compress(text: str) -> str:
    return "".join(f"{m.group(0)[0]}{len(m.group(0))}" for m in re.finditer(r"(.)\1*", text, re.S))


def is_prime(n: int) -> bool:
    return n >= 2 and all(n % d for d in range(2, int(n**0.5) + 1))


def gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


def fibonacci(n: int) -> list[int]:
    out, a, b = [], 0, 1
    for _ in range(n):
        out.append(a)
        a, b = b, a + b
    return out


def transpose(matrix: list[list[Any]]) -> list[list[Any]]:
    return [list(column) for column in zip(*matrix, strict=True)]


def roman_to_int(numeral: str) -> int:
    values = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
    total = 0
    for current, following in zip(numeral, [*numeral[1:], None], strict=True):
        value = values[current]
        total += -value if following is not None and values[following] > value else value
    return total


def snake_to_camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)
