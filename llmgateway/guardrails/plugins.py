"""Plugins named in the config as ``package.module:attr``: a names detector, a classifier."""

from __future__ import annotations

import importlib
from typing import Any

from llmgateway.errors import ConfigError


def import_target(reference: str, setting: str) -> Any:
    """The object at ``package.module:attr`` (``attr`` may be dotted). ``setting`` names the config
    key in the errors, which say what is missing."""
    module_name, sep, attr = reference.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"{setting} {reference!r} is not of the form 'package.module:attr'")
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"{setting} {reference!r}: module {module_name!r} could not be imported ({exc}); "
            "is it installed or on PYTHONPATH?"
        ) from exc
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ConfigError(f"{setting} {reference!r}: {module_name!r} has no attribute {attr!r}") from None
    return target
