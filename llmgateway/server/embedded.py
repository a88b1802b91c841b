"""The config ``llmgateway serve`` runs without ``--config``: the bundled local model, in
process, as the public model ``smollm2``, with a SQLite usage ledger and an in-memory cache.

The price is illustrative only (about what a small GPU costs per second of compute); set your own
in a config file.
"""

from __future__ import annotations

from typing import Any

EMBEDDED_MODEL = "smollm2"


def embedded_config() -> dict[str, Any]:
    """A fresh dict each time (callers may change it)."""
    return {
        "models": {
            EMBEDDED_MODEL: {
                "deployments": [
                    {
                        "name": "local-smollm2",
                        "provider": "local",
                        "settings": {"mode": "in_process", "model": "bundled"},
                        "pricing": {"per_compute_second": "0.0002"},
                    }
                ]
            }
        },
        "ledger": {"backend": "sqlite"},
        "cache": {"backend": "memory"},
    }
