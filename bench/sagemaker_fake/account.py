"""The fake account every part of the fake runtime agrees on: its region and its one key pair."""

from __future__ import annotations

REGION = "us-east-1"
ACCESS_KEY = "AKIDFAKESAGEMAKER01"
SECRET_KEY = "fake-secret-key-for-tests-only"
INVOKED_VARIANT = "AllTraffic"


def deployment_settings(endpoint_name: str, endpoint_url: str | None = None) -> dict[str, str]:
    """A sagemaker deployment's settings that sign with this account's keys in its region, at the
    fake runtime's ``endpoint_url`` when given (else the real runtime's URL, for mocked HTTP)."""
    settings = {
        "endpoint_name": endpoint_name,
        "region": REGION,
        "access_key_id": ACCESS_KEY,
        "secret_access_key": SECRET_KEY,
    }
    if endpoint_url is not None:
        settings["endpoint_url"] = endpoint_url
    return settings
