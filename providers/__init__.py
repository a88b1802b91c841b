"""Backends for llmgateway, one module each, registered under the ``llmgateway.providers`` entry points."""
