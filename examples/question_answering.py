"""Question answering: questions about a passage, answered from the passage only.

    python examples/question_answering.py                # the bundled SmolLM2, in process
    python examples/question_answering.py "When was it built?"
    python examples/question_answering.py --config examples/compare.yaml --model fast-expensive

The passage goes into the system message, each question is its own call; short answers
(``max_tokens`` small, temperature 0) suit extractive questions.
"""

from __future__ import annotations

import asyncio

from common import describe, open_gateway, parser

PASSAGE = (
    "The Eiffel Tower is a wrought-iron lattice tower in Paris. It was built by Gustave Eiffel's "
    "company for the 1889 World's Fair and is 330 metres tall. It was the tallest man-made structure "
    "in the world until the Chrysler Building in New York was finished in 1930."
)
QUESTIONS = ["Who built the Eiffel Tower?", "How tall is it?", "Which building overtook it?"]


async def main() -> None:
    arguments = parser("Answer questions about a passage.", max_tokens=32)
    arguments.add_argument("questions", nargs="*", default=QUESTIONS, help="questions about the passage")
    args = arguments.parse_args()
    system = f"Answer the question from this passage, in a few words.\n\nPassage: {PASSAGE}"
    async with open_gateway(args) as gateway:
        for question in args.questions:
            reply = await gateway.chat.completions.create(
                model=args.model,
                messages=[{"role": "system", "content": system}, {"role": "user", "content": question}],
                max_tokens=args.max_tokens,
                temperature=0,
            )
            print(f"Q: {question}\nA: {reply.text().strip()}\n   {describe(reply)}")


if __name__ == "__main__":
    asyncio.run(main())
