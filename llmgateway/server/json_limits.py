"""The nesting-depth limit on JSON request bodies (``server.max_json_depth``).

A body nested thousands of levels deep costs recursion everywhere it goes (validation, dumps,
cache keys, the upstream's own parser). The check is cheap for the common body: a body with no
more opening brackets than the limit cannot be nested deeper than it, so only bodies with many
brackets are scanned, and then in C-speed passes (strings cut out by one regex, the brackets kept
by ``bytes.translate``, the running depth by ``itertools.accumulate``), never byte by byte in
Python.
"""

from __future__ import annotations

import re
from itertools import accumulate, count
from operator import sub

from llmgateway.errors import BadRequestError

DEFAULT_MAX_JSON_DEPTH = 64

# A JSON string, escapes included (unrolled so the regex engine does not backtrack per byte).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKETS = b"[]{}"
_NOT_BRACKETS = bytes(b for b in range(256) if b not in _BRACKETS)
# Opening brackets become 0, closing ones 2: the running sum is twice the closings so far.
_WEIGHTS = bytes.maketrans(_BRACKETS, b"\x00\x02\x00\x02")


def json_depth(raw: bytes) -> int:
    """The deepest nesting of arrays and objects in ``raw`` (0 for a scalar). Brackets inside
    strings do not count. Meant for valid JSON; for anything else it is a close estimate."""
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    # After n brackets, depth = openings - closings = n - 2 * closings.
    depths: map[int] = map(sub, count(1), accumulate(brackets.translate(_WEIGHTS)))
    return max(0, max(depths))


def exceeds_depth(raw: bytes, limit: int) -> bool:
    """Whether ``raw`` nests deeper than ``limit``; free for bodies with few brackets."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    return json_depth(raw) > limit


def too_deep(limit: int) -> BadRequestError:
    return BadRequestError(
        f"request body nests arrays and objects deeper than the limit of {limit} levels; flatten "
        "it, or raise server.max_json_depth",
        code="json_too_deep",
    )


def check_depth(raw: bytes, limit: int) -> None:
    """Raise 400 ``json_too_deep`` when ``raw`` nests deeper than ``limit``."""
    if exceeds_depth(raw, limit):
        raise too_deep(limit)
