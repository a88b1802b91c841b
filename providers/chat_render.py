"""Render a chat into one prompt string, for endpoints that take raw text (TGI's ``inputs``,
Vertex ``prompt`` / ``inputs`` instances). The one chat-template mechanism of every provider.

A deployment's ``chat_template`` (a named template from ``providers.chat_templates``, or Jinja
text of its own) wins; else its tokenizer's own template; else the provider's default, if it has
one. Templates are rendered the way Hugging Face chat templates expect: a sandboxed environment with
``trim_blocks`` / ``lstrip_blocks``, ``raise_exception``, a ``tojson`` that does not HTML-escape,
and ``messages`` / ``add_generation_prompt`` plus any configured variables (``bos_token``...).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, overload

from llmgateway.errors import BadRequestError, ConfigError
from llmgateway.types import ChatMessage
from providers.chat_templates import template_source

if TYPE_CHECKING:
    from jinja2 import Template

    from providers.token_count import Tokenizer


class ChatRenderer(Protocol):
    def render(self, messages: Sequence[ChatMessage]) -> str: ...


def plain_messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """Messages as chat templates expect them: role and text content (content parts joined)."""
    plain: list[dict[str, Any]] = []
    for message in messages:
        item: dict[str, Any] = {"role": message.role, "content": message.text()}
        if message.name:
            item["name"] = message.name
        if message.tool_calls:
            item["tool_calls"] = [call.model_dump(exclude_none=True) for call in message.tool_calls]
        if message.tool_call_id:
            item["tool_call_id"] = message.tool_call_id
        plain.append(item)
    return plain


def _raise_exception(message: str) -> NoReturn:
    raise BadRequestError(f"the chat template refused these messages: {message}")


def compile_template(source: str) -> Template:
    """A Jinja chat template, checked now so a typo fails at config load."""
    try:
        import jinja2
        from jinja2.ext import loopcontrols
        from jinja2.sandbox import ImmutableSandboxedEnvironment
    except ImportError as exc:
        raise ConfigError("chat templates need jinja2: pip install jinja2") from exc

    environment = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols]
    )
    environment.filters["tojson"] = lambda value, indent=None: json.dumps(
        value, ensure_ascii=False, indent=indent
    )
    environment.globals["raise_exception"] = _raise_exception
    try:
        return environment.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(f"chat_template is not a valid Jinja template: {exc} (line {exc.lineno})") from exc


class TemplateRenderer:
    """A configured chat template (a name, or Jinja text) with fixed extra variables."""

    def __init__(self, template: str, variables: Mapping[str, Any] | None = None) -> None:
        self._template = compile_template(template_source(template))
        self._variables = dict(variables or {})

    def render(self, messages: Sequence[ChatMessage]) -> str:
        import jinja2

        try:
            return self._template.render(
                messages=plain_messages(messages), add_generation_prompt=True, **self._variables
            )
        except jinja2.TemplateError as exc:
            raise BadRequestError(f"the chat template failed on these messages: {exc}") from exc


class TokenizerRenderer:
    """The model's own chat template, from its tokenizer (loaded before the first render); the
    ``fallback`` renders for a tokenizer that has no template (without one, that is an error)."""

    def __init__(self, tokenizer: Tokenizer, fallback: ChatRenderer | None = None) -> None:
        self.tokenizer = tokenizer
        self.fallback = fallback

    def render(self, messages: Sequence[ChatMessage]) -> str:
        import jinja2

        if self.fallback is not None and self.tokenizer.chat_template is None:
            return self.fallback.render(messages)
        try:
            return self.tokenizer.render_chat(plain_messages(messages))
        except jinja2.TemplateError as exc:
            raise BadRequestError(f"the model's chat template failed on these messages: {exc}") from exc


@overload
def chat_renderer(
    template: str | None, variables: Mapping[str, Any], tokenizer: Tokenizer | None, default: str
) -> ChatRenderer: ...


@overload
def chat_renderer(
    template: str | None, variables: Mapping[str, Any], tokenizer: Tokenizer | None, default: None = None
) -> ChatRenderer | None: ...


def chat_renderer(
    template: str | None,
    variables: Mapping[str, Any],
    tokenizer: Tokenizer | None,
    default: str | None = None,
) -> ChatRenderer | None:
    """A deployment's renderer: its ``chat_template``, else its tokenizer's own template, else the
    provider's ``default`` template (also for a tokenizer without one); None when there is nothing
    to render with. Jinja templates compile here, so a typo fails at config load."""
    if template is not None:
        return TemplateRenderer(template, variables)
    fallback = TemplateRenderer(default, variables) if default is not None else None
    if tokenizer is not None:
        return TokenizerRenderer(tokenizer, fallback)
    return fallback
