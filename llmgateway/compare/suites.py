"""Suites: the JSONL files of items to ask every model, validated line by line, and the prompts
built from them.

Each line is one JSON object with a ``task`` (translation, summarization, qa, chat, code) and the
fields of that task; every line of a file has the same task. The built-in suites ship in
``llmgateway/compare/suites/``; users pass a path to their own file of the same shape.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from llmgateway.compare.records import TASKS, SuiteItem, Task
from llmgateway.errors import ConfigError

BUILTIN_DIR = Path(__file__).with_name("suites")
BUILTIN_SUITES: tuple[str, ...] = TASKS

# Enough room for a good answer from a small model; a line's "max_tokens" overrides it.
DEFAULT_MAX_TOKENS: dict[Task, int] = {
    "translation": 96,
    "summarization": 96,
    "qa": 32,
    "chat": 96,
    "code": 256,
}

_LANGUAGES = {"en": "English", "fr": "French", "de": "German", "es": "Spanish", "it": "Italian",
              "pt": "Portuguese", "nl": "Dutch", "pl": "Polish", "sv": "Swedish", "ja": "Japanese",
              "zh": "Chinese", "ko": "Korean", "ru": "Russian", "ar": "Arabic", "tr": "Turkish"}  # fmt: skip

Text = Annotated[str, Field(min_length=1)]


class _Line(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Text
    max_tokens: int | None = Field(default=None, ge=1)
    system: Text | None = None
    # The user's own notes about the item (source, licence...): kept out of the prompt.
    meta: dict[str, Any] | None = None


class TranslationLine(_Line):
    task: Literal["translation"]
    source: Text
    source_lang: Text
    target_lang: Text
    reference: Text


class SummarizationLine(_Line):
    task: Literal["summarization"]
    document: Text
    reference: Text


class QALine(_Line):
    task: Literal["qa"]
    question: Text
    context: Text | None = None
    answers: list[Text] = Field(min_length=1)


class Turn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Literal["user", "assistant"]
    content: Text


class ChatLine(_Line):
    task: Literal["chat"]
    turns: list[Turn] = Field(min_length=1)
    reference: Text

    @field_validator("turns")
    @classmethod
    def _ends_with_user(cls, turns: list[Turn]) -> list[Turn]:
        # The reference is the assistant's next reply, so the dialogue must end with the user.
        if turns[-1].role != "user":
            raise ValueError("the last turn must be the user's (the reference is the reply to it)")
        return turns


class CodeLine(_Line):
    task: Literal["code"]
    prompt: Text
    entry_point: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    tests: Text


Line = Annotated[
    Union[TranslationLine, SummarizationLine, QALine, ChatLine, CodeLine], Field(discriminator="task")
]
_LINE: TypeAdapter[Line] = TypeAdapter(Line)


@dataclass(frozen=True)
class Suite:
    """A named list of items of one task. ``source``: "built-in", or the file it was read from."""

    name: str
    task: Task
    items: list[SuiteItem]
    source: str

    def references(self) -> list[str]:
        """The items' reference texts (translations, summaries, replies), for perplexity."""
        return [item.reference for item in self.items if item.reference]


def language_name(code: str) -> str:
    """The name of a language code ("fr" -> "French"); anything else is used as written."""
    return _LANGUAGES.get(code.lower(), code)


def _user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def build_messages(line: Line) -> list[dict[str, str]]:
    """The chat request for one item: a clear instruction per task, and the item's system prompt."""
    if isinstance(line, TranslationLine):
        source, target = language_name(line.source_lang), language_name(line.target_lang)
        messages = [
            _user(f"Translate from {source} to {target}. Answer with the translation only.\n\n{line.source}")
        ]
    elif isinstance(line, SummarizationLine):
        messages = [
            _user(f"Summarize the text in one sentence. Answer with the summary only.\n\n{line.document}")
        ]
    elif isinstance(line, QALine):
        if line.context:
            ask = "Answer the question with a short phrase from the context. Answer with the phrase only."
            messages = [_user(f"{ask}\n\nContext: {line.context}\n\nQuestion: {line.question}")]
        else:
            ask = "Answer the question with a short phrase. Answer with the phrase only."
            messages = [_user(f"{ask}\n\nQuestion: {line.question}")]
    elif isinstance(line, ChatLine):
        messages = [{"role": turn.role, "content": turn.content} for turn in line.turns]
    else:
        messages = [
            _user(
                f"{line.prompt}\n\nAnswer with one ```python block that defines `{line.entry_point}` "
                "(imports inside the block, no example usage)."
            )
        ]
    if line.system:
        messages.insert(0, {"role": "system", "content": line.system})
    return messages


def to_item(line: Line) -> SuiteItem:
    max_tokens = line.max_tokens or DEFAULT_MAX_TOKENS[line.task]
    messages = build_messages(line)
    if isinstance(line, QALine):
        return SuiteItem(line.id, "qa", messages, answers=tuple(line.answers), max_tokens=max_tokens)
    if isinstance(line, CodeLine):
        return SuiteItem(
            line.id, "code", messages, tests=line.tests, entry_point=line.entry_point, max_tokens=max_tokens
        )
    return SuiteItem(line.id, line.task, messages, reference=line.reference, max_tokens=max_tokens)


def _describe(exc: ValidationError) -> str:
    """One clause per problem, naming the field ('turns.1.role') and what was wrong."""
    problems = []
    for error in exc.errors():
        location = [str(part) for part in error["loc"]]
        if location and location[0] in TASKS:
            location = location[1:]  # the discriminator's branch, not a field
        if error["type"] in ("union_tag_not_found", "union_tag_invalid"):
            problems.append(f"field 'task': must be one of {', '.join(TASKS)}")
        elif error["type"] == "extra_forbidden":
            problems.append(f"field '{'.'.join(location)}': not a field of this task (put notes in 'meta')")
        else:
            problems.append(f"field '{'.'.join(location) or '<line>'}': {error['msg']}")
    return "; ".join(problems)


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        with path.open(encoding="utf-8") as file:
            for number, text in enumerate(file, 1):
                if text.strip():
                    yield number, text
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"suite file {path}: cannot read it ({exc})") from exc


def read_suite_file(path: Path, name: str | None = None, source: str | None = None) -> Suite:
    """Validate every line of a JSONL suite file; errors name the file, the line and the field."""
    items: list[SuiteItem] = []
    seen: dict[str, int] = {}
    task: Task | None = None
    for number, text in _lines(path):
        where = f"suite file {path}, line {number}"
        try:
            line = _LINE.validate_python(json.loads(text))
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from exc
        except ValidationError as exc:
            raise ConfigError(f"{where}: {_describe(exc)}") from exc
        if task is not None and line.task != task:
            raise ConfigError(f"{where}: task '{line.task}', but the file's first item is '{task}'")
        if line.id in seen:
            raise ConfigError(f"{where}: id '{line.id}' is already used on line {seen[line.id]}")
        task, seen[line.id] = line.task, number
        items.append(to_item(line))
    if task is None:
        raise ConfigError(f"suite file {path}: no items (expected one JSON object per line)")
    return Suite(name or path.stem, task, items, source or str(path))


def load_suite(name_or_path: str | Path) -> Suite:
    """A built-in suite by name (translation, summarization, qa, chat, code) or a JSONL file."""
    text = str(name_or_path)
    if text in BUILTIN_SUITES:
        return read_suite_file(BUILTIN_DIR / f"{text}.jsonl", text, "built-in")
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return read_suite_file(path)
    if path.suffix or len(path.parts) > 1:
        raise ConfigError(f"suite file {path} does not exist")
    raise ConfigError(
        f"unknown suite '{text}': the built-in suites are {', '.join(BUILTIN_SUITES)}; "
        "or give the path of a JSONL file"
    )
