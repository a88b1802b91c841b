"""Multi-turn dialogue: the conversation so far goes with every turn, so the model remembers it.

    python examples/dialogue.py                          # three scripted turns, bundled SmolLM2
    python examples/dialogue.py --interactive            # type your own turns (empty line ends)
    python examples/dialogue.py --config examples/compare.yaml --model fast-expensive

Chat models keep no state between calls: the history list is the conversation. Each reply is
appended to it, so the second question ("its") refers back to the first answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from common import describe, open_gateway, parser

TURNS = [
    "Hi! I'm planning a trip to Italy in May. Which city should I visit first?",
    "What is one dish I should try there?",
    "Thanks. Remind me, which country did I say I was travelling to?",
]


def typed_turns() -> Iterator[str]:
    while line := input("you> ").strip():
        yield line


async def main() -> None:
    arguments = parser("A multi-turn conversation that keeps its history.", max_tokens=96)
    arguments.add_argument("--interactive", action="store_true", help="type the turns yourself")
    args = arguments.parse_args()
    history = [{"role": "system", "content": "You are a friendly travel assistant. Keep answers short."}]
    async with open_gateway(args) as gateway:
        for turn in typed_turns() if args.interactive else TURNS:
            history.append({"role": "user", "content": turn})
            reply = await gateway.chat.completions.create(
                model=args.model, messages=history, max_tokens=args.max_tokens, temperature=0
            )
            answer = reply.text().strip()
            history.append({"role": "assistant", "content": answer})
            if not args.interactive:
                print(f"you> {turn}")
            print(f"bot> {answer}\n     {describe(reply)} - {len(history)} messages so far")


if __name__ == "__main__":
    asyncio.run(main())
