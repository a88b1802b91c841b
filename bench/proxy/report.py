"""Turning the measured rounds into the result: medians, ratios, targets met or missed, the
table printed at the end of a run, and the profile's summary."""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from typing import Any

FLOOR_AIOHTTP = "floor-aiohttp"
FLOOR_HTTPX = "floor-httpx"
PROXY = "proxy"
VARIANTS = (FLOOR_AIOHTTP, FLOOR_HTTPX, PROXY)

# The targets.
MIN_RATIO_HTTPX = 0.70
MIN_RATIO_AIOHTTP = 0.25
MAX_ADDED_P50_MS = 0.5
MAX_RSS_MB = 100.0


@dataclass(frozen=True)
class Target:
    name: str
    value: float
    limit: float
    at_least: bool  # value >= limit passes; otherwise value < limit passes

    @property
    def passed(self) -> bool:
        return self.value >= self.limit if self.at_least else self.value < self.limit

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "target": f"{'>=' if self.at_least else '<'} {self.limit:g}",
            "pass": self.passed,
        }


def summarize(
    rps_rounds: dict[str, list[float]],
    p50_rounds: dict[str, list[float]],
    memory: dict[str, float],
    proxy_errors: int,
) -> dict[str, Any]:
    """Medians over rounds, the ratios and the targets."""
    rps = {name: statistics.median(values) for name, values in rps_rounds.items()}
    p50 = {name: statistics.median(values) for name, values in p50_rounds.items()}
    ratios = {
        f"{PROXY}/{FLOOR_HTTPX}": rps[PROXY] / rps[FLOOR_HTTPX],
        f"{PROXY}/{FLOOR_AIOHTTP}": rps[PROXY] / rps[FLOOR_AIOHTTP],
    }
    added = {floor: p50[PROXY] - p50[floor] for floor in (FLOOR_AIOHTTP, FLOOR_HTTPX)}
    targets = [
        Target(
            f"rps at 32 connections, {PROXY}/{FLOOR_HTTPX}",
            ratios[f"{PROXY}/{FLOOR_HTTPX}"],
            MIN_RATIO_HTTPX,
            True,
        ),
        Target(
            f"rps at 32 connections, {PROXY}/{FLOOR_AIOHTTP}",
            ratios[f"{PROXY}/{FLOOR_AIOHTTP}"],
            MIN_RATIO_AIOHTTP,
            True,
        ),
        # The proxy posts through aiohttp (the SDK's fast path): that floor is its like-for-like.
        Target(
            f"added median ms at 1 connection over {FLOOR_AIOHTTP}",
            added[FLOOR_AIOHTTP],
            MAX_ADDED_P50_MS,
            False,
        ),
        Target("proxy worker RSS MB after the load", memory["rss_mb"], MAX_RSS_MB, False),
        Target("proxy answers that were not 2xx/3xx, or socket errors", float(proxy_errors), 1.0, False),
    ]
    return {
        "requests_per_s_32": rps,
        "requests_per_s_32_rounds": rps_rounds,
        "median_ms_1": p50,
        "median_ms_1_rounds": p50_rounds,
        "ratios": ratios,
        "proxy_added_median_ms": added,
        "proxy_memory_mb": memory,
        "proxy_errors": proxy_errors,
        "targets": [t.as_dict() for t in targets],
        "passed": all(t.passed for t in targets),
    }


def table(result: dict[str, Any]) -> str:
    rps, p50 = result["requests_per_s_32"], result["median_ms_1"]
    lines = [f"{'server (1 worker)':<18}{'req/s @32':>11}{'vs proxy':>10}{'p50 ms @1':>11}"]
    for name in VARIANTS:
        lines.append(f"{name:<18}{rps[name]:>11.0f}{rps[PROXY] / rps[name]:>10.2f}{p50[name]:>11.3f}")
    lines.append("")
    lines.append(f"{'target':<58}{'value':>9}{'goal':>9}  result")
    for target in result["targets"]:
        verdict = "PASS" if target["pass"] else "FAIL"
        lines.append(f"{target['name']:<58}{target['value']:>9.3f}{target['target']:>9}  {verdict}")
    memory = result["proxy_memory_mb"]
    lines.append(f"\nproxy memory: {memory['rss_mb']:.1f} MB resident, {memory['peak_rss_mb']:.1f} MB peak")
    return "\n".join(lines)


def area(path: str, name: str) -> str:
    """Which part of the stack a profiled function belongs to: a third-party package, a module
    (or subpackage) of this project, the standard library, or a built-in's type."""
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0]
    if "/llmgateway/" in path or "/providers/" in path:
        parts = path.split("/")
        index = max(i for i, part in enumerate(parts) if part in ("llmgateway", "providers"))
        return "/".join(parts[index : index + 2])
    if path == "~":  # built-ins: by the type whose method it is ("<method 'x' of 'T' objects>")
        owner = re.search(r" of '([^']+)'", name)
        return "built-in " + (owner.group(1) if owner else name.strip("<>"))
    return "stdlib " + path.rsplit("/", 1)[-1]


def profile_summary(stats_path: str, requests: int, top: int = 25) -> dict[str, Any]:
    """Where the proxy's time went, per request: the functions with most own time, and the
    largest cumulative times (each in microseconds per request and share of all time)."""
    import pstats

    stats = pstats.Stats(stats_path)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]  # (file, line, name) -> tuple
    total = sum(entry[2] for entry in raw.values()) or 1e-9

    def label(key: tuple[str, int, str]) -> str:
        path, line, name = key
        for marker in ("site-packages/", "/work/main/", "lib/python3"):
            if marker in path:
                path = path.split(marker, 1)[1]
        return f"{path}:{line}({name})" if line else name

    def rows(index: int) -> list[dict[str, Any]]:
        ordered = sorted(raw.items(), key=lambda item: item[1][index], reverse=True)[:top]
        return [
            {
                "function": label(key),
                "calls_per_request": entry[1] / max(requests, 1),
                "us_per_request": entry[index] * 1e6 / max(requests, 1),
                "share": entry[index] / total,
            }
            for key, entry in ordered
        ]

    areas: dict[str, float] = {}
    for key, entry in raw.items():
        areas[area(key[0], key[2])] = areas.get(area(key[0], key[2]), 0.0) + entry[2]
    by_area = [
        {"area": name, "us_per_request": seconds * 1e6 / max(requests, 1), "share": seconds / total}
        for name, seconds in sorted(areas.items(), key=lambda item: item[1], reverse=True)
    ]
    return {
        "requests": requests,
        "profiled_us_per_request": total * 1e6 / max(requests, 1),
        "by_area": by_area[:top],
        "by_own_time": rows(2),
        "by_cumulative_time": rows(3),
    }


def profile_table(summary: dict[str, Any], top: int = 25) -> str:
    lines = [
        f"profile ({summary['requests']} requests at 32 connections, cProfile on: times are inflated, "
        f"shares hold): {summary['profiled_us_per_request']:.0f} µs profiled per request",
    ]
    lines.append(f"\n{'own time by area':<84}{'µs/req':>8}{'share':>7}")
    for row in summary["by_area"][:top]:
        lines.append(f"{row['area'][:84]:<84}{row['us_per_request']:>8.1f}{row['share']:>7.1%}")
    for title, key in (("own time", "by_own_time"), ("cumulative time", "by_cumulative_time")):
        lines.append(f"\n{'by ' + title:<84}{'µs/req':>8}{'share':>7}{'calls/req':>10}")
        for row in summary[key][:top]:
            lines.append(
                f"{row['function'][:84]:<84}{row['us_per_request']:>8.1f}{row['share']:>7.1%}"
                f"{row['calls_per_request']:>10.2f}"
            )
    return "\n".join(lines)
