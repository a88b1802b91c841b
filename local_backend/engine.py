"""The local inference engine: a loaded model + tokenizer on a chosen device.

``LocalEngine.load(source)`` picks the device (CUDA with bf16 and SDPA attention when a GPU is
present, otherwise CPU fp32 using every core), loads the model, and offers what the scheduler and
the server need: chat rendering, tokenising, and the batched forward passes (``prefill`` /
``KVBatch.step``). It keeps no per-request state; ``BatchScheduler`` owns that.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llmgateway.types import ChatMessage
from local_backend.model_source import ModelSource, load_model, load_tokenizer
from local_backend.protocol import GenerationRequest, PromptTooLongError

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from local_backend.kv_batch import KVBatch, PrefixKV

logger = logging.getLogger(__name__)

DEFAULT_MAX_CONTEXT = 8192


@dataclass(frozen=True)
class DeviceChoice:
    device: torch.device
    dtype: torch.dtype
    attn_implementation: str
    threads: int | None  # CPU threads set for torch, None on GPU


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def select_device(preference: str = "auto") -> DeviceChoice:
    """``auto`` (GPU if present), ``cuda``, ``cuda:N`` or ``cpu``. Logs the choice."""
    import torch

    wanted = preference.lower()
    if wanted == "auto":
        wanted = "cuda" if torch.cuda.is_available() else "cpu"
    if wanted.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError(f"device {preference!r} requested but no CUDA GPU is available")
        device = torch.device(wanted)
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        choice = DeviceChoice(device, dtype, "sdpa", None)
        logger.info(
            "local engine device: %s (%s), %s, sdpa attention",
            device,
            torch.cuda.get_device_name(device),
            dtype,
        )
        return choice
    if wanted != "cpu":
        raise ValueError(f"unknown device {preference!r}; use auto, cpu, cuda or cuda:N")
    threads = available_cpus()
    torch.set_num_threads(threads)
    logger.info("local engine device: cpu, float32, sdpa attention, %d threads", threads)
    return DeviceChoice(torch.device("cpu"), torch.float32, "sdpa", threads)


class LocalEngine:
    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        device: DeviceChoice,
        name: str,
        prefix_caching: bool = True,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.device = device
        self.name = name
        self.eos_token_ids = _eos_ids(model, tokenizer)
        self.pad_token_id = _pad_id(tokenizer, self.eos_token_ids)
        self.max_context = int(getattr(model.config, "max_position_embeddings", 0) or DEFAULT_MAX_CONTEXT)
        self.cache_arg = _cache_argument(model)
        self.prefix_caching = prefix_caching
        self._prefix: PrefixKV | None = None
        self._prefix_checked = False

    @classmethod
    def load(
        cls,
        source: ModelSource | str | os.PathLike[str] = "bundled",
        device: str = "auto",
        prefix_caching: bool = True,
    ) -> LocalEngine:
        """Load a model: ``"bundled"`` (SmolLM2-135M), ``"tiny"``, a .gguf file or an HF directory.

        With ``prefix_caching`` the keys/values of the chat template's fixed header (e.g. the
        default system prompt) are computed once and reused by every prompt that starts with it.
        """
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        parsed = ModelSource.parse(source)
        choice = select_device(device)
        tokenizer = load_tokenizer(parsed)
        model = load_model(
            parsed,
            tokenizer,
            dtype=choice.dtype,
            device=choice.device,
            attn_implementation=choice.attn_implementation,
        )
        logger.info("local engine loaded %s (%s) on %s", parsed.name, parsed.kind, choice.device)
        return cls(model, tokenizer, choice, parsed.name, prefix_caching=prefix_caching)

    # -- text <-> ids ---------------------------------------------------------------------

    def render_chat(
        self, messages: Sequence[ChatMessage | Mapping[str, Any]], add_generation_prompt: bool = True
    ) -> list[int]:
        """Prompt token ids for a chat, through the tokenizer's chat template."""
        plain = [_plain_message(m) for m in messages]
        if not plain:
            raise ValueError("messages must not be empty")
        if getattr(self.tokenizer, "chat_template", None) is None:
            text = "".join(f"{m['role']}: {m['content']}\n" for m in plain) + (
                "assistant: " if add_generation_prompt else ""
            )
            return self.encode(text)
        rendered = self.tokenizer.apply_chat_template(
            plain, add_generation_prompt=add_generation_prompt, tokenize=False
        )
        return self.encode(str(rendered))

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (special tokens in the text are recognised, none are added)."""
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def decode(self, ids: Sequence[int]) -> str:
        return str(self.tokenizer.decode(list(ids), skip_special_tokens=True))

    def completion_budget(self, request: GenerationRequest) -> int:
        """How many tokens the request may generate: its max_tokens, capped by the context."""
        room = self.max_context - len(request.prompt_ids)
        if room < 1:
            raise PromptTooLongError(len(request.prompt_ids), self.max_context)
        return room if request.max_tokens is None else min(request.max_tokens, room)

    # -- forward passes -------------------------------------------------------------------

    def prefill(self, prompts: Sequence[Sequence[int]]) -> tuple[KVBatch, torch.Tensor]:
        """Run new prompts together; returns their KV batch and next-token logits, row i being
        ``prompts[i]``. Prompts that start with the cached template prefix skip recomputing it."""
        import torch

        from local_backend.kv_batch import prefill

        prefix = self._shared_prefix()
        cached = [i for i, p in enumerate(prompts) if prefix is not None and prefix.matches(p)]
        plain = [i for i in range(len(prompts)) if prefix is None or not prefix.matches(prompts[i])]
        with torch.inference_mode():
            groups = []
            for rows, group_prefix in ((cached, prefix), (plain, None)):
                if rows:
                    group = [prompts[i] for i in rows]
                    batch, logits = prefill(
                        self.model, group, self.pad_token_id, self.device.device, self.cache_arg, group_prefix
                    )
                    groups.append((rows, batch, logits))
            if len(groups) == 1:
                return groups[0][1], groups[0][2]
            (rows_a, batch, logits_a), (rows_b, other, logits_b) = groups
            batch.merge(other)
            order = rows_a + rows_b  # row k of the merged batch is prompts[order[k]]
            inverse = sorted(range(len(order)), key=order.__getitem__)
            batch.select(inverse)
            return batch, torch.cat([logits_a, logits_b])[inverse]

    def _shared_prefix(self) -> PrefixKV | None:
        """The chat template's fixed header as a cached prefix (computed on first use)."""
        if not self._prefix_checked:
            self._prefix_checked = True
            ids = self._template_header() if self.prefix_caching else []
            if len(ids) >= 2:
                import torch

                from local_backend.kv_batch import compute_prefix

                with torch.inference_mode():
                    self._prefix = compute_prefix(self.model, ids, self.device.device, self.cache_arg)
                logger.info("local engine caches a %d-token chat template prefix", len(ids))
        return self._prefix

    def _template_header(self) -> list[int]:
        """Token ids every default chat prompt starts with: the common part of two renders."""
        try:
            a = self.render_chat([{"role": "user", "content": "A"}])
            b = self.render_chat([{"role": "user", "content": "B"}])
        except Exception:  # a template that refuses these messages: no prefix, nothing else lost
            logger.debug("no chat template prefix", exc_info=True)
            return []
        n = 0
        while n < min(len(a), len(b)) and a[n] == b[n]:
            n += 1
        return a[:n]

    def step(self, batch: KVBatch, tokens: Sequence[int]) -> torch.Tensor:
        """One decode step for every row of ``batch``; returns next-token logits."""
        import torch

        with torch.inference_mode():
            return batch.step(self.model, tokens, self.cache_arg)


def _plain_message(message: ChatMessage | Mapping[str, Any]) -> dict[str, str]:
    if isinstance(message, ChatMessage):
        return {"role": message.role, "content": message.text()}
    msg = ChatMessage.model_validate(dict(message))
    return {"role": msg.role, "content": msg.text()}


def _eos_ids(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> frozenset[int]:
    ids: set[int] = set()
    for source in (getattr(model, "generation_config", None), model.config):
        value = getattr(source, "eos_token_id", None) if source is not None else None
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, (list, tuple)):
            ids.update(int(v) for v in value)
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    return frozenset(ids)


def _pad_id(tokenizer: PreTrainedTokenizerBase, eos_ids: frozenset[int]) -> int:
    if tokenizer.pad_token_id is not None:
        return int(tokenizer.pad_token_id)
    return min(eos_ids) if eos_ids else 0


def _cache_argument(model: PreTrainedModel) -> str:
    """Newer transformers call the KV cache argument ``cache``; older ones ``past_key_values``."""
    parameters = inspect.signature(model.forward).parameters
    return "cache" if "cache" in parameters else "past_key_values"
