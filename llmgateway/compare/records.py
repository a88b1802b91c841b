"""What a comparison run produces: the items it asked, one record per call, and per-model summaries.

These types are the contract between the suites (``suites.py``), the runner (``runner.py``), the
metrics (``metrics/``) and the reports (``report/``). Every quality score is on a 0-100 scale
(BLEU, chrF, ROUGE-L F-measure x 100, exact match x 100, token F1 x 100, pass@1 x 100), so one
chart axis fits every task; perplexity is the only unbounded number and is kept apart.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any, Literal

Task = Literal["translation", "summarization", "qa", "chat", "code"]
TASKS: tuple[Task, ...] = ("translation", "summarization", "qa", "chat", "code")

# The score each task is judged by in the table's quality column and the cost/quality chart.
PRIMARY_METRIC: dict[Task, str] = {
    "translation": "bleu",
    "summarization": "rougeL",
    "qa": "f1",
    "chat": "chrf",
    "code": "pass@1",
}


@dataclass(frozen=True)
class SuiteItem:
    """One thing to ask every model, and what a good answer is measured against.

    ``messages`` is the chat request sent (OpenAI message dicts). ``reference`` is the reference
    text (translation, summary, the dialogue's expected reply); ``answers`` the accepted answers of
    a QA item; ``tests`` and ``entry_point`` the code item's test code and the function it calls.
    """

    id: str
    task: Task
    messages: list[dict[str, str]]
    reference: str | None = None
    answers: tuple[str, ...] = ()
    tests: str | None = None
    entry_point: str | None = None
    max_tokens: int = 256


@dataclass
class CallRecord:
    """One call of one item on one model, as the caller saw it."""

    model: str
    suite: str
    item_id: str
    ok: bool
    latency_ms: float
    ttft_ms: float | None = None
    output_tokens: int = 0
    # Output tokens per second after the first token (decode speed); None without a first token.
    tokens_per_s: float | None = None
    cost: Decimal = Decimal(0)
    currency: str = "USD"
    cost_estimated: bool = False
    # Tries beyond the first, as the gateway's metadata reports them.
    retries: int = 0
    deployment: str | None = None
    cache: str = "off"
    error: str | None = None
    error_type: str | None = None
    output: str = ""
    scores: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["cost"] = str(self.cost)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CallRecord:
        return cls(**{**data, "cost": Decimal(str(data.get("cost", "0")))})


@dataclass
class Summary:
    """One model on one suite: speed, cost, errors and quality over all its items."""

    model: str
    suite: str
    task: Task
    calls: int
    errors: int
    retries: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    ttft_p50_ms: float | None
    tokens_per_s: float | None
    cost_total: Decimal
    cost_per_call: Decimal
    currency: str
    cost_estimated: bool
    # Suite-level quality (corpus BLEU / chrF, mean ROUGE-L, EM, F1, pass@1), 0-100.
    quality: dict[str, float] = field(default_factory=dict)
    # Perplexity of the suite's reference texts under the model, where it can score text.
    perplexity: float | None = None

    @property
    def primary(self) -> float | None:
        """The task's headline score (``PRIMARY_METRIC``), when measured."""
        return self.quality.get(PRIMARY_METRIC[self.task])

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["cost_total"] = str(self.cost_total)
        data["cost_per_call"] = str(self.cost_per_call)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Summary:
        return cls(
            **{
                **data,
                "cost_total": Decimal(str(data["cost_total"])),
                "cost_per_call": Decimal(str(data["cost_per_call"])),
            }
        )


@dataclass
class CompareResult:
    """A whole run: what was compared, every call, and the summaries."""

    models: list[str]
    suites: list[str]
    started_at: str
    finished_at: str
    records: list[CallRecord] = field(default_factory=list)
    summaries: list[Summary] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "models": self.models,
            "suites": self.suites,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "settings": self.settings,
            "summaries": [s.to_dict() for s in self.summaries],
            "records": [r.to_dict() for r in self.records],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CompareResult:
        return cls(
            models=list(data["models"]),
            suites=list(data["suites"]),
            started_at=data["started_at"],
            finished_at=data["finished_at"],
            settings=dict(data.get("settings", {})),
            summaries=[Summary.from_dict(s) for s in data.get("summaries", [])],
            records=[CallRecord.from_dict(r) for r in data.get("records", [])],
        )
