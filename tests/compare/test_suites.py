"""The built-in suites are well-formed and their code tests are right; users' files are validated
with errors naming the file, the line and the field."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from llmgateway.compare import load_suite
from llmgateway.compare.suites import BUILTIN_SUITES, DEFAULT_MAX_TOKENS, language_name
from llmgateway.errors import ConfigError
from tests.compare import reference_code

TRANSLATION_TARGETS = {"fr", "de", "es"}


@pytest.mark.parametrize("name", BUILTIN_SUITES)
def test_every_builtin_suite_loads_with_unique_ids(name: str) -> None:
    suite = load_suite(name)
    assert suite.name == name and suite.task == name and suite.source == "built-in"
    assert len(suite.items) >= 24
    assert len({item.id for item in suite.items}) == len(suite.items)
    for item in suite.items:
        assert item.messages[-1]["role"] == "user" and item.messages[-1]["content"].strip()
        assert item.max_tokens == DEFAULT_MAX_TOKENS[suite.task]


def test_translation_items_name_both_languages_and_ask_for_the_translation_only() -> None:
    suite = load_suite("translation")
    raw = _raw_lines("translation")
    assert {line["target_lang"] for line in raw} == TRANSLATION_TARGETS
    for line, item in zip(raw, suite.items, strict=True):
        assert line["source_lang"] == "en" and item.reference == line["reference"]
        assert line["source"][-1] in ".?!" and line["reference"][-1] in ".?!"
        assert line["reference"] != line["source"]
        prompt = item.messages[0]["content"]
        assert prompt.startswith(f"Translate from English to {language_name(line['target_lang'])}.")
        assert "Answer with the translation only." in prompt and prompt.endswith(line["source"])
    per_language = [sum(1 for line in raw if line["target_lang"] == lang) for lang in TRANSLATION_TARGETS]
    assert min(per_language) >= 8


def test_summarization_documents_are_paragraphs_with_one_sentence_references() -> None:
    for line in _raw_lines("summarization"):
        assert 60 <= len(line["document"].split()) <= 120, line["id"]
        reference = line["reference"]
        assert reference.endswith(".") and reference.count(". ") == 0, line["id"]
        assert len(reference.split()) < len(line["document"].split()) / 2


def test_qa_answers_are_extractive_from_their_context() -> None:
    suite = load_suite("qa")
    for line, item in zip(_raw_lines("qa"), suite.items, strict=True):
        assert 1 <= len(line["answers"]) <= 3
        for answer in line["answers"]:
            assert answer.lower() in line["context"].lower(), (line["id"], answer)
        assert item.answers == tuple(line["answers"]) and item.reference is None
        assert line["question"] in item.messages[0]["content"]
        assert "Answer the question with a short phrase from the context." in item.messages[0]["content"]


def test_chat_dialogues_have_two_to_four_prior_turns_and_a_reply() -> None:
    suite = load_suite("chat")
    for line, item in zip(_raw_lines("chat"), suite.items, strict=True):
        roles = [turn["role"] for turn in line["turns"]]
        assert len(roles) - 1 in (2, 4)
        assert roles == ["user", "assistant"] * (len(roles) // 2) + ["user"]
        system = [line["system"]] if "system" in line else []
        assert [m["content"] for m in item.messages] == system + [t["content"] for t in line["turns"]]
        assert item.reference == line["reference"]
    assert any(item.messages[0]["role"] == "system" for item in suite.items)


@pytest.mark.parametrize("item", load_suite("code").items, ids=lambda item: item.id)
def test_code_item_tests_pass_a_reference_and_fail_a_wrong_answer(item: Any) -> None:
    assert item.tests is not None and item.entry_point is not None
    asserts = [line for line in item.tests.splitlines() if line.strip()]
    assert 3 <= len(asserts) <= 6 and all(line.startswith("assert ") for line in asserts)
    prompt = item.messages[0]["content"]
    assert f"`{item.entry_point}(" in prompt and "```python" in prompt
    reference: Callable[..., Any] = getattr(reference_code, item.entry_point)
    exec(item.tests, {item.entry_point: reference})  # every assert holds
    with pytest.raises(AssertionError):
        exec(item.tests, {item.entry_point: lambda *args: None})  # and they can fail


def test_readme_states_origin_and_licence() -> None:
    text = (Path(__file__).parents[2] / "llmgateway/compare/suites/README.md").read_text()
    assert "written for llmgateway" in text and "Apache-2.0" in text


# ------------------------------------------------------------------------------------- user files


def _write(tmp_path: Path, *lines: Any, name: str = "mine.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n")
    return path


QA_LINE = {"id": "q1", "task": "qa", "question": "What colour is the sky?", "answers": ["blue"]}


def test_user_file_loads_with_its_name_limits_and_system_prompt(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        QA_LINE,
        "",  # blank lines are skipped
        {**QA_LINE, "id": "q2", "max_tokens": 8, "system": "Be brief.", "meta": {"source": "me"}},
    )
    suite = load_suite(str(path))
    assert (suite.name, suite.task, suite.source) == ("mine", "qa", str(path))
    first, second = suite.items
    assert first.max_tokens == DEFAULT_MAX_TOKENS["qa"] and second.max_tokens == 8
    assert "Context" not in first.messages[0]["content"]  # no context: a closed-book question
    assert second.messages[0] == {"role": "system", "content": "Be brief."}


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["{not json"], r"line 1: not valid JSON"),
        ([QA_LINE, {"id": "q2", "task": "qa", "answers": ["x"]}],
         r"line 2: field 'question': Field required"),
        ([{**QA_LINE, "task": "poetry"}], r"line 1: field 'task': must be one of translation, .*code"),
        ([{k: v for k, v in QA_LINE.items() if k != "task"}], r"line 1: field 'task'"),
        ([{**QA_LINE, "answers": []}], r"line 1: field 'answers': List should have at least 1 item"),
        ([{**QA_LINE, "refernce": "x"}], r"line 1: field 'refernce': not a field of this task"),
        ([QA_LINE, QA_LINE], r"line 2: id 'q1' is already used on line 1"),
        ([QA_LINE, {"id": "s", "task": "summarization", "document": "d", "reference": "r"}],
         r"line 2: task 'summarization', but the file's first item is 'qa'"),
        ([{"id": "c", "task": "chat", "reference": "r",
           "turns": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}],
         r"line 1: field 'turns': Value error, the last turn must be the user's"),
        ([{"id": "c", "task": "chat", "turns": [{"role": "robot", "content": "hi"}], "reference": "r"}],
         r"line 1: field 'turns.0.role'"),
        ([{"id": "f", "task": "code", "prompt": "p", "entry_point": "not valid", "tests": "assert 1"}],
         r"line 1: field 'entry_point'"),
        ([{**QA_LINE, "max_tokens": 0}], r"line 1: field 'max_tokens'"),
    ],
)  # fmt: skip
def test_bad_user_files_name_file_line_and_field(tmp_path: Path, lines: list[Any], expected: str) -> None:
    path = _write(tmp_path, *lines)
    with pytest.raises(ConfigError, match=r"suite file .*mine\.jsonl, " + expected):
        load_suite(path)


def test_empty_missing_and_unknown_suites_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"mine\.jsonl: no items"):
        load_suite(_write(tmp_path, ""))
    with pytest.raises(ConfigError, match=r"suite file .*nowhere\.jsonl does not exist"):
        load_suite(str(tmp_path / "nowhere.jsonl"))
    with pytest.raises(
        ConfigError, match=r"unknown suite 'poetry': the built-in suites are translation, summarization, "
        r"qa, chat, code; or give the path of a JSONL file",
    ):  # fmt: skip
        load_suite("poetry")


def _raw_lines(name: str) -> list[dict[str, Any]]:
    path = Path(__file__).parents[2] / "llmgateway" / "compare" / "suites" / f"{name}.jsonl"
    lines = [json.loads(text) for text in path.read_text(encoding="utf-8").splitlines() if text.strip()]
    assert all(re.fullmatch(r"[a-z0-9-]+", line["id"]) for line in lines)
    return lines
