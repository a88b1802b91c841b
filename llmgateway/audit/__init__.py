"""The audit log: who created, changed or revoked which virtual key, and which calls the
guardrails refused. Append-only, in SQLite, PostgreSQL or memory, and always on the
``llmgateway.audit`` logger as one JSON line per entry."""

from llmgateway.audit.entry import (
    CALL_BLOCKED,
    KEY_BUDGET_CHANGED,
    KEY_CREATED,
    KEY_PII_CHANGED,
    KEY_REVOKED,
    KEY_UPDATED,
    AuditEntry,
    AuditQuery,
)
from llmgateway.audit.log import AuditLog
from llmgateway.audit.settings import AuditConfig, build_audit_log

__all__ = [
    "CALL_BLOCKED",
    "KEY_BUDGET_CHANGED",
    "KEY_CREATED",
    "KEY_PII_CHANGED",
    "KEY_REVOKED",
    "KEY_UPDATED",
    "AuditConfig",
    "AuditEntry",
    "AuditLog",
    "AuditQuery",
    "build_audit_log",
]
