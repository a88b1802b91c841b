"""``llmgateway keys create | list | show | update | revoke | audit``: manage virtual keys in the
store named by the config's ``server.keys`` section, directly (no server needed). A running proxy
sees a change within ``server.keys.cache_seconds``. Every change is recorded in the gateway's
audit log (actor ``cli:<os user>``), which ``keys audit`` lists."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmgateway.errors import GatewayError
from llmgateway.server.audit_cli import add_audit_arguments, cli_actor, list_entries, open_audit_log

if TYPE_CHECKING:
    from llmgateway.audit.key_actions import KeyAudit
    from llmgateway.server.keys.model import KeyRecord
    from llmgateway.server.keys.store import KeyStore
    from llmgateway.server.settings import KeyStoreConfig

_HOW_TO = (
    "add one to the config, e.g.\n  server:\n    master_key: ${LLMGATEWAY_MASTER_KEY}\n"
    "    keys: {backend: sqlite, path: llmgateway_keys.sqlite}"
)


def add_keys_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "keys",
        help="create, list, show, update and revoke virtual keys; list the audit log",
        description="Manage the proxy's virtual keys in the store named by the config's server.keys "
        "section (SQLite or PostgreSQL), without a running server. Changes are recorded in the "
        "audit log (the config's audit: section, else beside the keys) as cli:<os user>.",
    )
    actions = parser.add_subparsers(dest="keys_command", metavar="ACTION", required=True)

    def action(
        name: str, help_text: str, run: Callable[[argparse.Namespace], int]
    ) -> argparse.ArgumentParser:
        sub = actions.add_parser(name, help=help_text, description=help_text)
        sub.add_argument(
            "--config", required=True, metavar="FILE", help="gateway YAML config with server.keys"
        )
        sub.add_argument("--json", action="store_true", help="print JSON")
        sub.set_defaults(run=run)
        return sub

    create = action("create", "create a key and print it (the only time it is shown)", run_create)
    create.add_argument("--name", required=True, help="what the key is for")
    create.add_argument("--team", help="team its usage and team budgets are counted to")
    create.add_argument(
        "--model", dest="models", action="append", default=[], metavar="NAME",
        help="a public model name it may call (repeatable; default: all)",
    )  # fmt: skip
    _add_settings(create)

    update = action("update", "change a key: only the settings given change", run_update)
    update.add_argument("id", help="key id (the 12 characters after sk-llmgw-)")
    update.add_argument("--name", help="a new name")
    update.add_argument("--team", help="a new team")
    update.add_argument(
        "--model", dest="models", action="append", metavar="NAME",
        help="the public model names it may call, replacing the old list (repeatable)",
    )  # fmt: skip
    _add_settings(update)
    update.add_argument(
        "--clear", action="append", default=[], choices=_CLEARABLE,
        help="remove a setting (repeatable): models (then all are allowed), team, rpm, tpm, budget, "
        "expires_at (never expires), metadata",
    )  # fmt: skip

    listing = action("list", "list keys (no secrets)", run_list)
    listing.add_argument("--all", action="store_true", help="include revoked keys")
    show = action("show", "show one key", run_show)
    show.add_argument("id", help="key id (the 12 characters after sk-llmgw-)")
    revoke = action("revoke", "revoke a key for good", run_revoke)
    revoke.add_argument("id", help="key id (the 12 characters after sk-llmgw-)")
    audit = action("audit", "list the audit log, newest first (key changes, blocked calls)", run_audit)
    add_audit_arguments(audit)


_CLEARABLE = ("models", "team", "rpm", "tpm", "budget", "expires_at", "metadata")


def _add_settings(parser: argparse.ArgumentParser) -> None:
    """The options create and update share."""
    parser.add_argument("--rpm", type=float, help="requests per minute")
    parser.add_argument("--tpm", type=float, help="tokens per minute")
    parser.add_argument(
        "--budget", metavar="AMOUNT", help="hard budget: calls that could pass it are refused"
    )
    parser.add_argument("--soft-budget", metavar="AMOUNT", help="soft budget: warn once when reached")
    parser.add_argument("--period", choices=("day", "month", "total"), default="month", help="budget period")
    parser.add_argument("--currency", default="USD", help="budget currency (default USD)")
    expiry = parser.add_mutually_exclusive_group()
    expiry.add_argument("--expires-in-days", type=float, metavar="DAYS", help="expire after this many days")
    expiry.add_argument(
        "--expires-at", metavar="TIME", help="expire at this ISO 8601 time, e.g. 2027-01-01T00:00Z"
    )
    parser.add_argument(
        "--meta",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="free metadata (repeatable; on update it replaces the old)",
    )
    parser.add_argument(
        "--pii", choices=("off", "redact", "block", "default"),
        help="PII handling of its calls; default: the model's / config's guardrails.pii",
    )  # fmt: skip


# -- config ---------------------------------------------------------------------------------------
def _read_config(path: str) -> tuple[KeyStoreConfig, list[str]]:
    """The ``server.keys`` section (with ${ENV} filled in) and the config's model names."""
    from llmgateway.errors import ConfigError

    config, models = _read_keys_section(path)
    if config is None:
        raise ConfigError(f"{path} has no server.keys section (where virtual keys are stored); {_HOW_TO}")
    return config, models


def _read_keys_section(path: str) -> tuple[KeyStoreConfig | None, list[str]]:
    from pydantic import ValidationError

    from llmgateway.config import describe_validation_error, interpolate_env, read_yaml
    from llmgateway.errors import ConfigError
    from llmgateway.server.settings import KeyStoreConfig

    data = read_yaml(path)
    data = data if isinstance(data, dict) else {}
    server = data.get("server") or {}
    section = server.get("keys") if isinstance(server, dict) else None
    models = data.get("models")
    names = list(models) if isinstance(models, dict) else []
    if section is None:
        return None, names
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: server.keys: expected a mapping")
    try:
        config = KeyStoreConfig.model_validate(interpolate_env(section, os.environ, "server.keys"))
    except ValidationError as exc:
        raise ConfigError(f"{path}: {describe_validation_error(exc, 'server.keys')}") from exc
    return config, names


def _open(config: KeyStoreConfig, *, create: bool) -> KeyStore:
    from llmgateway.errors import ConfigError
    from llmgateway.server.keys.store import build_key_store

    if not create and config.backend == "sqlite" and not Path(config.path).is_file():
        raise ConfigError(
            f"no key store at {config.path} yet (it is made by the first 'llmgateway keys create'; "
            "relative paths are relative to the directory you run in)"
        )
    return build_key_store(config, create=create)


def _run(
    args: argparse.Namespace, work: Callable[[KeyStore], Awaitable[int]], *, create: bool = False
) -> int:
    async def main() -> int:
        config, _ = _read_config(args.config)
        store = _open(config, create=create)
        try:
            return await work(store)
        finally:
            await store.aclose()

    return _main(args, lambda: asyncio.run(main()))


def _change(
    args: argparse.Namespace, work: Callable[[KeyStore, KeyAudit], Awaitable[int]], *, create: bool = False
) -> int:
    """``_run`` for a command that changes keys: ``work`` records what it did on the audit log."""

    async def main() -> int:
        from llmgateway.audit.key_actions import KeyAudit

        config, _ = _read_config(args.config)
        store = _open(config, create=create)
        log = open_audit_log(args.config, config)
        try:
            return await work(store, KeyAudit(log, actor=cli_actor()))
        finally:
            await log.aclose()
            await store.aclose()

    return _main(args, lambda: asyncio.run(main()))


def _main(args: argparse.Namespace, main: Callable[[], int]) -> int:
    """``main()``, with a GatewayError (bad config, bad value, store down) as a one-line error."""
    try:
        return main()
    except GatewayError as exc:
        print(f"llmgateway keys {args.keys_command}: error: {exc}", file=sys.stderr)
        return 2


# -- output ---------------------------------------------------------------------------------------
def _describe(record: KeyRecord) -> str:
    public = record.public()
    limits = ", ".join(f"{n} {public[n]:g}" for n in ("rpm", "tpm") if public[n] is not None)
    budget = public["budget"]
    money = ""
    if budget is not None:
        parts = [f"{w} {budget[w]}" for w in ("hard", "soft") if budget[w] is not None]
        money = f"{' / '.join(parts)} {budget['currency']} per {budget['period']}"
    rows = [
        ("id", record.id), ("name", record.name), ("status", public["status"]),
        ("team", record.team or "-"), ("models", ", ".join(record.models) or "all"),
        ("limits", limits or "none"), ("budget", money or "none"),
        ("expires", public["expires_at"] or "never"), ("created", public["created_at"]),
    ]  # fmt: skip
    if record.revoked_at is not None:
        rows.append(("revoked", public["revoked_at"]))
    if record.metadata:
        rows.append(("metadata", json.dumps(dict(record.metadata))))
    return "\n".join(f"{label:<9} {value}" for label, value in rows)


def _print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2)
    sys.stdout.write("\n")


# -- actions --------------------------------------------------------------------------------------
def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """The key settings given on the command line (create and update share them)."""
    from llmgateway.errors import ConfigError

    values: dict[str, Any] = {}
    for name in ("name", "team", "models", "rpm", "tpm", "expires_in_days", "expires_at"):
        if getattr(args, name) is not None:
            values[name] = getattr(args, name)
    if args.budget is not None or args.soft_budget is not None:
        values["budget"] = {
            "hard": args.budget, "soft": args.soft_budget, "period": args.period, "currency": args.currency,
        }  # fmt: skip
    if args.pii is not None:
        values["pii"] = None if args.pii == "default" else args.pii
    metadata = {}
    for item in args.meta:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ConfigError(f"--meta {item!r}: write KEY=VALUE")
        metadata[name] = value
    if metadata or args.keys_command == "create":
        values["metadata"] = metadata
    return values


def _check_models(args: argparse.Namespace, names: list[str] | None) -> None:
    from llmgateway.errors import ConfigError

    _, models = _read_config(args.config)
    unknown = sorted(set(names or ()) - set(models))
    if models and unknown:
        raise ConfigError(f"unknown model(s) {', '.join(unknown)}; the config serves {', '.join(models)}")


def run_create(args: argparse.Namespace) -> int:
    async def work(store: KeyStore, audit: KeyAudit) -> int:
        from llmgateway.server.keys.model import KeySpec, validated

        spec = validated(KeySpec, _settings(args))
        _check_models(args, spec.models)
        record, key = await store.create(spec)
        await audit.created(record)
        if args.json:
            _print_json({**record.public(), "key": key})
        else:
            print(_describe(record))
            print(f"\nkey: {key}\nThis is the only time the key is shown: store it now.")
        return 0

    return _change(args, work, create=True)


def run_update(args: argparse.Namespace) -> int:
    async def work(store: KeyStore, audit: KeyAudit) -> int:
        from llmgateway.errors import ConfigError
        from llmgateway.server.keys.model import KeyUpdate, validated

        values = _settings(args)
        both = sorted(set(values) & set(args.clear))
        if both:
            raise ConfigError(f"--clear {both[0]} and a new {both[0]} together: give one")
        values.update(dict.fromkeys(args.clear))
        if not values:
            raise ConfigError("nothing to change: give a setting (see --help) or --clear one")
        fields = validated(KeyUpdate, values).changes()
        _check_models(args, fields.get("models"))
        old = await store.get(args.id)
        record = await store.update(args.id, **fields) if old is not None else None
        if old is not None and record is not None:
            await audit.updated(old, record, fields)
        return _one(args, record)

    return _change(args, work)


def run_list(args: argparse.Namespace) -> int:
    async def work(store: KeyStore) -> int:
        records = await store.list(include_revoked=args.all)
        if args.json:
            _print_json([record.public() for record in records])
            return 0
        if not records:
            print("(no keys)")
        for record in records:
            public = record.public()
            expires = public["expires_at"] or "never"
            team = record.team or "-"
            print(f"{record.id}  {public['status']:<7}  {record.name}  team={team}  expires={expires}")
        return 0

    return _run(args, work)


def _one(args: argparse.Namespace, record: KeyRecord | None) -> int:
    if record is None:
        print(f"llmgateway keys {args.keys_command}: error: no key with id {args.id!r}", file=sys.stderr)
        return 1
    if args.json:
        _print_json(record.public())
    else:
        print(_describe(record))
    return 0


def run_show(args: argparse.Namespace) -> int:
    async def work(store: KeyStore) -> int:
        return _one(args, await store.get(args.id))

    return _run(args, work)


def run_revoke(args: argparse.Namespace) -> int:
    async def work(store: KeyStore, audit: KeyAudit) -> int:
        old = await store.get(args.id)
        record = await store.revoke(args.id) if old is not None else None
        if old is not None and record is not None:
            await audit.revoked(old, record)
        return _one(args, record)

    return _change(args, work)


def run_audit(args: argparse.Namespace) -> int:
    return _main(args, lambda: list_entries(args, _read_keys_section(args.config)[0]))
