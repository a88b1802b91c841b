"""An AWS service's refusal while botocore's chain loads credentials (STS AssumeRole /
AssumeRoleWithWebIdentity, SSO GetRoleCredentials) as a gateway error.

botocore raises these as ``ClientError``, which is not a ``BotoCoreError``: refusals (a bad or
expired token, a role that does not trust the caller) will not pass by trying again, so they are
an AuthenticationError; throttling and the service's own 5xx will, so they are a retryable
APIConnectionError. The message names the credential source and what to check; it carries the
service's error code and message, never a token or key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmgateway.errors import APIConnectionError, AuthenticationError, GatewayError

if TYPE_CHECKING:
    from botocore.exceptions import ClientError

# Error codes worth another try: throttling, and an identity provider STS could not reach.
TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "PriorRequestNotComplete",
        "IDPCommunicationError",
        "ServiceUnavailable",
        "InternalFailure",
        "InternalError",
    }
)

# What each operation's failure says about the configuration, and where to look.
SOURCES = {
    "AssumeRoleWithWebIdentity": (
        "web identity (AssumeRoleWithWebIdentity)",
        "check that AWS_WEB_IDENTITY_TOKEN_FILE (or the profile's web_identity_token_file) holds a "
        "current token, and that the role in AWS_ROLE_ARN (or role_arn) trusts its issuer and audience",
    ),
    "AssumeRole": (
        "assume role (the profile's role_arn)",
        "check the profile's role_arn, that its source_profile or credential_source has valid "
        "credentials, and that the role's trust policy allows them (external_id, MFA)",
    ),
    "GetRoleCredentials": (
        "SSO (GetRoleCredentials)",
        "run `aws sso login` for the profile, and check its sso_account_id and sso_role_name",
    ),
}


def credential_source_error(exc: ClientError, deployment: str) -> GatewayError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code") or "Unknown")
    detail = str(error.get("Message") or "no message")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    operation = exc.operation_name or "the credential request"
    source, hint = SOURCES.get(
        operation, (operation, "check the credential source the deployment's profile or environment names")
    )
    # GatewayError's str() names the deployment: the message does not repeat it.
    text = f"loading AWS credentials from {source} failed: {code}: {detail}"
    if code in TRANSIENT_CODES or status == 429 or status >= 500:
        return APIConnectionError(f"{text}; will try again", deployment=deployment, code=code)
    return AuthenticationError(f"{text}; {hint}", deployment=deployment, code=code)
