"""The fake account every part of the fake runtime agrees on: its region and its one key pair."""

from __future__ import annotations

REGION = "us-east-1"
ACCESS_KEY = "AKIDFAKESAGEMAKER01"
SECRET_KEY = "fake-secret-key-for-tests-only"
INVOKED_VARIANT = "AllTraffic"
