"""PII detection and redaction: find personal data and secrets in a prompt, replace each with a
placeholder before the call leaves, and put the values back into the answer (whole or streamed).

Only the settings are imported here; the detectors compile their patterns when a scanner is built.
"""

from llmgateway.guardrails.pii.redaction import Redaction
from llmgateway.guardrails.pii.scanner import Detector, Finding, PiiScanner
from llmgateway.guardrails.pii.settings import NamesConfig, PiiDetectorsConfig, PiiKind
from llmgateway.guardrails.pii.stream_restore import StreamRestorer

__all__ = [
    "Detector",
    "Finding",
    "NamesConfig",
    "PiiDetectorsConfig",
    "PiiKind",
    "PiiScanner",
    "Redaction",
    "StreamRestorer",
]
