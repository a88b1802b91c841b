"""Running ``llmgateway keys`` in process against a temporary SQLite key store."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from llmgateway.server.keys_cli import add_keys_parser

CONFIG = """
models:
  chat: {deployments: [{provider: mock}]}
server:
  master_key: master-key-0123456789
  keys: {backend: sqlite, path: "%s"}
"""


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="llmgateway")
    add_keys_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["keys", *argv])
    code: int = args.run(args)
    return code


@pytest.fixture
def config(tmp_path: Path) -> str:
    path = tmp_path / "gateway.yaml"
    path.write_text(CONFIG % (tmp_path / "keys.sqlite"), encoding="utf-8")
    return str(path)
