"""A remote deployment's stream with the original values put back and the output policy applied
as the text arrives.

A placeholder may arrive split across chunks ("<EMA", "IL_1>"): each choice's text (and each tool
call's arguments) runs through its own restorer, which holds back only a fragment that could still
become a placeholder, and lets it go at the choice's finish or the stream's end.

The blocklist sees the restored text before the caller does. A chunk whose text ends in a match
that the next chunk may still turn into a longer word ("ass" before "ets") is held back, with the
chunks after it, until the policy decides; a refusal is raised before the term is sent.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

from llmgateway.errors import ContentPolicyError, GatewayError
from llmgateway.types import ChatCompletionChunk, ChunkChoice, ChunkDelta

if TYPE_CHECKING:
    from llmgateway.guardrails.pii.redaction import Redaction
    from llmgateway.guardrails.pii.stream_restore import StreamRestorer
    from llmgateway.guardrails.policy.engine import ContentPolicy
    from llmgateway.guardrails.policy.stream_check import StreamPolicyCheck


class _ChoiceState:
    __slots__ = ("arguments", "check", "finished", "text")

    def __init__(self, redaction: Redaction | None, policy: ContentPolicy | None) -> None:
        self.text: StreamRestorer | None = redaction.restorer() if redaction is not None else None
        self.arguments: dict[int, StreamRestorer] = {}
        self.check: StreamPolicyCheck | None = policy.stream_check() if policy is not None else None
        self.finished = False


def _restore_choice(
    choice: ChunkChoice, state: _ChoiceState, redaction: Redaction | None, final: bool
) -> None:
    delta = choice.delta
    if state.text is not None:
        restored = state.text.feed(delta.content) if delta.content else ""
        if final:
            restored += state.text.flush()
        if delta.content is not None or restored:
            delta.content = restored
    if redaction is not None:
        for call in delta.tool_calls or ():
            function = call.function
            if function is None or function.arguments is None:
                continue
            restorer = state.arguments.get(call.index or 0)
            if restorer is None:
                restorer = state.arguments[call.index or 0] = redaction.restorer()
            arguments = restorer.feed(function.arguments)
            if final:
                arguments += restorer.flush()
            function.arguments = arguments
    if final:
        state.finished = True


def _leftover(states: dict[int, _ChoiceState], template: ChatCompletionChunk) -> ChatCompletionChunk | None:
    """What the restorers still hold when the stream ends without a finish: one last chunk."""
    choices: list[ChunkChoice] = []
    for index, state in states.items():
        if state.finished or state.text is None:
            continue
        state.finished = True
        text = state.text.flush()
        if text:
            choices.append(ChunkChoice(index=index, delta=ChunkDelta(content=text)))
    if not choices:
        return None
    return ChatCompletionChunk(
        id=template.id, created=template.created, model=template.model, choices=choices
    )


async def guarded_chunks(
    upstream: AsyncIterator[ChatCompletionChunk],
    redaction: Redaction | None,
    policy: ContentPolicy | None,
    on_refused: Callable[[GatewayError], Awaitable[None]],
) -> AsyncGenerator[ChatCompletionChunk, None]:
    """``on_refused`` audits an answer the output policy stopped, before the refusal is raised."""
    states: dict[int, _ChoiceState] = {}
    last: ChatCompletionChunk | None = None
    held: list[ChatCompletionChunk] = []  # chunks waiting for the policy's decision
    try:
        async for chunk in upstream:
            last = chunk
            if not chunk.choices and chunk.usage is not None:
                # The usage chunk comes after every choice finished: anything held goes first.
                leftover = _leftover(states, chunk)
                if leftover is not None:
                    held.append(leftover)
                    _check(leftover, states)
            for choice in chunk.choices:
                state = states.get(choice.index)
                if state is None:
                    state = states[choice.index] = _ChoiceState(redaction, policy)
                _restore_choice(choice, state, redaction, final=choice.finish_reason is not None)
            held.append(chunk)
            if _check(chunk, states):
                continue
            for ready in held:
                yield ready
            held.clear()
        if last is not None:
            leftover = _leftover(states, last)
            if leftover is not None:
                held.append(leftover)
                _check(leftover, states)
        for state in states.values():
            if state.check is not None:
                await state.check.finish()  # what is pending, then the classifier on the answer
        for ready in held:
            yield ready
    except ContentPolicyError as refusal:
        await on_refused(refusal)
        raise
    finally:
        closer = getattr(upstream, "aclose", None)
        if closer is not None:
            await closer()


def _check(chunk: ChatCompletionChunk, states: dict[int, _ChoiceState]) -> bool:
    """The blocklist on the text about to reach the caller: raises before it is sent. True when
    some choice's text ends in an undecided match: hold the chunk back."""
    for choice in chunk.choices:
        state = states.get(choice.index)
        if state is None or state.check is None:
            continue
        if choice.delta.content:
            state.check.feed(choice.delta.content)
        for call in choice.delta.tool_calls or ():
            if call.function is not None and call.function.arguments:
                state.check.feed(call.function.arguments)
        if choice.finish_reason is not None:
            state.check.end()  # the choice's text is complete: what is pending is decided
    return any(s.check is not None and s.check.pending for s in states.values())
