"""The audit side of ``llmgateway keys``: the log a key change is recorded in (actor
``cli:<os user>``), and ``llmgateway keys audit`` to list entries."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmgateway.audit.entry import AuditEntry
    from llmgateway.audit.log import AuditLog
    from llmgateway.audit.settings import AuditConfig
    from llmgateway.server.settings import KeyStoreConfig


def cli_actor() -> str:
    """``cli:<os user>``: who ran the command, as far as this machine knows."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (e.g. a bare container)
        user = f"uid{os.getuid()}" if hasattr(os, "getuid") else "unknown"
    return f"cli:{user}"


def read_audit_config(path: str) -> AuditConfig | None:
    """The config's ``audit:`` section (with ${ENV} filled in), None when it has none."""
    from pydantic import ValidationError

    from llmgateway.audit.settings import AuditConfig
    from llmgateway.config import describe_validation_error, interpolate_env, read_yaml
    from llmgateway.errors import ConfigError

    data = read_yaml(path)
    section = data.get("audit") if isinstance(data, dict) else None
    if section is None:
        return None
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: audit: expected a mapping")
    try:
        return AuditConfig.model_validate(interpolate_env(section, os.environ, "audit"))
    except ValidationError as exc:
        raise ConfigError(f"{path}: {describe_validation_error(exc, 'audit')}") from exc


def open_audit_log(path: str, keys: KeyStoreConfig | None, *, create: bool = True) -> AuditLog:
    """The audit log the gateway with config ``path`` writes to (so CLI and server entries land
    in one place)."""
    from llmgateway.audit.settings import build_audit_log

    return build_audit_log(read_audit_config(path), keys, create=create)


def add_audit_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--action", help="only this action, e.g. key.created, key.budget_changed, call.blocked"
    )
    parser.add_argument("--actor", help='only this actor: "master", a key id or cli:<user>')
    parser.add_argument("--target", metavar="KEY_ID", help="only entries about this key")
    parser.add_argument("--since", metavar="TIME", help="from this ISO 8601 time on (UTC without a zone)")
    parser.add_argument("--until", metavar="TIME", help="before this ISO 8601 time (UTC without a zone)")
    parser.add_argument(
        "--limit", default="100", metavar="N", help="at most N entries, newest first (1-1000; 100)"
    )


def _filters(args: argparse.Namespace) -> dict[str, Any]:
    from llmgateway.audit.params import FILTERS, query_filters

    return query_filters({name: getattr(args, name) for name in FILTERS if getattr(args, name) is not None})


def _line(entry: AuditEntry) -> str:
    details = json.dumps(dict(entry.details), separators=(",", ":"))
    outcome = "" if entry.outcome == "ok" else f" [{entry.outcome}]"
    return (
        f"{entry.time.isoformat()}  {entry.actor}  {entry.action}{outcome}  {entry.target or '-'}  {details}"
    )


def _unstored(config: AuditConfig | None) -> str | None:
    """Why there is nothing to read, or None when there is a store to query."""
    if config is None:
        return (
            "audit entries are not stored (no audit: or server.keys section): "
            "they go only to the llmgateway.audit log"
        )
    if config.backend == "memory":
        return "audit.backend is memory: entries live only inside the running gateway (GET /admin/audit)"
    if config.backend == "sqlite" and not Path(config.path).is_file():
        return f"no audit store at {config.path} yet (nothing audited there)"
    return None


def list_entries(args: argparse.Namespace, keys: KeyStoreConfig | None) -> int:
    """Print the entries ``args`` asks for; the store is only read (never created)."""
    from llmgateway.audit.settings import effective_audit_config

    filters = _filters(args)
    note = _unstored(effective_audit_config(read_audit_config(args.config), keys))
    entries: list[AuditEntry] = []
    if note is None:

        async def read() -> list[AuditEntry]:
            log = open_audit_log(args.config, keys, create=False)
            try:
                return await log.query(**filters)
            finally:
                await log.aclose()

        entries = asyncio.run(read())
    if args.json:
        json.dump([entry.public() for entry in entries], sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for entry in entries:
            print(_line(entry))
        if not entries:
            print("(no entries)")
    if note is not None:
        print(f"note: {note}", file=sys.stderr)
    return 0
