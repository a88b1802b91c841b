"""Which part of a model's answer is run as code."""

from __future__ import annotations

from llmgateway.compare.metrics.code_extract import extract_code


def test_the_last_python_block_wins_over_other_blocks() -> None:
    answer = (
        "First try:\n```python\ndef f():\n    return 0\n```\n"
        "Better:\n```python\ndef f():\n    return 1\n```\n"
        "Run it with:\n```bash\npython f.py\n```\n"
    )
    assert extract_code(answer) == "def f():\n    return 1\n"


def test_an_untagged_block_then_the_whole_text() -> None:
    assert extract_code("Here:\n```\ndef g(): return 2\n```\nDone.") == "def g(): return 2\n"
    assert extract_code("def h():\n    return 3\n") == "def h():\n    return 3\n"


def test_tags_are_case_insensitive_and_an_unclosed_block_runs_to_the_end() -> None:
    assert extract_code("```Py\nx = 1\n```") == "x = 1\n"
    cut_off = "Sure!\n```python3\ndef k():\n    s = '```'\n    return s"
    assert extract_code(cut_off) == "def k():\n    s = '```'\n    return s"


def test_the_block_defining_the_entry_point_wins_over_a_later_usage_example() -> None:
    answer = (
        "```python\ndef reverse_words(text):\n    return ' '.join(text.split()[::-1])\n```\n"
        "Usage:\n```python\nprint(reverse_words('a b'))\n```\n"
    )
    assert extract_code(answer, "reverse_words").startswith("def reverse_words(text):")
    # Without the name, or when no block defines it, the last python block is still taken.
    assert extract_code(answer) == "print(reverse_words('a b'))\n"
    assert extract_code(answer, "other") == "print(reverse_words('a b'))\n"
