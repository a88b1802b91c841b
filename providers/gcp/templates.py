"""Chat messages rendered into one prompt string, for containers that take raw text
(``{"prompt": ...}`` / ``{"inputs": ...}`` instances, TGI's ``inputs``).

Named templates cover the common instruction formats; anything else is a ``{message, generation}``
pair of format strings (``{role}`` and ``{content}`` are filled in per message). No template
engine is needed, so the gcp extra stays small.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from llmgateway.types import ChatMessage


class ChatTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    message: str = Field(description="one message; {role} and {content} are filled in")
    generation: str = Field(default="", description="appended after the last message: the reply's start")
    prefix: str = Field(default="", description="once, before the first message (e.g. <s>)")
    assistant_message: str | None = Field(default=None, description="an assistant turn, if not `message`")
    system_role: str = Field(default="system", description="the name a system/developer message gets")
    assistant_role: str = Field(default="assistant", description="the name an assistant message gets")

    def render(self, messages: Sequence[ChatMessage]) -> str:
        parts = [self.prefix]
        for message in messages:
            role: str = message.role
            form = self.message
            if role in ("system", "developer"):
                role = self.system_role
            elif role == "assistant":
                role = self.assistant_role
                form = self.assistant_message or form
            # replace, not str.format: message text may hold braces of its own.
            parts.append(form.replace("{role}", role).replace("{content}", message.text()))
        parts.append(self.generation)
        return "".join(parts)


TemplateName = Literal["chatml", "llama3", "gemma", "mistral", "plain"]
TemplateSpec = TemplateName | ChatTemplate

_NAMED: dict[str, ChatTemplate] = {
    "chatml": ChatTemplate(
        message="<|im_start|>{role}\n{content}<|im_end|>\n", generation="<|im_start|>assistant\n"
    ),
    "llama3": ChatTemplate(
        prefix="<|begin_of_text|>",
        message="<|start_header_id|>{role}<|end_header_id|>\n\n{content}<|eot_id|>",
        generation="<|start_header_id|>assistant<|end_header_id|>\n\n",
    ),
    # Gemma has no system role: the system text goes in as a user turn.
    "gemma": ChatTemplate(
        prefix="<bos>",
        message="<start_of_turn>{role}\n{content}<end_of_turn>\n",
        generation="<start_of_turn>model\n",
        system_role="user",
        assistant_role="model",
    ),
    "mistral": ChatTemplate(
        prefix="<s>",
        message="[INST] {content} [/INST]",
        assistant_message="{content}</s>",
        system_role="user",
    ),
    "plain": ChatTemplate(message="{role}: {content}\n", generation="assistant:"),
}


def render_chat(spec: TemplateSpec, messages: Sequence[ChatMessage]) -> str:
    template = _NAMED[spec] if isinstance(spec, str) else spec
    return template.render(messages)
