"""``llmgateway keys create | list | show | revoke``: manage virtual keys in the store named by the
config's ``server.keys`` section, directly (no server needed). A running proxy sees a change
within ``server.keys.cache_seconds``."""

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

if TYPE_CHECKING:
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
        help="create, list, show and revoke virtual keys",
        description="Manage the proxy's virtual keys in the store named by the config's server.keys "
        "section (SQLite or PostgreSQL), without a running server.",
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
    create.add_argument("--rpm", type=float, help="requests per minute")
    create.add_argument("--tpm", type=float, help="tokens per minute")
    create.add_argument(
        "--budget", metavar="AMOUNT", help="hard budget: calls that could pass it are refused"
    )
    create.add_argument("--soft-budget", metavar="AMOUNT", help="soft budget: warn once when reached")
    create.add_argument("--period", choices=("day", "month", "total"), default="month", help="budget period")
    create.add_argument("--currency", default="USD", help="budget currency (default USD)")
    expiry = create.add_mutually_exclusive_group()
    expiry.add_argument("--expires-in-days", type=float, metavar="DAYS", help="expire after this many days")
    expiry.add_argument(
        "--expires-at", metavar="TIME", help="expire at this ISO 8601 time, e.g. 2027-01-01T00:00Z"
    )
    create.add_argument(
        "--meta", action="append", default=[], metavar="KEY=VALUE", help="free metadata (repeatable)"
    )

    listing = action("list", "list keys (no secrets)", run_list)
    listing.add_argument("--all", action="store_true", help="include revoked keys")
    show = action("show", "show one key", run_show)
    show.add_argument("id", help="key id (the 12 characters after sk-llmgw-)")
    revoke = action("revoke", "revoke a key for good", run_revoke)
    revoke.add_argument("id", help="key id (the 12 characters after sk-llmgw-)")


# -- config ---------------------------------------------------------------------------------------
def _read_config(path: str) -> tuple[KeyStoreConfig, list[str]]:
    """The ``server.keys`` section (with ${ENV} filled in) and the config's model names."""
    from pydantic import ValidationError

    from llmgateway.config import describe_validation_error, interpolate_env, read_yaml
    from llmgateway.errors import ConfigError
    from llmgateway.server.settings import KeyStoreConfig

    data = read_yaml(path)
    data = data if isinstance(data, dict) else {}
    server = data.get("server") or {}
    section = server.get("keys") if isinstance(server, dict) else None
    if section is None:
        raise ConfigError(f"{path} has no server.keys section (where virtual keys are stored); {_HOW_TO}")
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: server.keys: expected a mapping")
    try:
        config = KeyStoreConfig.model_validate(interpolate_env(section, os.environ, "server.keys"))
    except ValidationError as exc:
        raise ConfigError(f"{path}: {describe_validation_error(exc, 'server.keys')}") from exc
    models = data.get("models")
    return config, list(models) if isinstance(models, dict) else []


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

    try:
        return asyncio.run(main())
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
def _spec(args: argparse.Namespace) -> dict[str, Any]:
    from llmgateway.errors import ConfigError

    spec: dict[str, Any] = {"name": args.name, "models": args.models}
    for name in ("team", "rpm", "tpm", "expires_in_days", "expires_at"):
        if getattr(args, name) is not None:
            spec[name] = getattr(args, name)
    if args.budget is not None or args.soft_budget is not None:
        spec["budget"] = {
            "hard": args.budget, "soft": args.soft_budget, "period": args.period, "currency": args.currency,
        }  # fmt: skip
    metadata = {}
    for item in args.meta:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ConfigError(f"--meta {item!r}: write KEY=VALUE")
        metadata[name] = value
    spec["metadata"] = metadata
    return spec


def run_create(args: argparse.Namespace) -> int:
    async def work(store: KeyStore) -> int:
        from llmgateway.errors import ConfigError
        from llmgateway.server.keys.model import KeySpec, validated

        spec = validated(KeySpec, _spec(args))
        _, models = _read_config(args.config)
        unknown = sorted(set(spec.models or ()) - set(models))
        if models and unknown:
            raise ConfigError(f"unknown model(s) {', '.join(unknown)}; the config serves {', '.join(models)}")
        record, key = await store.create(spec)
        if args.json:
            _print_json({**record.public(), "key": key})
        else:
            print(_describe(record))
            print(f"\nkey: {key}\nThis is the only time the key is shown: store it now.")
        return 0

    return _run(args, work, create=True)


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
    async def work(store: KeyStore) -> int:
        return _one(args, await store.revoke(args.id))

    return _run(args, work)
