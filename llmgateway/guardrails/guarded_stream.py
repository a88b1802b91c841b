"""Streams under the guardrails: a remote deployment's chunks with the original values put back
(``restored_chunks``), and an answer's chunks under the output policy (``screened_chunks``).

A placeholder may arrive split across chunks ("<EMA", "IL_1>"): each choice's text, each of its
other text fields (reasoning ...) and each tool call's arguments run through their own restorer,
which holds back only a fragment that could still become a placeholder and lets it go at the
choice's finish or the stream's end. Arguments are JSON: their values go back JSON-escaped.

The blocklist sees the restored text before the caller does. A chunk whose text ends in a match
that the next chunk may still turn into a longer word ("ass" before "ets") is held back, with the
chunks after it, until the policy decides; a refusal is raised before the term is sent.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

from llmgateway.errors import ContentPolicyError, GatewayError
from llmgateway.guardrails.wire_text import restore_value, strings_in
from llmgateway.streaming import close_iterator
from llmgateway.types import ChatCompletionChunk, ChunkChoice, ChunkDelta, FunctionCall, ToolCall

if TYPE_CHECKING:
    from llmgateway.guardrails.pii.redaction import Redaction
    from llmgateway.guardrails.pii.stream_restore import StreamRestorer
    from llmgateway.guardrails.policy.stream_check import StreamPolicyCheck

_ID_FIELDS = frozenset({"role", "type", "id", "name"})


class _Restorers:
    """One choice's restorers: its content, its other text fields, its tool calls' arguments."""

    __slots__ = ("arguments", "fields", "finished", "redaction")

    def __init__(self, redaction: Redaction) -> None:
        self.redaction = redaction
        self.fields: dict[str, StreamRestorer] = {}
        self.arguments: dict[int, StreamRestorer] = {}
        self.finished = False

    def text(self, field: str, delta: str) -> str:
        restorer = self.fields.get(field)
        if restorer is None:
            restorer = self.fields[field] = self.redaction.restorer()
        return restorer.feed(delta)

    def argument(self, index: int, delta: str) -> str:
        restorer = self.arguments.get(index)
        if restorer is None:
            restorer = self.arguments[index] = self.redaction.restorer(json_escaped=True)
        return restorer.feed(delta)

    def flush(self, delta: ChunkDelta) -> None:
        """Whatever is held goes out with ``delta`` (the choice's last)."""
        self.finished = True
        for field, restorer in self.fields.items():
            held = restorer.flush()
            if held:
                setattr(delta, field, (getattr(delta, field, None) or "") + held)
        for index, restorer in self.arguments.items():
            held = restorer.flush()
            if not held:
                continue
            calls = delta.tool_calls = delta.tool_calls or []
            call = next((c for c in calls if (c.index or 0) == index), None)
            if call is None:
                calls.append(ToolCall(index=index, type=None, function=FunctionCall(arguments=held)))
            elif call.function is None:
                call.function = FunctionCall(arguments=held)
            else:
                call.function.arguments = (call.function.arguments or "") + held


def _text_fields(delta: ChunkDelta) -> list[str]:
    fields = ["content"] if delta.content else []
    extra = delta.__pydantic_extra__
    if extra:
        fields.extend(k for k, v in extra.items() if isinstance(v, str) and v and k not in _ID_FIELDS)
    return fields


def _nested_fields(delta: ChunkDelta) -> list[str]:
    """Extra fields holding lists or objects (``reasoning_details`` ...): restored chunk by chunk."""
    extra = delta.__pydantic_extra__
    return [k for k, v in extra.items() if isinstance(v, (list, dict))] if extra else []


def _restore(choice: ChunkChoice, state: _Restorers) -> None:
    delta = choice.delta
    for field in _text_fields(delta):
        setattr(delta, field, state.text(field, getattr(delta, field)))
    extra = delta.__pydantic_extra__
    for field in _nested_fields(delta):
        assert extra is not None
        extra[field] = restore_value(extra[field], state.redaction.restore)
    for call in delta.tool_calls or ():
        if call.function is not None and call.function.arguments:
            call.function.arguments = state.argument(call.index or 0, call.function.arguments)
    if choice.finish_reason is not None:
        state.flush(delta)


def _leftover(states: dict[int, _Restorers], template: ChatCompletionChunk) -> ChatCompletionChunk | None:
    """What the restorers still hold when the stream ends without a finish: one last chunk."""
    choices: list[ChunkChoice] = []
    for index, state in states.items():
        if state.finished:
            continue
        delta = ChunkDelta()
        state.flush(delta)
        if delta.model_dump(exclude_none=True):
            choices.append(ChunkChoice(index=index, delta=delta))
    if not choices:
        return None
    return ChatCompletionChunk(
        id=template.id, created=template.created, model=template.model, choices=choices
    )


async def restored_chunks(
    upstream: AsyncIterator[ChatCompletionChunk], redaction: Redaction
) -> AsyncGenerator[ChatCompletionChunk, None]:
    states: dict[int, _Restorers] = {}
    last: ChatCompletionChunk | None = None
    try:
        async for chunk in upstream:
            last = chunk
            if not chunk.choices and chunk.usage is not None:
                # The usage chunk comes after every choice finished: anything held goes first.
                leftover = _leftover(states, chunk)
                if leftover is not None:
                    yield leftover
            for choice in chunk.choices:
                state = states.get(choice.index)
                if state is None:
                    state = states[choice.index] = _Restorers(redaction)
                _restore(choice, state)
            yield chunk
        if last is not None:
            leftover = _leftover(states, last)
            if leftover is not None:
                yield leftover
    finally:
        await close_iterator(upstream)


async def screened_chunks(
    source: AsyncIterator[ChatCompletionChunk],
    new_check: Callable[[], StreamPolicyCheck],
    on_refused: Callable[[GatewayError], Awaitable[None]],
) -> AsyncGenerator[ChatCompletionChunk, None]:
    """``source`` under the output policy, one check per choice. ``on_refused`` audits a refusal
    before it is raised."""
    checks: dict[int, StreamPolicyCheck] = {}
    held: list[ChatCompletionChunk] = []  # chunks waiting for the policy's decision
    try:
        async for chunk in source:
            held.append(chunk)
            if _check(chunk, checks, new_check):
                continue
            for ready in held:
                yield ready
            held.clear()
        for check in checks.values():
            await check.finish()  # what is pending, then the classifier on the whole answer
        for ready in held:
            yield ready
    except ContentPolicyError as refusal:
        await on_refused(refusal)
        raise
    finally:
        await close_iterator(source)


def _check(
    chunk: ChatCompletionChunk,
    checks: dict[int, StreamPolicyCheck],
    new_check: Callable[[], StreamPolicyCheck],
) -> bool:
    """The blocklist on the text about to reach the caller: raises before it is sent. True when
    some choice's text ends in an undecided match: hold the chunk back."""
    for choice in chunk.choices:
        check = checks.get(choice.index)
        if check is None:
            check = checks[choice.index] = new_check()
        delta = choice.delta
        for field in _text_fields(delta):
            check.feed(getattr(delta, field))
        for field in _nested_fields(delta):
            for text in strings_in((delta.__pydantic_extra__ or {})[field]):
                check.feed(text)
        for call in delta.tool_calls or ():
            if call.function is not None and call.function.arguments:
                check.feed(call.function.arguments)
        if choice.finish_reason is not None:
            check.end()  # the choice's text is complete: what is pending is decided
    return any(check.pending for check in checks.values())
