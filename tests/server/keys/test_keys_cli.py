"""``llmgateway keys create | list | show | revoke`` on a temporary SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmgateway.server.keys.secrets import parse_key
from tests.server.keys.cli_harness import run


def test_create_list_show_revoke(config: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("list", "--config", config) == 2
    assert "no key store" in capsys.readouterr().err
    code = run(
        "create", "--config", config, "--name", "ci", "--team", "qa", "--model", "chat", "--rpm", "10",
        "--budget", "5", "--soft-budget", "1", "--period", "day", "--expires-in-days", "2",
        "--meta", "owner=ana", "--json",
    )  # fmt: skip
    assert code == 0
    created = json.loads(capsys.readouterr().out)
    key_id = created["id"]
    assert parse_key(created["key"]) is not None and created["budget"]["hard"] == "5"
    assert created["metadata"] == {"owner": "ana"} and created["team"] == "qa"

    assert run("create", "--config", config, "--name", "plain") == 0
    out = capsys.readouterr().out
    assert "key: sk-llmgw-" in out and "only time" in out

    assert run("list", "--config", config) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"{key_id}  active")
    assert run("show", "--config", config, key_id) == 0
    shown = capsys.readouterr().out
    assert "10" in shown and "5 / soft 1 USD per day" in shown and created["key"] not in shown

    assert run("revoke", "--config", config, key_id, "--json") == 0
    assert json.loads(capsys.readouterr().out)["status"] == "revoked"
    assert run("list", "--config", config, "--json") == 0
    assert [k["name"] for k in json.loads(capsys.readouterr().out)] == ["plain"]
    assert run("list", "--config", config, "--all", "--json") == 0
    assert len(json.loads(capsys.readouterr().out)) == 2
    assert run("show", "--config", config, "aaaaaaaaaaaa") == 1
    assert "no key with id" in capsys.readouterr().err


def test_clear_errors(config: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("create", "--config", config, "--name", "k", "--model", "nope") == 2
    assert "unknown model(s) nope" in capsys.readouterr().err
    assert run("create", "--config", config, "--name", "k", "--budget", "1", "--soft-budget", "2") == 2
    assert "budget.soft (2) must be below" in capsys.readouterr().err
    assert run("create", "--config", config, "--name", "k", "--meta", "novalue") == 2
    assert "KEY=VALUE" in capsys.readouterr().err
    bare = tmp_path / "bare.yaml"
    bare.write_text("models: {chat: {deployments: [{provider: mock}]}}\n", encoding="utf-8")
    assert run("list", "--config", str(bare)) == 2
    err = capsys.readouterr().err
    assert "no server.keys section" in err and "keys: {backend: sqlite" in err
    assert run("list", "--config", str(tmp_path / "missing.yaml")) == 2
    assert "cannot read config file" in capsys.readouterr().err
