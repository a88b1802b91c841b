"""An instant canned Vertex AI API on 127.0.0.1 for ``bench.vertex``: an OAuth token endpoint that
grants one fixed token to any service-account assertion, and deployed-endpoint routes (``:predict``
and ``/chat/completions``) that check the bearer token and answer pre-encoded JSON. aiohttp, in its
own process, so it is not what the client benchmark measures.

Run: ``python -m bench.vertex_upstream --port 9200``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

TOKEN = "ya29.bench-token"
CHAT = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "bench-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Paris is the capital of France."},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20},
    }
).encode()
PREDICT = json.dumps(
    {
        "predictions": ["Paris is the capital of France."],
        "deployedModelId": "5550001",
        "model": "projects/1/locations/us-central1/models/7",
        "modelDisplayName": "bench-model",
        "modelVersionId": "1",
    }
).encode()
GRANT = json.dumps({"access_token": TOKEN, "expires_in": 3600, "token_type": "Bearer"}).encode()
UNAUTHENTICATED = json.dumps(
    {
        "error": {
            "code": 401,
            "message": "Request had invalid authentication credentials.",
            "status": "UNAUTHENTICATED",
        }
    }
).encode()


def make_app() -> object:
    from aiohttp import web

    async def token(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=GRANT, content_type="application/json")

    async def api(request: web.Request) -> web.Response:
        await request.read()
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return web.Response(status=401, body=UNAUTHENTICATED, content_type="application/json")
        path = request.path
        body = PREDICT if path.endswith(":predict") else CHAT if path.endswith("/chat/completions") else None
        if body is None:
            return web.Response(status=404, text="no such method")
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_post("/token", token)
    app.router.add_post("/{tail:.*}", api)
    return app


async def serve(port: int) -> None:
    from aiohttp import web

    runner = web.AppRunner(make_app(), access_log=None)  # type: ignore[arg-type]
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print(f"listening on 127.0.0.1:{port}", flush=True)  # only once it accepts connections
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=9200)
    args = parser.parse_args()
    asyncio.run(serve(args.port))


if __name__ == "__main__":
    main()
