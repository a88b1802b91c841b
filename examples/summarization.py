"""Summarization: one paragraph (or a text file) in one sentence, streamed as it is written.

    python examples/summarization.py                     # the bundled SmolLM2, in process
    python examples/summarization.py --file notes.txt
    python examples/summarization.py --config examples/compare.yaml --model slow-cheap

``stream=True`` returns the answer chunk by chunk; once the stream is over, ``stream.gateway``
holds the call's metadata (latency, time to first token, cost) like a plain call's ``reply.gateway``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from common import describe, open_gateway, parser

TEXT = (
    "The city council voted on Tuesday to turn the old railway line into a public park. The line "
    "closed in 1998 and has been fenced off since. The plan keeps the bridges, adds a cycle path and "
    "plants two thousand trees along its four kilometres. Work starts next spring and should take "
    "two years; the cost is shared between the city and a regional fund for green spaces."
)


async def main() -> None:
    arguments = parser("Summarize a text in one sentence, streamed.", max_tokens=64)
    arguments.add_argument("--file", type=Path, help="summarize this text file instead of the built-in one")
    args = arguments.parse_args()
    text = args.file.read_text(encoding="utf-8") if args.file else TEXT
    async with open_gateway(args) as gateway:
        stream = await gateway.chat.completions.create(
            model=args.model,
            messages=[{"role": "user", "content": f"Summarize this text in one sentence.\n\n{text}"}],
            max_tokens=args.max_tokens,
            temperature=0,
            stream=True,
        )
        print("Summary: ", end="", flush=True)
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                print(chunk.choices[0].delta.content, end="", flush=True)
        print(f"\n{describe(stream)}")


if __name__ == "__main__":
    asyncio.run(main())
