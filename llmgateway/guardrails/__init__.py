"""Security and privacy guardrails: PII redaction before a call leaves for a remote deployment,
content policy checks before and after a call, and the settings that turn them on."""
