"""Fuzz the proxy's /v1 API from its own OpenAPI description (schemathesis + hypothesis).

Starts a real proxy on 127.0.0.1 with mock deployments and the master key, loads
``GET /openapi.json``, and for every operation sends generated requests: valid ones (positive)
and ones that break the schema (negative). Most bodies get a served model name, so they reach the
pipeline instead of stopping at 404. Counts what came back per operation: statuses, 5xx, answers
that do not match the documented schema, and crashes (no answer at all); at the end the proxy
must still answer /health/live.

    python -m bench.fuzz_proxy --examples 400        # ~400 per operation and mode
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

MODELS = ["chat", "other", "cached"]


def fuzz_config(master_key: str) -> dict[str, Any]:
    """Mock deployments that answer (so any 5xx is the gateway's), a response cache, the master key,
    and the guardrails on every request (PII redaction, blocking on one model, a blocklist)."""

    def model(name: str) -> dict[str, Any]:
        return {"deployments": [{"name": f"mock-{name}", "provider": "mock"}]}

    return {
        "models": {name: model(name) for name in MODELS},
        "cache": {"backend": "memory", "cache_nondeterministic": True},
        "guardrails": {
            "pii": {"mode": "redact", "models": {"other": "block"}},
            "policy": {
                "blocklist": [{"category": "fuzz", "terms": ["forbidden"], "patterns": ["(?:ab){3,}"]}]
            },
        },
        "audit": {"backend": "memory"},
        "shutdown": {"drain_seconds": 1},
        "server": {"master_key": master_key},
    }


@dataclass
class OperationFigures:
    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    schema_mismatches: list[str] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)


@dataclass
class FuzzReport:
    operations: dict[str, OperationFigures] = field(default_factory=dict)
    seconds: float = 0.0
    alive_after: bool = False

    @property
    def sent(self) -> int:
        return sum(f.sent for f in self.operations.values())

    @property
    def server_errors(self) -> list[str]:
        return [e for f in self.operations.values() for e in f.server_errors]

    @property
    def crashes(self) -> list[str]:
        return [e for f in self.operations.values() for e in f.crashes]

    def lines(self) -> list[str]:
        out = []
        for label, figures in self.operations.items():
            statuses = ", ".join(f"{s}: {n}" for s, n in sorted(figures.statuses.items()))
            out.append(
                f"{label:32} sent {figures.sent:5}  5xx {len(figures.server_errors):3}  "
                f"schema mismatches {len(figures.schema_mismatches):3}  crashes {len(figures.crashes):3}"
                f"  statuses {{{statuses}}}"
            )
        rate = self.sent / max(self.seconds, 1e-9)
        out.append(
            f"total: {self.sent} requests in {self.seconds:.1f}s ({rate:.0f}/s), "
            f"5xx {len(self.server_errors)}, crashes {len(self.crashes)}, "
            f"/health/live after: {'ok' if self.alive_after else 'NO ANSWER'}"
        )
        for figures in self.operations.values():
            out += [f"  5xx: {e}" for e in figures.server_errors[:3]]
            out += [f"  crash: {e}" for e in figures.crashes[:3]]
            out += [f"  schema: {e}" for e in figures.schema_mismatches[:2]]
        return out


def _describe(case: Any, detail: str) -> str:
    body = case.body if isinstance(case.body, (dict, list, str, int, float, bool)) else repr(case.body)
    return f"{case.method} {case.formatted_path} {json.dumps(body, default=repr)[:300]} -> {detail[:300]}"


def _prepared(case: Any, model: str | None, authorization: str | None) -> Any:
    """Most cases get a served model and the master key, so they reach the pipeline; the rest
    keep what was generated (unknown models, made-up or missing keys)."""
    if model is not None and isinstance(case.body, dict):
        case.body["model"] = model
    if model is not None and "model" in (case.path_parameters or {}):
        case.path_parameters = {**case.path_parameters, "model": model}
    if authorization is not None:
        case.headers = {**(case.headers or {}), "Authorization": authorization}
    return case


def _send(
    case: Any, figures: OperationFigures, session: Any, base_url: str, timeout: float, check_schema: bool
) -> None:
    """One generated request, counted; a 200 to a valid request is checked against the schema."""
    import requests
    from schemathesis.checks import not_a_server_error
    from schemathesis.core.failures import FailureGroup
    from schemathesis.specs.openapi.checks import response_schema_conformance

    figures.sent += 1
    try:
        response = case.call(base_url=base_url, session=session, timeout=timeout)
    except requests.RequestException as exc:
        figures.crashes.append(_describe(case, f"{type(exc).__name__}: {exc}"))
        return
    figures.statuses[response.status_code] += 1
    if response.status_code >= 500:
        figures.server_errors.append(_describe(case, f"{response.status_code} {response.text}"))
    elif response.status_code == 200 and check_schema:
        try:
            case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
        except (AssertionError, FailureGroup) as exc:  # one failure, or several grouped
            figures.schema_mismatches.append(_describe(case, str(exc)))


def fuzz(base_url: str, master_key: str, examples: int, *, seed: int = 0, timeout: float = 30) -> FuzzReport:
    """Send about ``examples`` generated requests per operation and generation mode."""
    import requests
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed
    from hypothesis import strategies as st
    from schemathesis import GenerationMode
    from schemathesis.core.result import Ok

    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    report = FuzzReport()
    authorization = f"Bearer {master_key}"
    session = requests.Session()
    bounded = settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )

    def run_cases(strategy: Any, figures: OperationFigures, *, check_schema: bool) -> None:
        @hypothesis_seed(seed)
        @bounded
        @given(case=strategy)
        def run(case: Any) -> None:
            _send(case, figures, session, base_url, timeout, check_schema)

        run()

    started = time.perf_counter()
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            raise RuntimeError(f"the proxy's OpenAPI document has a broken operation: {result.err()}")
        operation = result.ok()
        figures = report.operations.setdefault(operation.label, OperationFigures())
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = st.builds(
                _prepared,
                operation.as_strategy(generation_mode=mode),
                st.sampled_from([*MODELS, MODELS[0], None]),
                st.sampled_from([authorization] * 5 + [None]),
            )
            run_cases(strategy, figures, check_schema=mode is GenerationMode.POSITIVE)
    report.seconds = time.perf_counter() - started
    try:
        report.alive_after = requests.get(f"{base_url}/health/live", timeout=5).status_code == 200
    except requests.RequestException:
        report.alive_after = False
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=400, help="per operation and mode (default 400)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from tests.server.harness import MASTER_KEY, RunningServer

    with RunningServer(fuzz_config(MASTER_KEY)) as server:
        report = fuzz(server.url, MASTER_KEY, args.examples, seed=args.seed)
    print("\n".join(report.lines()))
    return 1 if report.server_errors or report.crashes or not report.alive_after else 0


if __name__ == "__main__":
    sys.exit(main())
