"""Ask a model deployed on a Vertex AI endpoint one question, plain and streamed, through the gateway.

Credentials are Google's application default credentials: ``gcloud auth application-default
login`` on a workstation, ``GOOGLE_APPLICATION_CREDENTIALS=key.json`` for a service account, or the
attached service account on GCE / GKE / Cloud Run. ``VERTEX_ACCESS_TOKEN`` (or ``--access-token``)
uses a fixed token instead, e.g. ``$(gcloud auth print-access-token)``.

    python examples/vertex_chat.py --project my-project --region us-central1 \\
        --endpoint 1234567890 --route chat
    python examples/vertex_chat.py --project my-project --region us-central1 \\
        --endpoint openapi --route openapi --model meta/llama-3.3-70b-instruct-maas

Routes: ``predict`` ({instances} -> {predictions}; no streaming), ``raw`` (rawPredict /
streamRawPredict with an OpenAI chat body), ``chat`` (the endpoint's OpenAI-compatible chat
completions), ``openapi`` (chat completions of model-as-a-service models; needs --model).
"""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any

from common import ask_plain_then_streamed, one_deployment_config

from llmgateway import Gateway

MODEL = "vertex-chat"
NEEDS = """\
needs, one of:
  Google application default credentials and the gcp extra (google-auth):
    pip install 'llmgateway[gcp]'; then `gcloud auth application-default login` (a workstation),
    GOOGLE_APPLICATION_CREDENTIALS=key.json (a service account, or any credentials file), or the
    attached service account on GCE / GKE / Cloud Run
  VERTEX_ACCESS_TOKEN: a fixed token used as is (no google-auth needed), e.g.
    VERTEX_ACCESS_TOKEN=$(gcloud auth print-access-token); it expires after about an hour"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=NEEDS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--project", required=True, help="Google Cloud project id (or number)")
    parser.add_argument("--region", default="us-central1", help="endpoint location (default: %(default)s)")
    parser.add_argument("--endpoint", help="endpoint id (default: 'openapi' for --route openapi)")
    parser.add_argument("--route", choices=["predict", "raw", "chat", "openapi"], default="chat")
    parser.add_argument("--model", help="model name sent in the body (required for --route openapi)")
    parser.add_argument("--api-endpoint", help="base URL override (private endpoints, a local fake)")
    parser.add_argument("--dedicated-dns", help="the endpoint's dedicated DNS name, if it has one")
    parser.add_argument(
        "--access-token", default=os.environ.get("VERTEX_ACCESS_TOKEN"), help=argparse.SUPPRESS
    )
    parser.add_argument("--question", default="What is the capital of France? Answer in one sentence.")
    parser.add_argument("--max-tokens", type=int, default=64)
    args = parser.parse_args(argv)
    if args.route == "openapi":
        args.endpoint = args.endpoint or "openapi"
        if not args.model:
            parser.error("--route openapi needs --model, e.g. google/gemini-2.0-flash-001")
    elif not args.endpoint:
        parser.error("--endpoint is required (the deployed endpoint's id)")
    return args


def build_config(args: argparse.Namespace) -> dict[str, Any]:
    optional = {
        "model": args.model,
        "api_endpoint": args.api_endpoint,
        "dedicated_endpoint_dns": args.dedicated_dns,
        "access_token": args.access_token,
    }
    deployment = {
        "name": f"vertex-{args.endpoint}",
        "provider": "vertex",
        # Example prices (USD per million tokens); put your endpoint's real ones here.
        "pricing": {"input_per_million": "0.20", "output_per_million": "0.60"},
    }
    settings = {
        "project": args.project,
        "region": args.region,
        "endpoint": args.endpoint,
        "route": "chat" if args.route == "openapi" else args.route,
    }
    return one_deployment_config(MODEL, deployment, settings, optional)


async def main(args: argparse.Namespace) -> None:
    no_stream = "the predict route does not stream" if args.route == "predict" else None
    async with Gateway(build_config(args)) as gw:
        await ask_plain_then_streamed(
            gw, MODEL, args.question, no_stream=no_stream, max_tokens=args.max_tokens
        )


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
