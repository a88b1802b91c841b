"""What a comparison needs installed, checked before any call is made.

The scoring libraries and matplotlib come with the ``eval`` extra. Without them a run would spend
its calls and then fail to score or chart them; checking their presence first (without importing
them) turns that into one clear error that says what to install.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.util import find_spec
from pathlib import Path

from llmgateway.compare.records import Task
from llmgateway.compare.suites import load_suite
from llmgateway.errors import ConfigError

# The library each task's metrics are computed with; qa and code need only the standard library.
_TASK_LIBRARIES: dict[Task, tuple[str, ...]] = {
    "translation": ("sacrebleu",),
    "summarization": ("rouge_score",),
    "chat": ("sacrebleu", "rouge_score"),
    "qa": (),
    "code": (),
}
CHART_LIBRARY = "matplotlib"


def missing_libraries(tasks: Iterable[Task], charts: bool) -> list[str]:
    wanted = {library for task in tasks for library in _TASK_LIBRARIES[task]}
    if charts:
        wanted.add(CHART_LIBRARY)
    return sorted(library for library in wanted if find_spec(library) is None)


def require_eval_libraries(tasks: Iterable[Task], *, charts: bool, charts_off: str = "--no-charts") -> None:
    """Raise ConfigError naming the extra when the metrics (or charts) of ``tasks`` cannot run; when
    matplotlib is all that is missing, it says how to write no charts (``charts_off``)."""
    missing = missing_libraries(tasks, charts)
    if missing:
        hint = f" (or write no charts: {charts_off})" if missing == [CHART_LIBRARY] else ""
        verb = "is" if len(missing) == 1 else "are"
        raise ConfigError(
            f"comparing needs {', '.join(missing)}, which {verb} not installed: "
            f"pip install 'llmgateway[eval]'{hint}"
        )


def require_suite_libraries(
    suites: Iterable[str | Path], *, charts: bool, charts_off: str = "--no-charts"
) -> None:
    """The check for ``suites`` (built-in names or JSONL files, loaded to read their tasks) and the
    charts together, so one error lists everything missing; ConfigError for an unknown suite too."""
    require_eval_libraries([load_suite(s).task for s in suites], charts=charts, charts_off=charts_off)
