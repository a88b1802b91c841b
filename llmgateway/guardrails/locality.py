"""Which deployments keep a call's data on this machine: the local backend in process, as a pool
of replica processes, or over HTTP to a loopback address."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from llmgateway.routing.deployment import Deployment


def is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a DNS name may resolve anywhere: not trusted as local


def keeps_data_local(deployment: Deployment) -> bool:
    if deployment.kind != "local":
        return False
    settings: Any = getattr(deployment.provider, "settings", None)
    mode = getattr(settings, "mode", "in_process")
    if mode != "http":
        return True
    base_url = getattr(settings, "base_url", None)
    return isinstance(base_url, str) and is_loopback_url(base_url)
