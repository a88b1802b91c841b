"""The content policy: blocklist rules and an optional classifier, checked on the request and on
the answer (streamed or not). Names load on first use (PEP 562): importing the package, or its
settings, stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmgateway.lazy_exports import lazy_getattr

_EXPORTS = {
    "BlocklistEntry": "llmgateway.guardrails.policy.settings",
    "ClassifierConfig": "llmgateway.guardrails.policy.settings",
    "PolicyConfig": "llmgateway.guardrails.policy.settings",
    "Blocklist": "llmgateway.guardrails.policy.blocklist",
    "Classification": "llmgateway.guardrails.policy.classifier",
    "Classifier": "llmgateway.guardrails.policy.classifier",
    "ModerationClassifier": "llmgateway.guardrails.policy.moderation",
    "ContentPolicy": "llmgateway.guardrails.policy.engine",
    "StreamPolicyCheck": "llmgateway.guardrails.policy.stream_check",
}
__all__ = [
    "Blocklist",
    "BlocklistEntry",
    "Classification",
    "Classifier",
    "ClassifierConfig",
    "ContentPolicy",
    "ModerationClassifier",
    "PolicyConfig",
    "StreamPolicyCheck",
]

__getattr__ = lazy_getattr(__name__, _EXPORTS)


if TYPE_CHECKING:
    from llmgateway.guardrails.policy.blocklist import Blocklist
    from llmgateway.guardrails.policy.classifier import Classification, Classifier
    from llmgateway.guardrails.policy.engine import ContentPolicy
    from llmgateway.guardrails.policy.moderation import ModerationClassifier
    from llmgateway.guardrails.policy.settings import BlocklistEntry, ClassifierConfig, PolicyConfig
    from llmgateway.guardrails.policy.stream_check import StreamPolicyCheck
