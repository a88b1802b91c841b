"""The usage ledger: one record per call, batched into SQLite or PostgreSQL off the request path.
Names load on first use (PEP 562): importing the package, or its settings, stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmgateway.lazy_exports import lazy_getattr

_EXPORTS = {
    "UsageRecord": "llmgateway.accounting.ledger.record",
    "record_from_dict": "llmgateway.accounting.ledger.record",
    "record_to_dict": "llmgateway.accounting.ledger.record",
    "LedgerConfig": "llmgateway.accounting.ledger.settings",
    "GROUP_COLUMNS": "llmgateway.accounting.ledger.store",
    "LedgerStore": "llmgateway.accounting.ledger.store",
    "UsageTotal": "llmgateway.accounting.ledger.store",
    "Ledger": "llmgateway.accounting.ledger.writer",
    "build_ledger": "llmgateway.accounting.ledger.writer",
}
__all__ = [
    "GROUP_COLUMNS",
    "Ledger",
    "LedgerConfig",
    "LedgerStore",
    "UsageRecord",
    "UsageTotal",
    "build_ledger",
    "record_from_dict",
    "record_to_dict",
]


__getattr__ = lazy_getattr(__name__, _EXPORTS)


if TYPE_CHECKING:
    from llmgateway.accounting.ledger.record import UsageRecord, record_from_dict, record_to_dict
    from llmgateway.accounting.ledger.settings import LedgerConfig
    from llmgateway.accounting.ledger.store import GROUP_COLUMNS, LedgerStore, UsageTotal
    from llmgateway.accounting.ledger.writer import Ledger, build_ledger
