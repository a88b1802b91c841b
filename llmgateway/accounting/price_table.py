"""The price table: list prices of common hosted models, bundled and versioned, overridable.

Each bundled table is ``llmgateway/accounting/prices/<version>.json``::

    {"version": "2025-11", "currency": "USD", "source": "where and when the prices were read",
     "models": {"gpt-4o-mini": {"input_per_million": "0.15", "output_per_million": "0.60"}},
     "aliases": {"gpt-4o-mini-2024-07-18": "gpt-4o-mini"}}

Prices are strings so they load as exact decimals. A model entry takes any ``Pricing`` field but
``model``; its currency defaults to the table's. A config may point at its own file of this shape
(``path``) and add or change entries (``overrides``).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError

from llmgateway.accounting.pricing import Pricing, resolve
from llmgateway.errors import ConfigError

_PACKAGE = "llmgateway.accounting.prices"


class PriceTable:
    """An immutable model -> ``Pricing`` table."""

    __slots__ = ("_aliases", "_models", "currency", "source", "version")

    def __init__(
        self,
        version: str,
        models: Mapping[str, Pricing],
        *,
        currency: str = "USD",
        source: str = "",
        aliases: Mapping[str, str] | None = None,
    ) -> None:
        self.version = version
        self.currency = currency
        self.source = source
        self._models: Mapping[str, Pricing] = MappingProxyType(dict(models))
        self._aliases: Mapping[str, str] = MappingProxyType(dict(aliases or {}))

    def __contains__(self, model: object) -> bool:
        return isinstance(model, str) and self._lookup(model) is not None

    def __len__(self) -> int:
        return len(self._models)

    def models(self) -> list[str]:
        return sorted(self._models)

    def get(self, model: str) -> Pricing:
        """The model's prices; an unknown model raises ``ConfigError`` naming close matches."""
        found = self._lookup(model)
        if found is not None:
            return found
        names = [*self._models, *self._aliases]
        close = difflib.get_close_matches(model, names, n=4, cutoff=0.6)
        hint = f"close matches: {', '.join(close)}. " if close else ""
        raise ConfigError(
            f"price table {self.version} has no model {model!r}; {hint}Give the deployment's prices "
            "explicitly (pricing: {input_per_million: ..., output_per_million: ...}) or add the model "
            "under prices.overrides"
        )

    def _lookup(self, model: str) -> Pricing | None:
        name = self._aliases.get(model, model)
        found = self._models.get(name)
        if found is None and "/" in model:
            # "openai/gpt-4o" and the like: a host prefix in front of a model the table knows.
            return self._lookup(model.split("/", 1)[1])
        return found


def bundled_versions() -> list[str]:
    """The bundled table versions, oldest first."""
    from importlib.resources import files

    return sorted(p.name[:-5] for p in files(_PACKAGE).iterdir() if p.name.endswith(".json"))


def load_price_table(
    overrides: Mapping[str, Pricing] | None = None,
    path: str | None = None,
    *,
    version: str | None = None,
) -> PriceTable:
    """The price table: ``path``'s JSON file, else the bundled ``version`` (default the newest),
    with ``overrides`` on top. An override of a model the table has changes only the fields it
    sets; an override may itself name a table ``model`` to start from."""
    if path is not None:
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as exc:
            raise ConfigError(f"prices.path: cannot read price table {path!r} ({exc})") from exc
        where = path
    else:
        from importlib.resources import files

        versions = bundled_versions()
        chosen = version or versions[-1]
        if chosen not in versions:
            raise ConfigError(f"no bundled price table {chosen!r}; bundled: {', '.join(versions)}")
        text = files(_PACKAGE).joinpath(f"{chosen}.json").read_text(encoding="utf-8")
        where = f"bundled price table {chosen}"
    table = parse_price_table(text, where)
    return with_overrides(table, overrides) if overrides else table


def parse_price_table(text: str, where: str) -> PriceTable:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
        raise ConfigError(f'{where}: expected an object with "version" and "models": {{name: prices}}')
    currency = str(data.get("currency", "USD"))
    models = {name: _entry(name, raw, currency, where) for name, raw in data["models"].items()}
    aliases = data.get("aliases") or {}
    for alias, target in aliases.items():
        if target not in models:
            raise ConfigError(f"{where}: alias {alias!r} points at {target!r}, which has no prices")
    return PriceTable(
        str(data.get("version", "custom")),
        models,
        currency=currency,
        source=str(data.get("source", "")),
        aliases=aliases,
    )


def _entry(name: str, raw: Any, currency: str, where: str) -> Pricing:
    if not isinstance(raw, dict) or "model" in raw:
        raise ConfigError(f"{where}: models.{name} must be an object of prices (no 'model' key)")
    try:
        return Pricing.model_validate({"currency": currency, **raw})
    except ValidationError as exc:
        from llmgateway.config import describe_validation_error

        raise ConfigError(describe_validation_error(exc, f"{where}: models.{name}")) from exc


def with_overrides(table: PriceTable, overrides: Mapping[str, Pricing]) -> PriceTable:
    """A new table with ``overrides`` added or laid over the table's entries."""
    models = {name: table.get(name) for name in table.models()}
    for name, pricing in overrides.items():
        if pricing.model is None and name in table:
            pricing = pricing.model_copy(update={"model": name})
        models[name] = resolve(pricing, table).model_copy(update={"model": None})
    return PriceTable(
        table.version,
        models,
        currency=table.currency,
        source=table.source,
        aliases={a: t for a, t in table._aliases.items() if a not in overrides},
    )
