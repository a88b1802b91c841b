"""Translation: a few sentences into French and German, asked concurrently.

    python examples/translation.py                       # the bundled SmolLM2, in process
    python examples/translation.py "Where is the station?" --to Spanish
    python examples/translation.py --config examples/compare.yaml --model fast-expensive

The gateway is async: ``asyncio.gather`` sends every request at once and the gateway schedules
them (the local backend batches them). Each answer comes with its cost and latency.
"""

from __future__ import annotations

import asyncio

from common import describe, open_gateway, parser

from llmgateway import Gateway

SENTENCES = ["The weather is nice today.", "I would like a cup of coffee, please."]
LANGUAGES = ["French", "German"]


async def translate(gateway: Gateway, model: str, text: str, language: str, max_tokens: int) -> str:
    reply = await gateway.chat.completions.create(
        model=model,
        messages=[
            {"role": "system", "content": "You are a translator. Reply with the translation only."},
            {"role": "user", "content": f"Translate from English to {language}: {text}"},
        ],
        max_tokens=max_tokens,
        temperature=0,
    )
    return f"{text}\n  -> {language}: {reply.text().strip()}\n     {describe(reply)}"


async def main() -> None:
    arguments = parser("Translate sentences through the gateway.", max_tokens=48)
    arguments.add_argument("sentences", nargs="*", default=SENTENCES, help="English sentences to translate")
    arguments.add_argument("--to", action="append", metavar="LANGUAGE", help="target language (repeatable)")
    args = arguments.parse_args()
    async with open_gateway(args) as gateway:
        jobs = [
            translate(gateway, args.model, text, language, args.max_tokens)
            for text in args.sentences
            for language in args.to or LANGUAGES
        ]
        for line in await asyncio.gather(*jobs):  # answers in the order asked
            print(line)


if __name__ == "__main__":
    asyncio.run(main())
