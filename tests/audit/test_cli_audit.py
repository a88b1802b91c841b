"""``llmgateway keys`` records its key changes as cli:<os user> in the store the gateway uses,
and ``llmgateway keys audit`` lists them."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import pytest

from llmgateway.audit import AuditLog
from llmgateway.audit.sqlite_store import SqliteAuditStore
from tests.server.keys.cli_harness import run


def _audit(config: str, capsys: pytest.CaptureFixture[str], *options: str) -> list[dict[str, object]]:
    assert run("audit", "--config", config, "--json", *options) == 0
    entries: list[dict[str, object]] = json.loads(capsys.readouterr().out)
    return entries


def test_cli_changes_are_audited(config: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("audit", "--config", config) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == "(no entries)" and "no audit store" in captured.err

    assert (
        run("create", "--config", config, "--name", "ci", "--budget", "5", "--pii", "redact", "--json") == 0
    )
    created = json.loads(capsys.readouterr().out)
    key, key_id = created["key"], created["id"]
    assert created["pii"] == "redact"
    assert run("update", "--config", config, key_id, "--rpm", "10", "--pii", "default", "--json") == 0
    updated = json.loads(capsys.readouterr().out)
    assert updated["pii"] is None and updated["rpm"] == 10
    assert run("update", "--config", config, key_id, "--clear", "budget", "--name", "ci2") == 0
    assert "ci2" in capsys.readouterr().out
    assert run("revoke", "--config", config, key_id) == 0
    capsys.readouterr()

    actor = f"cli:{getpass.getuser()}"
    entries = list(reversed(_audit(config, capsys)))
    assert [e["action"] for e in entries] == [
        "key.created", "key.budget_changed", "key.pii_changed",
        "key.updated", "key.pii_changed",
        "key.updated", "key.budget_changed",
        "key.revoked",
    ]  # fmt: skip
    assert all(e["actor"] == actor and e["target"] == key_id and e["source"] is None for e in entries)
    assert entries[3]["details"] == {"rpm": 10.0, "pii": None}
    assert entries[4]["details"] == {"old": "redact", "new": None}
    assert entries[5]["details"] == {"budget": None, "name": "ci2"}
    assert json.dumps(entries).count(key) == 0 and key.rsplit("-", 1)[1] not in json.dumps(entries)

    # Filters, and the plain listing.
    assert [e["action"] for e in _audit(config, capsys, "--action", "key.budget_changed")] == [
        "key.budget_changed"
    ] * 2
    assert len(_audit(config, capsys, "--target", key_id, "--limit", "3")) == 3
    assert _audit(config, capsys, "--actor", "master") == []
    assert _audit(config, capsys, "--until", "2000-01-01") == []
    assert len(_audit(config, capsys, "--since", "2000-01-01T00:00:00+00:00")) == 8
    assert run("audit", "--config", config, "--limit", "1") == 0
    line = capsys.readouterr().out
    assert f"{actor}  key.revoked  {key_id}" in line and len(line.splitlines()) == 1

    # The server's audit log reads the same entries: the key store's file, table llm_audit.
    import asyncio

    async def stored() -> int:
        log = AuditLog(SqliteAuditStore(tmp_path / "keys.sqlite", create=False))
        try:
            return len(await log.query(actor=actor))
        finally:
            await log.aclose()

    assert asyncio.run(stored()) == 8


def test_cli_errors(config: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("create", "--config", config, "--name", "k") == 0
    key_id = capsys.readouterr().out.split()[1]  # the first line: "id        <id>"
    assert run("update", "--config", config, key_id) == 2
    assert "nothing to change" in capsys.readouterr().err
    assert run("update", "--config", config, key_id, "--rpm", "3", "--clear", "rpm") == 2
    assert "--clear rpm and a new rpm together" in capsys.readouterr().err
    assert run("update", "--config", config, "aaaaaaaaaaaa", "--rpm", "3") == 1
    assert "no key with id" in capsys.readouterr().err
    assert run("audit", "--config", config, "--limit", "0") == 2
    assert "limit='0': give a whole number from 1 to 1000" in capsys.readouterr().err
    assert run("audit", "--config", config, "--since", "soon") == 2
    assert "since='soon' is not an ISO 8601 time" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run("update", "--config", config, key_id, "--pii", "mask")
    assert "invalid choice: 'mask'" in capsys.readouterr().err


def test_audit_without_keys_or_audit_section(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bare = tmp_path / "bare.yaml"
    bare.write_text("models:\n  chat: {deployments: [{provider: mock}]}\n", encoding="utf-8")
    assert run("audit", "--config", str(bare)) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == "(no entries)" and "not stored" in captured.err


def test_help_names_the_audit(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run("--help")
    out = capsys.readouterr().out
    assert "update" in out and "audit" in out
    with pytest.raises(SystemExit):
        run("audit", "--help")
    out = capsys.readouterr().out
    assert "--action" in out and "--since" in out and "--limit" in out
