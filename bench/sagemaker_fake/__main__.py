"""``python -m bench.sagemaker_fake --port N``: the fake runtime with a canned instant answer, in
its own process (bench.sagemaker's upstream)."""

from __future__ import annotations

import argparse
import asyncio

from bench.sagemaker_fake.canned import canned_messages
from bench.sagemaker_fake.runtime import FakeRuntime


async def _serve(port: int) -> None:
    fake = FakeRuntime(canned=canned_messages(), record=False)
    url = await fake.start(port)
    print(f"listening on {url}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await fake.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A fake SageMaker runtime with a canned Messages answer")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        asyncio.run(_serve(args.port))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
