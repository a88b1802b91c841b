"""The embedding model shared by the local backend tests (the engines live in tests/conftest.py)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

pytest.importorskip("torch")
pytest.importorskip("transformers")

from local_backend.scoring import EmbeddingModel


@pytest.fixture(scope="session")
def embedder() -> EmbeddingModel:
    return EmbeddingModel.load(device="cpu")
