"""SigV4 request signing through botocore's own signer.

The gateway sends the request itself (aiohttp or the user's httpx client), so only the headers
are borrowed from botocore: Authorization, X-Amz-Date and, for temporary credentials,
X-Amz-Security-Token. The body, URL and every header passed here are signed, so they must go on
the wire exactly as given (the HTTP client adds Host and Content-Length, which botocore derives
the same way: Host from the URL, Content-Length unsigned).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from botocore.credentials import ReadOnlyCredentials


def signed_headers(
    credentials: ReadOnlyCredentials,
    *,
    service: str,
    region: str,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    method: str = "POST",
) -> dict[str, str]:
    """``headers`` plus the SigV4 authentication headers for this exact request."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    # ReadOnlyCredentials has the access_key / secret_key / token attributes the signer reads.
    SigV4Auth(credentials, service, region).add_auth(request)
    return {name: str(value) for name, value in request.headers.items()}
