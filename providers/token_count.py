"""A deployment's own tokenizer, for exact token counts and its chat template.

Remote containers do not always report usage (TGI's details carry no prompt count; raw
payloads carry nothing). When a deployment names its model's tokenizer (a Hugging Face model
directory or a ``.gguf`` file), prompts and outputs are counted with it instead of estimated.
transformers is imported, and the tokenizer loaded, once, on first use, in a worker thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator

from llmgateway.errors import ConfigError

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


def check_tokenizer_path(value: str) -> str:
    """A model directory or a .gguf file that exists (for settings validators)."""
    path = Path(value).expanduser()
    if path.is_dir() or (path.is_file() and path.suffix.lower() == ".gguf"):
        return str(path)
    raise ValueError(f"{value!r} is neither a model directory nor a .gguf file")


# A deployment setting naming its model's tokenizer, checked at config load.
TokenizerPath = Annotated[str, AfterValidator(check_tokenizer_path)]
# Counts a text's tokens (a configured tokenizer's ``count_text``), for backends that report none.
TokenCounter = Callable[[str], int]


def tokenizer_at(path: str | None) -> Tokenizer | None:
    """The deployment's tokenizer, when its settings name one (loaded on first use)."""
    return Tokenizer(path) if path is not None else None


async def tokenizer_ready(tokenizer: Tokenizer | None) -> None:
    """Load the tokenizer, when there is one, in a worker thread: reading its files and building
    its tables must not block the event loop (each call awaits this before rendering or counting)."""
    if tokenizer is not None and not tokenizer.loaded:
        await tokenizer.aload()


class Tokenizer:
    """A lazily loaded Hugging Face tokenizer (thread-safe load, shared by every call)."""

    def __init__(self, path: str) -> None:
        self.path = Path(path).expanduser()
        self._tokenizer: PreTrainedTokenizerBase | None = None
        self._loading = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._tokenizer is not None

    def load(self) -> PreTrainedTokenizerBase:
        """The tokenizer (blocking on first use: call ``aload`` from async code)."""
        if self._tokenizer is not None:
            return self._tokenizer
        with self._loading:
            if self._tokenizer is None:
                self._tokenizer = self._read()
        return self._tokenizer

    async def aload(self) -> PreTrainedTokenizerBase:
        if self._tokenizer is not None:
            return self._tokenizer
        return await asyncio.to_thread(self.load)

    def _read(self) -> PreTrainedTokenizerBase:
        try:
            from transformers import AutoTokenizer
        except ImportError as exc:
            raise ConfigError(
                f"counting tokens with {self.path} needs transformers: pip install 'llmgateway[local]'"
            ) from exc
        try:
            if self.path.is_file():
                return AutoTokenizer.from_pretrained(str(self.path.parent), gguf_file=self.path.name)
            return AutoTokenizer.from_pretrained(str(self.path))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"could not load a tokenizer from {self.path}: {exc}") from exc

    def count_text(self, text: str) -> int:
        """Tokens in ``text`` as the model sees it (special tokens in it recognised, none added)."""
        return len(self.load().encode(text, add_special_tokens=False)) if text else 0

    @property
    def chat_template(self) -> str | None:
        template = getattr(self.load(), "chat_template", None)
        return template if isinstance(template, str) else None

    def render_chat(self, messages: Sequence[Mapping[str, Any]], add_generation_prompt: bool = True) -> str:
        """The prompt text for a chat, through the tokenizer's own chat template."""
        if self.chat_template is None:
            raise ConfigError(
                f"the tokenizer at {self.path} has no chat template; set the deployment's chat_template"
            )
        rendered = self.load().apply_chat_template(
            [dict(m) for m in messages], add_generation_prompt=add_generation_prompt, tokenize=False
        )
        return str(rendered)

    def count_chat(self, messages: Sequence[Mapping[str, Any]]) -> int:
        """Prompt tokens of a chat rendered with the template (as a Messages API container does)."""
        return self.count_text(self.render_chat(messages))
