"""Provider comparison: run suites of tasks on several models through the gateway and compare
their latency, cost and quality (``llmgateway compare``, or ``await compare(...)``).

Names load on first use, so ``import llmgateway`` never imports this package's dependencies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmgateway.lazy_exports import lazy_getattr

_EXPORTS = {
    "compare": "llmgateway.compare.api",
    "load_suite": "llmgateway.compare.suites",
    "Suite": "llmgateway.compare.suites",
    "BUILTIN_SUITES": "llmgateway.compare.suites",
    "Progress": "llmgateway.compare.progress",
    "summarise": "llmgateway.compare.aggregate",
    "CallRecord": "llmgateway.compare.records",
    "CompareResult": "llmgateway.compare.records",
    "SuiteItem": "llmgateway.compare.records",
    "Summary": "llmgateway.compare.records",
}

__all__ = [
    "BUILTIN_SUITES",
    "CallRecord",
    "CompareResult",
    "Progress",
    "Suite",
    "SuiteItem",
    "Summary",
    "compare",
    "load_suite",
    "summarise",
]

if TYPE_CHECKING:
    from llmgateway.compare.aggregate import summarise
    from llmgateway.compare.api import compare
    from llmgateway.compare.progress import Progress
    from llmgateway.compare.records import CallRecord, CompareResult, SuiteItem, Summary
    from llmgateway.compare.suites import BUILTIN_SUITES, Suite, load_suite

__getattr__ = lazy_getattr(__name__, _EXPORTS)
