"""Engines shared by the local backend tests: loaded once per session (loading dominates)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

pytest.importorskip("torch")
pytest.importorskip("transformers")

from local_backend.engine import LocalEngine
from local_backend.scoring import EmbeddingModel


@pytest.fixture(scope="session")
def tiny_engine() -> LocalEngine:
    """A 2-layer random Llama with the SmolLM2 tokenizer: fast, deterministic, meaningless text."""
    return LocalEngine.load("tiny", device="cpu")


@pytest.fixture(scope="session")
def bundled_engine() -> LocalEngine:
    """The real bundled SmolLM2-135M-Instruct."""
    return LocalEngine.load("bundled", device="cpu")


@pytest.fixture(scope="session")
def embedder() -> EmbeddingModel:
    return EmbeddingModel.load(device="cpu")
