"""The code in a model's answer: the last ```python block that defines the asked-for function, else
the last ```python block, else the last fenced block of any kind, else the whole answer. A block
left open (the answer hit max_tokens) runs to the end.

Models often follow their function with a usage example in a block of its own; taking the block
that defines the function keeps that example from being graded instead of the answer."""

from __future__ import annotations

import re

# An opening fence at the start of a line, its optional language tag, then the body up to a
# closing fence at the start of a line (or the end of the text).
_FENCE = re.compile(r"^[ \t]*```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)(?:^[ \t]*```[ \t]*$|\Z)", re.M | re.S)
_PYTHON_TAGS = frozenset({"python", "py", "python3", "py3"})


def extract_code(answer: str, entry_point: str | None = None) -> str:
    blocks: list[tuple[str, str]] = [(str(m[1]).lower(), str(m[2])) for m in _FENCE.finditer(answer)]
    if entry_point:
        defines = re.compile(rf"^[ \t]*(?:async[ \t]+)?def[ \t]+{re.escape(entry_point)}[ \t]*\(", re.M)
        defining = [body for _, body in blocks if defines.search(body)]
        if defining:
            return defining[-1]
    python = [body for tag, body in blocks if tag in _PYTHON_TAGS]
    if python:
        return python[-1]
    if blocks:
        return blocks[-1][1]
    return answer
