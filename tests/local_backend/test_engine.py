"""The engine's batched forward passes on the tiny model: a row's logits must not depend on
what shares its batch (padding, the cached template prefix, merges and departures)."""

from __future__ import annotations

import pytest
import torch

from local_backend.engine import LocalEngine
from local_backend.model_source import ModelSource, ModelSourceError, bundled_chat_gguf


def chat_prompt(engine: LocalEngine, text: str) -> list[int]:
    return engine.render_chat([{"role": "user", "content": text}])


def test_mixed_prefix_and_plain_prompts_prefill_like_separately(tiny_engine: LocalEngine) -> None:
    chat = chat_prompt(tiny_engine, "Tell me a joke")
    plain = tiny_engine.encode("Just some raw text without a template")
    prefix = tiny_engine._shared_prefix()
    assert prefix is not None and prefix.matches(chat) and not prefix.matches(plain)

    _, together = tiny_engine.prefill([plain, chat])
    _, chat_alone = tiny_engine.prefill([chat])
    _, plain_alone = tiny_engine.prefill([plain])
    torch.testing.assert_close(together[0], plain_alone[0], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(together[1], chat_alone[0], rtol=1e-4, atol=1e-4)


def test_merge_and_select_keep_rows_independent(tiny_engine: LocalEngine) -> None:
    short, long = tiny_engine.encode("Hi"), tiny_engine.encode("A much longer prompt than the other one")
    a, logits_a = tiny_engine.prefill([short])
    b, logits_b = tiny_engine.prefill([long])
    ref_a, _ = tiny_engine.prefill([short])
    tokens = [int(logits_a[0].argmax()), int(logits_b[0].argmax())]
    a.merge(b)  # short row gets left padding
    merged = tiny_engine.step(a, tokens)
    alone = tiny_engine.step(ref_a, tokens[:1])
    torch.testing.assert_close(merged[0], alone[0], rtol=1e-4, atol=1e-4)
    a.select([0])  # the long row leaves; its padding columns are trimmed away
    assert len(a) == 1 and a.width == len(short) + 1
    torch.testing.assert_close(
        tiny_engine.step(a, [5])[0], tiny_engine.step(ref_a, [5])[0], rtol=1e-4, atol=1e-4
    )


def test_model_sources() -> None:
    assert ModelSource.parse("bundled").path == bundled_chat_gguf()
    assert ModelSource.parse(str(bundled_chat_gguf())).kind == "gguf"
    assert ModelSource.parse("tiny").kind == "tiny"
    with pytest.raises(ModelSourceError):
        ModelSource.parse("/no/such/model")
