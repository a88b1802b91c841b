"""The usage ledger: one record per call, batched into SQLite or PostgreSQL off the request path.

Stores and the writer load on first use; importing this package stays cheap.
"""

from __future__ import annotations

from llmgateway.accounting.ledger.record import UsageRecord, record_from_dict, record_to_dict
from llmgateway.accounting.ledger.settings import LedgerConfig
from llmgateway.accounting.ledger.store import GROUP_COLUMNS, LedgerStore, UsageTotal
from llmgateway.accounting.ledger.writer import Ledger, build_ledger

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
