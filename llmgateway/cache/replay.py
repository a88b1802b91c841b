"""Stream <-> completion conversions, so one cached answer serves both request shapes:
a completion becomes the chunks a stream would have sent, and a stream's chunks assemble into
the completion a non-stream request would have got."""

from __future__ import annotations

from typing import Any

from llmgateway.types import (
    ChatChoice,
    ChatCompletion,
    ChatCompletionChunk,
    ChunkChoice,
    ChunkDelta,
    FunctionCall,
    ResponseMessage,
    ToolCall,
    Usage,
)


def completion_chunks(completion: ChatCompletion, include_usage: bool) -> list[ChatCompletionChunk]:
    """Per choice: a role chunk, one content chunk (with its logprobs and any extra message fields),
    a tool-calls chunk, a finish chunk; then, when asked, the usage chunk (no choices), as
    OpenAI sends them."""
    chunks: list[ChatCompletionChunk] = []

    def emit(index: int, delta: ChunkDelta, finish: str | None = None, logprobs: Any = None) -> None:
        choice = ChunkChoice(index=index, delta=delta, finish_reason=finish, logprobs=logprobs)
        chunks.append(_chunk(completion, [choice]))

    for choice in completion.choices:
        message = choice.message
        emit(choice.index, ChunkDelta(role=message.role or "assistant", content=""))
        extra = dict(message.model_extra or {})
        if message.content or extra or choice.logprobs:
            emit(choice.index, ChunkDelta(content=message.content, **extra), logprobs=choice.logprobs)
        if message.tool_calls:
            calls = [
                call.model_copy(update={"index": i if call.index is None else call.index})
                for i, call in enumerate(message.tool_calls)
            ]
            emit(choice.index, ChunkDelta(tool_calls=calls))
        emit(choice.index, ChunkDelta(), finish=choice.finish_reason or "stop")
    if include_usage and completion.usage is not None:
        chunks.append(_chunk(completion, [], completion.usage))
    return chunks


def _chunk(
    completion: ChatCompletion, choices: list[ChunkChoice], usage: Usage | None = None
) -> ChatCompletionChunk:
    return ChatCompletionChunk(
        id=completion.id,
        created=completion.created,
        model=completion.model,
        system_fingerprint=completion.system_fingerprint,
        choices=choices,
        usage=usage,
    )


class _ChoiceParts:
    """What the chunks of one choice add up to."""

    def __init__(self) -> None:
        self.role = "assistant"
        self.content: list[str] = []
        self.calls: dict[int, ToolCall] = {}
        self.finish: str | None = None
        self.logprobs: list[Any] = []
        self.extra: dict[str, Any] = {}

    def add(self, choice: ChunkChoice) -> None:
        delta = choice.delta
        if delta.role:
            self.role = delta.role
        if delta.content:
            self.content.append(delta.content)
        for call in delta.tool_calls or ():
            self._add_call(call)
        for name, value in (delta.model_extra or {}).items():
            # Extra text fields (reasoning_content, ...) stream in pieces like content.
            previous = self.extra.get(name)
            both_text = isinstance(previous, str) and isinstance(value, str)
            self.extra[name] = previous + value if both_text else value
        if choice.finish_reason:
            self.finish = choice.finish_reason
        if choice.logprobs and isinstance(choice.logprobs.get("content"), list):
            self.logprobs.extend(choice.logprobs["content"])

    def _add_call(self, call: ToolCall) -> None:
        index = call.index if call.index is not None else len(self.calls)
        known = self.calls.get(index)
        if known is None:
            function = FunctionCall(
                name=call.function.name if call.function else None,
                arguments=(call.function.arguments if call.function else None) or "",
            )
            self.calls[index] = ToolCall(id=call.id, type=call.type, function=function)
            return
        if call.id:
            known.id = call.id
        if call.function and known.function:
            if call.function.name:
                known.function.name = call.function.name
            known.function.arguments = (known.function.arguments or "") + (call.function.arguments or "")

    def choice(self, index: int) -> ChatChoice:
        message = ResponseMessage(
            role=self.role,
            content="".join(self.content) if self.content or not self.calls else None,
            tool_calls=[self.calls[i] for i in sorted(self.calls)] or None,
            **self.extra,
        )
        logprobs = {"content": self.logprobs} if self.logprobs else None
        return ChatChoice(index=index, message=message, finish_reason=self.finish, logprobs=logprobs)


def assemble(chunks: list[ChatCompletionChunk]) -> ChatCompletion:
    """The completion a stream's chunks add up to (content joined, tool-call arguments joined
    per call index, the last usage reported)."""
    if not chunks:
        raise ValueError("cannot assemble a completion from an empty stream")
    first = chunks[0]
    parts: dict[int, _ChoiceParts] = {}
    usage: Usage | None = None
    fingerprint = None
    for chunk in chunks:
        for choice in chunk.choices:
            parts.setdefault(choice.index, _ChoiceParts()).add(choice)
        if chunk.usage is not None:
            usage = chunk.usage
        fingerprint = chunk.system_fingerprint or fingerprint
    return ChatCompletion(
        id=first.id,
        created=first.created,
        model=first.model,
        choices=[parts[i].choice(i) for i in sorted(parts)],
        usage=usage,
        system_fingerprint=fingerprint,
    )
