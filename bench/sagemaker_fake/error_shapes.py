"""The SageMaker runtime's documented error answers, as the service sends them: status, JSON body
and ``x-amzn-ErrorType`` (some only name their type in the body)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bench.sagemaker_fake.account import REGION

CORAL = "http://internal.amazon.com/coral/com.amazon.coral.service/"
SAGEMAKER = "http://internal.amazon.com/coral/com.amazon.sagemaker/"
LOG_STREAM = f"arn:aws:logs:{REGION}:123456789012:log-group:/aws/sagemaker/Endpoints/my-endpoint"


@dataclass(frozen=True)
class ErrorShape:
    status: int
    body: dict[str, Any]
    error_type: str | None = None  # x-amzn-ErrorType; None: the type is only in the body


def model_error(original_status: int, original_message: str) -> ErrorShape:
    side = "client" if original_status < 500 else "server"
    return ErrorShape(
        424,
        {
            "ErrorCode": f"{side.upper()}_ERROR_FROM_MODEL",
            "LogStreamArn": LOG_STREAM,
            "Message": f"Received {side} error ({original_status}) from primary with message "
            f'"{original_message}". See https://{REGION}.console.aws.amazon.com/cloudwatch/home '
            "for more information.",
            "OriginalMessage": original_message,
            "OriginalStatusCode": original_status,
        },
        f"ModelError:{SAGEMAKER}",
    )


ERROR_SHAPES: dict[str, ErrorShape] = {
    "ModelError400": model_error(400, '{"error": "Input validation error: inputs must not be empty"}'),
    "ModelError500": model_error(500, "CUDA out of memory"),
    "ModelError429": model_error(429, "Model is overloaded"),
    "ThrottlingException": ErrorShape(
        400,
        {"message": "Rate exceeded"},
        "ThrottlingException:http://internal.amazon.com/coral/com.amazon.coral.availability/",
    ),
    "ThrottlingExceptionBodyOnly": ErrorShape(
        400, {"__type": "com.amazon.coral.availability#ThrottlingException", "message": "Rate exceeded"}
    ),
    "ModelNotReadyException": ErrorShape(
        429,
        {"message": "Model not ready: the serverless endpoint is still provisioning capacity"},
        f"ModelNotReadyException:{SAGEMAKER}",
    ),
    "ValidationError": ErrorShape(
        400,
        {"message": "1 validation error detected: Value at 'customAttributes' failed to satisfy constraint"},
        f"ValidationError:{SAGEMAKER}",
    ),
    "ValidationErrorNotFound": ErrorShape(
        400,
        {"message": "Endpoint my-endpoint of account 123456789012 not found."},
        f"ValidationError:{SAGEMAKER}",
    ),
    "InternalFailure": ErrorShape(
        500, {"message": "An internal failure occurred."}, f"InternalFailure:{SAGEMAKER}"
    ),
    "ServiceUnavailable": ErrorShape(
        503,
        {"message": "The service is unavailable. Try your call again."},
        f"ServiceUnavailable:{SAGEMAKER}",
    ),
    "InternalDependencyException": ErrorShape(
        530,
        {"message": "Your request caused an exception with an internal dependency."},
        "InternalDependencyException",
    ),
    "UnrecognizedClientException": ErrorShape(
        403,
        {"message": "The security token included in the request is invalid."},
        f"UnrecognizedClientException:{CORAL}",
    ),
    "InvalidSignatureException": ErrorShape(
        403,
        {
            "message": "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. "
            "Consult the service documentation for details."
        },
        f"InvalidSignatureException:{CORAL}",
    ),
    "AccessDeniedException": ErrorShape(
        403,
        {
            "message": "User: arn:aws:iam::123456789012:user/test is not authorized to perform: "
            "sagemaker:InvokeEndpoint on resource: "
            "arn:aws:sagemaker:us-east-1:123456789012:endpoint/my-endpoint"
        },
        "AccessDeniedException",
    ),
}


def error_response(shape: ErrorShape) -> web.Response:
    headers = {"x-amzn-RequestId": "00000000-0000-0000-0000-000000000000"}
    if shape.error_type is not None:
        headers["x-amzn-ErrorType"] = shape.error_type
    return web.Response(
        status=shape.status,
        body=json.dumps(shape.body).encode(),
        content_type="application/json",
        headers=headers,
    )
