"""The URLs of a deployed Vertex AI endpoint's methods.

Hosts: regional ``{region}-aiplatform.googleapis.com``; ``global`` -> ``aiplatform.googleapis.com``;
dedicated endpoints ``{endpoint}.{region}-{project_number}.prediction.vertexai.goog`` (once an
endpoint has one, the shared host refuses it); or any base URL (private endpoints, tests). The
resource path is the same on every host.
"""

from __future__ import annotations

from dataclasses import dataclass

from providers.gcp.settings import VertexSettings


def api_base(settings: VertexSettings) -> str:
    """Scheme and host (and any path prefix of an override), without a trailing slash."""
    if settings.api_endpoint:
        return settings.api_endpoint
    if settings.dedicated_endpoint_dns:
        return f"https://{settings.dedicated_endpoint_dns}"
    if settings.dedicated:
        number = settings.project_number or settings.project
        return f"https://{settings.endpoint}.{settings.region}-{number}.prediction.vertexai.goog"
    if settings.region == "global":
        return "https://aiplatform.googleapis.com"
    return f"https://{settings.region}-aiplatform.googleapis.com"


def resource_path(settings: VertexSettings) -> str:
    return (
        f"/{settings.api_version}/projects/{settings.project}"
        f"/locations/{settings.region}/endpoints/{settings.endpoint}"
    )


@dataclass(frozen=True)
class EndpointUrls:
    """Where a deployment's unary and streamed calls go (``stream`` is None: it cannot stream)."""

    unary: str
    stream: str | None

    @classmethod
    def of(cls, settings: VertexSettings) -> EndpointUrls:
        endpoint = api_base(settings) + resource_path(settings)
        if settings.route == "chat":
            chat = f"{endpoint}/chat/completions"
            return cls(unary=chat, stream=chat)
        if settings.route == "raw":
            return cls(unary=f"{endpoint}:rawPredict", stream=f"{endpoint}:streamRawPredict")
        return cls(unary=f"{endpoint}:predict", stream=None)
