"""Driving wrk: a Lua script that POSTs one chat request, and a parser for wrk's text report.

wrk prints times with a unit (``us``, ``ms``, ``s``, ``m``, ``h``), rates with an optional
``k``/``M``/``G`` suffix, and a ``Non-2xx or 3xx responses`` line only when there were some.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

WRK = "wrk"
_TIME_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_SUFFIX = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9}
_TIME = r"([0-9.]+)(us|ms|s|m|h)"


class WrkError(RuntimeError):
    """wrk failed or printed something this parser does not understand."""


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    requests_per_s: float
    latency_avg_ms: float
    # Percentile (50.0, 75.0, 90.0, 99.0) -> milliseconds; only with --latency.
    percentiles_ms: dict[float, float] = field(default_factory=dict)
    non_2xx_3xx: int = 0
    socket_errors: dict[str, int] = field(default_factory=dict)

    @property
    def median_ms(self) -> float:
        if 50.0 not in self.percentiles_ms:
            raise WrkError("wrk ran without --latency: no median")
        return self.percentiles_ms[50.0]

    @property
    def errors(self) -> int:
        return self.non_2xx_3xx + sum(self.socket_errors.values())


def time_ms(text: str) -> float:
    """``'812.00us'`` -> 0.812; ``'1.20ms'`` -> 1.2; ``'2.00s'`` -> 2000.0."""
    match = re.fullmatch(_TIME, text.strip())
    if match is None:
        raise WrkError(f"not a wrk time: {text!r}")
    return float(match.group(1)) * _TIME_UNITS_MS[match.group(2)]


def parse_wrk(output: str) -> WrkResult:
    """The numbers of one wrk run, from its standard output."""
    total = re.search(r"^\s*(\d+) requests in ([0-9.]+)(us|ms|s|m|h)", output, re.MULTILINE)
    rate = re.search(r"^Requests/sec:\s*([0-9.]+)([kKMG]?)\s*$", output, re.MULTILINE)
    latency = re.search(rf"^\s*Latency\s+{_TIME}", output, re.MULTILINE)
    if total is None or rate is None or latency is None:
        raise WrkError("wrk's output lacks its totals; it printed:\n" + output)
    percentiles = {
        float(m.group(1)): time_ms(m.group(2) + m.group(3))
        for m in re.finditer(rf"^\s*([0-9.]+)%\s+{_TIME}\s*$", output, re.MULTILINE)
    }
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", output)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    socket_errors = (
        dict(zip(("connect", "read", "write", "timeout"), map(int, sockets.groups()), strict=True))
        if sockets
        else {}
    )
    return WrkResult(
        requests=int(total.group(1)),
        seconds=time_ms(total.group(2) + total.group(3)) / 1000.0,
        requests_per_s=float(rate.group(1)) * _SUFFIX[rate.group(2)],
        latency_avg_ms=time_ms(latency.group(1) + latency.group(2)),
        percentiles_ms=percentiles,
        non_2xx_3xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=socket_errors,
    )


def lua_script(body: bytes, headers: dict[str, str]) -> str:
    """A wrk script that POSTs ``body`` with ``headers`` on every request."""
    text = body.decode()
    level = 1
    while f"]{'=' * level}]" in text:  # a long bracket the body cannot close early
        level += 1
    eq = "=" * level
    lines = ['wrk.method = "POST"', f"wrk.body = [{eq}[{text}]{eq}]"]
    for name, value in headers.items():
        if '"' in name + value or "\\" in name + value or "\n" in name + value:
            raise ValueError(f"header {name!r} cannot go into a Lua string as is")
        lines.append(f'wrk.headers["{name}"] = "{value}"')
    return "\n".join(lines) + "\n"


def run_wrk(
    url: str,
    script: Path,
    *,
    threads: int,
    connections: int,
    seconds: int,
    latency: bool = False,
    cpus: str | None = None,
) -> WrkResult:
    """One wrk run of ``seconds`` (wrk takes whole seconds) against ``url``; ``cpus`` pins it
    (a taskset CPU list, e.g. ``"0"``)."""
    command = [WRK, f"-t{threads}", f"-c{connections}", f"-d{max(1, int(seconds))}s", "-s", str(script)]
    if latency:
        command.append("--latency")
    command.append(url)
    if cpus is not None:
        command = ["taskset", "-c", cpus, *command]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if done.returncode != 0:
        raise WrkError(f"{' '.join(command)} exited {done.returncode}: {done.stderr or done.stdout}")
    return parse_wrk(done.stdout)
