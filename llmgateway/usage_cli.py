"""``llmgateway usage``: totals from the usage ledger by key, model, deployment, day... as a table,
CSV or JSON. Reads the SQLite file or PostgreSQL table the gateway writes; never creates one."""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import sys
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from llmgateway.errors import ConfigError

if TYPE_CHECKING:
    from llmgateway.accounting.ledger.settings import LedgerConfig
    from llmgateway.accounting.ledger.store import LedgerStore, UsageTotal

_DIMENSIONS = ("key", "team", "model", "deployment", "provider", "day", "cache", "outcome")
_METRICS = ("calls", "errors", "cache_hits", "prompt_tokens", "completion_tokens")


def add_usage_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "usage",
        help="usage and cost totals from the ledger",
        description="Totals from the usage ledger (calls, errors, cache hits, tokens, exact cost), "
        "grouped by the chosen dimensions. Reads the ledger named by --config, --sqlite or "
        "--postgres; without one, the default SQLite file llmgateway_usage.sqlite.",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--config", metavar="FILE", help="gateway YAML config: use its 'ledger:' section")
    source.add_argument("--sqlite", metavar="PATH", help="SQLite ledger file")
    source.add_argument("--postgres", metavar="DSN", help="PostgreSQL DSN, e.g. postgresql://user@host/db")
    parser.add_argument(
        "--table", metavar="NAME", help="ledger table (default: from the config, or llm_usage)"
    )
    parser.add_argument(
        "--by",
        default="model",
        metavar="DIMS",
        help=f"comma-separated dimensions to group by, from: {', '.join(_DIMENSIONS)} "
        "(day is the UTC date; default: model)",
    )
    parser.add_argument("--since", metavar="YYYY-MM-DD", help="first UTC day to count (inclusive)")
    parser.add_argument("--until", metavar="YYYY-MM-DD", help="last UTC day to count (inclusive)")
    parser.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="DIM=VALUE",
        help="count only records with this value, e.g. --where key=team-a (repeatable)",
    )
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output format")
    parser.set_defaults(run=run_usage)


def run_usage(args: argparse.Namespace) -> int:
    """Print the totals; 0 on success, 2 with a message on stderr when the ledger cannot be read."""
    try:
        group_by = _dimensions(args.by)
        where = _filters(args.where)
        since = _day(args.since, "--since")
        until = _day(args.until, "--until")
        config = _ledger_config(args)
        totals = asyncio.run(
            _query(config, group_by, since, until + timedelta(days=1) if until else None, where)
        )
    except ConfigError as exc:
        print(f"llmgateway usage: error: {exc}", file=sys.stderr)
        return 2
    render = {"table": _print_table, "csv": _print_csv, "json": _print_json}[args.format]
    render(totals, group_by, sys.stdout)
    return 0


# -- arguments ------------------------------------------------------------------------------------
def _dimensions(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in _DIMENSIONS]
    if unknown or not names:
        raise ConfigError(f"--by {text!r}: choose one or more of {', '.join(_DIMENSIONS)}, comma-separated")
    return list(dict.fromkeys(names))


def _filters(items: Sequence[str]) -> dict[str, str]:
    where = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or name not in _DIMENSIONS:
            raise ConfigError(f"--where {item!r}: write DIM=VALUE with DIM one of {', '.join(_DIMENSIONS)}")
        where[name] = value
    return where


def _day(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.combine(date.fromisoformat(text), time(), tzinfo=timezone.utc)
    except ValueError:
        raise ConfigError(f"{option} {text!r}: write a date as YYYY-MM-DD") from None


def _ledger_config(args: argparse.Namespace) -> LedgerConfig:
    from pydantic import ValidationError

    from llmgateway.accounting.ledger.settings import LedgerConfig
    from llmgateway.config import describe_validation_error

    if args.config:
        data = _config_section(args.config)
    elif args.postgres:
        data = {"backend": "postgres", "dsn": args.postgres}
    elif args.sqlite:
        data = {"backend": "sqlite", "path": args.sqlite}
    else:
        data = {}
    if args.table:
        data["table"] = args.table
    try:
        config = LedgerConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, "ledger")) from exc
    if config.backend == "off":
        raise ConfigError(f"{args.config}: the ledger is off (ledger.backend: off), so nothing was recorded")
    if config.backend == "sqlite" and not Path(config.path).is_file():
        raise ConfigError(
            f"no ledger file at {config.path}; pass --sqlite PATH or --config FILE to point at the one "
            "the gateway writes (relative paths are relative to the directory it runs in)"
        )
    return config


def _config_section(path: str) -> dict[str, Any]:
    from llmgateway.config import interpolate_env, read_yaml

    data = read_yaml(path)
    section = (data or {}).get("ledger") if isinstance(data, dict) else None
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: ledger: expected a mapping")
    return dict(interpolate_env(section, os.environ, "ledger"))


# -- query ----------------------------------------------------------------------------------------
async def _query(
    config: LedgerConfig,
    group_by: list[str],
    since: datetime | None,
    until: datetime | None,
    where: dict[str, str],
) -> list[UsageTotal]:
    store: LedgerStore
    if config.backend == "postgres":
        from llmgateway.accounting.ledger.postgres_store import PostgresLedgerStore

        assert config.dsn is not None
        store = PostgresLedgerStore(config.dsn, config.table, create=False, max_size=1)
        where_from = "the PostgreSQL ledger"
    else:
        from llmgateway.accounting.ledger.sqlite_store import SqliteLedgerStore

        store = SqliteLedgerStore(config.path, config.table, create=False)
        where_from = config.path
    try:
        return await store.totals(group_by, since=since, until=until, where=where or None)
    except Exception as exc:
        # sqlite3 / asyncpg errors: the table is missing, the server is down, the file is not SQLite.
        raise ConfigError(f"cannot read table {config.table!r} from {where_from}: {exc}") from exc
    finally:
        await store.aclose()


# -- output ---------------------------------------------------------------------------------------
def _money(amount: Decimal) -> str:
    text = format(amount, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _rows(totals: list[UsageTotal], group_by: list[str]) -> list[dict[str, Any]]:
    return [
        {
            **{name: total.group.get(name) for name in group_by},
            **{name: getattr(total, name) for name in _METRICS},
            "cost": _money(total.cost),
            "currency": total.currency,
        }
        for total in totals
    ]


def _print_json(totals: list[UsageTotal], group_by: list[str], out: TextIO) -> None:
    json.dump(_rows(totals, group_by), out, indent=2)
    out.write("\n")


def _print_csv(totals: list[UsageTotal], group_by: list[str], out: TextIO) -> None:
    writer = csv.DictWriter(out, fieldnames=[*group_by, *_METRICS, "cost", "currency"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(_rows(totals, group_by))


def _print_table(totals: list[UsageTotal], group_by: list[str], out: TextIO) -> None:
    header = [*group_by, *_METRICS, "cost", "currency"]
    body = [["-" if v is None else str(v) for v in row.values()] for row in _rows(totals, group_by)]
    sums: dict[str, list[Any]] = {}
    for total in totals:
        entry = sums.setdefault(total.currency, [0] * len(_METRICS) + [Decimal(0)])
        for index, name in enumerate(_METRICS):
            entry[index] += getattr(total, name)
        entry[-1] += total.cost
    footer = [
        ["TOTAL", *[""] * (len(group_by) - 1), *map(str, entry[:-1]), _money(entry[-1]), currency]
        for currency, entry in sorted(sums.items())
    ]
    widths = [max(len(row[i]) for row in [header, *body, *footer]) for i in range(len(header))]
    numeric = set(range(len(group_by), len(header) - 1))

    def line(cells: list[str]) -> str:
        padded = [
            c.rjust(w) if i in numeric else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(padded).rstrip()

    out.write(line(header) + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    for row in body:
        out.write(line(row) + "\n")
    if not body:
        out.write("(no usage recorded in this range)\n")
        return
    out.write("  ".join("-" * w for w in widths) + "\n")
    for row in footer:
        out.write(line(row) + "\n")
