"""SigV4 checked as the service does, by recomputing the signature with botocore from the known
secret: an unknown key or token is UnrecognizedClientException, anything else that does not
match (scope, date, skew over five minutes, unsigned host, the signature) InvalidSignatureException."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from datetime import datetime, timezone

from bench.sagemaker_fake.account import REGION


def check_signature(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    keys: Mapping[str, tuple[str, str | None]],
    region: str = REGION,
) -> str | None:
    """None when the request is signed right; else the name of the service's error shape."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    auth = headers.get("authorization", "")
    algorithm, _, fields = auth.partition(" ")
    if algorithm != "AWS4-HMAC-SHA256":
        return "InvalidSignatureException"
    parts = dict(p.strip().split("=", 1) for p in fields.split(",") if "=" in p)
    access_key, _, scope = parts.get("Credential", "").partition("/")
    if access_key not in keys:
        return "UnrecognizedClientException"
    secret, token = keys[access_key]
    if headers.get("x-amz-security-token") != token:
        return "UnrecognizedClientException"
    date, scope_region, service, terminator = [*scope.split("/"), "", "", ""][:4]
    stamp = headers.get("x-amz-date", "")
    if (scope_region, service, terminator) != (region, "sagemaker", "aws4_request") or stamp[:8] != date:
        return "InvalidSignatureException"
    try:
        when = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return "InvalidSignatureException"
    if abs((datetime.now(timezone.utc) - when).total_seconds()) > 300:
        return "InvalidSignatureException"  # "Signature expired"
    signed = parts.get("SignedHeaders", "").split(";")
    if "host" not in signed or any(name not in headers for name in signed):
        return "InvalidSignatureException"
    request = AWSRequest(method=method, url=url, data=body, headers={name: headers[name] for name in signed})
    request.context["timestamp"] = stamp
    signer = SigV4Auth(Credentials(access_key, secret, token), "sagemaker", region)
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    return None if hmac.compare_digest(expected, parts.get("Signature", "")) else "InvalidSignatureException"
