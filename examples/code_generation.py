"""Code generation: ask for one Python function, show it, and test it in a sandbox.

    python examples/code_generation.py                   # the bundled SmolLM2, in process
    python examples/code_generation.py --no-test         # only show the code
    python examples/code_generation.py --config examples/compare.yaml --model fast-expensive

The code is taken from the answer's ```python block and run with a few asserts by the comparison
tool's sandbox (a separate process with a time limit, resource limits and no network), never in
this process. A small model often gets it wrong: the test says so.
"""

from __future__ import annotations

import asyncio

from common import describe, open_gateway, parser

from llmgateway.compare.metrics.code_exec import CodeSandbox
from llmgateway.compare.metrics.code_extract import extract_code

PROMPT = (
    "Write a Python function `is_palindrome(text: str) -> bool` that returns True when the text reads "
    "the same backwards, ignoring case and spaces. Reply with the code in a ```python block."
)
TESTS = """\
assert is_palindrome("Never odd or even")
assert is_palindrome("abba")
assert not is_palindrome("python")
"""


async def main() -> None:
    arguments = parser("Generate a Python function and test it.", max_tokens=160)
    arguments.add_argument("--no-test", action="store_true", help="show the code without running it")
    args = arguments.parse_args()
    async with open_gateway(args) as gateway:
        reply = await gateway.chat.completions.create(
            model=args.model,
            messages=[{"role": "user", "content": PROMPT}],
            max_tokens=args.max_tokens,
            temperature=0,
        )
    code = extract_code(reply.text(), "is_palindrome").strip()
    print(f"Generated code {describe(reply)}:\n\n{code}\n")
    if not args.no_test:
        result = await CodeSandbox(timeout=10).run(reply.text(), TESTS, "is_palindrome")
        verdict = "passed" if result.passed else f"failed ({result.reason})"
        print(f"Tests {verdict} in {result.seconds:.2f} s:\n{TESTS}")


if __name__ == "__main__":
    asyncio.run(main())
