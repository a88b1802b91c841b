"""Ask a model on a SageMaker real-time endpoint one question, plain and streamed, through the gateway.

Credentials come from the standard AWS chain: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, a profile
(--profile or AWS_PROFILE; SSO and credential_process profiles included), a web-identity role, or
the container / instance role. Needs the aws extra: pip install 'llmgateway[aws]'.

    python examples/sagemaker_chat.py --endpoint-name my-llm --region us-east-1
    python examples/sagemaker_chat.py --endpoint-name my-tgi --region eu-west-1 --format tgi \\
        --tokenizer ./model-dir            # TGI's native API: the chat rendered with the model's template

Formats: ``messages`` (OpenAI chat; TGI >= 1.4, LMI, vLLM containers), ``tgi`` ({inputs,
parameters}; needs --tokenizer or --chat-template to render the chat).
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from common import ask_plain_then_streamed, one_deployment_config

from llmgateway import Gateway

MODEL = "sagemaker-chat"
NEEDS = """\
needs:
  the aws extra (botocore, which signs the calls): pip install 'llmgateway[aws]'
  AWS credentials, from the standard chain: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
    (+ AWS_SESSION_TOKEN), a profile (--profile or AWS_PROFILE; SSO, credential_process and
    assume-role profiles included), a web-identity role (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN),
    or the container / instance role
  a region: --region, else AWS_REGION, else AWS_DEFAULT_REGION or the profile's region"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=NEEDS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--endpoint-name", required=True, help="the SageMaker endpoint's name")
    parser.add_argument("--region", help="e.g. us-east-1 (default: AWS_REGION or the profile's region)")
    parser.add_argument("--endpoint-url", help="runtime URL override (a VPC endpoint, a local fake)")
    parser.add_argument("--profile", help="AWS shared-config profile (default: AWS_PROFILE or default)")
    parser.add_argument("--format", choices=["messages", "tgi"], default="messages")
    parser.add_argument("--tokenizer", help="the model's tokenizer (HF directory or .gguf file)")
    parser.add_argument(
        "--chat-template",
        help="format tgi: chatml, llama3, gemma, mistral, plain, or a Jinja template, instead of --tokenizer",
    )
    parser.add_argument("--inference-component", help="the inference component to invoke, if any")
    parser.add_argument("--question", default="What is the capital of France? Answer in one sentence.")
    parser.add_argument("--max-tokens", type=int, default=64)
    args = parser.parse_args(argv)
    if args.format == "tgi" and not (args.tokenizer or args.chat_template):
        parser.error("--format tgi needs --tokenizer or --chat-template to render the chat")
    return args


def build_config(args: argparse.Namespace) -> dict[str, Any]:
    optional = {
        "region": args.region,
        "endpoint_url": args.endpoint_url,
        "profile": args.profile,
        "tokenizer": args.tokenizer,
        "chat_template": args.chat_template,
        "inference_component": args.inference_component,
    }
    deployment = {
        "name": f"sagemaker-{args.endpoint_name}",
        "provider": "sagemaker",
        # Example prices (USD per million tokens); put your endpoint's real ones here, or price it
        # per instance-hour with pricing: {per_instance_hour: ..., instances: ...}.
        "pricing": {"input_per_million": "0.50", "output_per_million": "1.50"},
    }
    settings = {"endpoint_name": args.endpoint_name, "format": args.format}
    return one_deployment_config(MODEL, deployment, settings, optional)


async def main(args: argparse.Namespace) -> None:
    async with Gateway(build_config(args)) as gw:
        await ask_plain_then_streamed(gw, MODEL, args.question, max_tokens=args.max_tokens, temperature=0)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
