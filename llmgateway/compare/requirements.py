"""What a comparison needs installed, checked before any call is made.

The scoring libraries and matplotlib come with the ``eval`` extra. Without them a run would spend
its calls and then fail to score or chart them; checking their presence first (without importing
them) turns that into one clear error that says what to install.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.util import find_spec

from llmgateway.compare.records import Task
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


def require_eval_libraries(tasks: Iterable[Task], *, charts: bool) -> None:
    """Raise ConfigError naming the extra when the metrics (or charts) of ``tasks`` cannot run."""
    missing = missing_libraries(tasks, charts)
    if missing:
        hint = " (or run without charts: --no-charts)" if missing == [CHART_LIBRARY] else ""
        raise ConfigError(
            f"comparing needs {', '.join(missing)}, which is not installed: "
            f"pip install 'llmgateway[eval]'{hint}"
        )
