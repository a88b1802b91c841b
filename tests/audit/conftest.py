"""Fixtures for the audit tests."""

from tests.server.keys.cli_harness import config  # noqa: F401  (the fixture, for the keys CLI tests)
