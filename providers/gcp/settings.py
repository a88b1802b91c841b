"""The ``vertex`` deployment's settings, validated at config load with errors that say what to set.

```yaml
provider: vertex
settings:
  project: my-project            # id, or the number for dedicated endpoints
  region: us-central1            # or "global"
  endpoint: "1234567890"         # a deployed endpoint's id, or "openapi" (model as a service)
  route: chat                    # chat | raw | predict
  model: meta/llama-3.1-8b-instruct-maas   # sent in the body (required with endpoint: openapi)
```
"""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from providers.chat_templates import ChatTemplate
from providers.token_count import TokenizerPath

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
_REGION = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$")
# Legacy domain-scoped projects look like "example.com:my-project".
_PROJECT = re.compile(r"^[a-z0-9][a-z0-9.:-]*[a-z0-9]$")
_ENDPOINT = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_DEDICATED_DNS = re.compile(r"^[a-z0-9-]+\.[a-z0-9-]+-[a-z0-9]+\.prediction\.vertexai\.goog$")


class PredictSettings(BaseModel):
    """How a chat request becomes one ``:predict`` instance, and how the prediction becomes text."""

    model_config = ConfigDict(extra="forbid")

    instance: Literal["messages", "prompt", "inputs"] = Field(
        default="messages",
        description="messages: {messages: [...]}; prompt / inputs: the chat rendered with the "
        "deployment's chat_template",
    )
    parameters_in: Literal["parameters", "instance"] = Field(
        default="parameters", description="where sampling goes: the request's parameters, or each instance"
    )
    parameter_names: dict[str, str | None] = Field(
        default_factory=dict,
        description="OpenAI name -> the container's name (e.g. max_tokens: max_new_tokens); null drops it",
    )
    extra_parameters: dict[str, Any] = Field(default_factory=dict, description="sent with every call")
    prediction_field: str | None = Field(
        default=None,
        description="dotted path to the text in an object prediction (default: the prediction if it "
        "is a string, else generated_text, text, content or output)",
    )

    @model_validator(mode="before")
    @classmethod
    def _moved_template(cls, values: Any) -> Any:
        if isinstance(values, dict) and "template" in values:
            raise ValueError(
                "predict.template has moved: set the deployment's chat_template instead (chatml, llama3, "
                "gemma, mistral, plain, or a Jinja template)"
            )
        return values

    @field_validator("parameter_names")
    @classmethod
    def _known_names(cls, value: dict[str, str | None]) -> dict[str, str | None]:
        from providers.gcp.payloads import SAMPLING_NAMES

        unknown = sorted(set(value) - set(SAMPLING_NAMES))
        if unknown:
            raise ValueError(f"unknown request fields {unknown}; known: {', '.join(SAMPLING_NAMES)}")
        return value


class VertexSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project: str = Field(description="Google Cloud project id (or number)")
    region: str = Field(default="us-central1", description="the endpoint's location, or 'global'")
    endpoint: str = Field(description="the endpoint id, or 'openapi' for model-as-a-service chat")
    route: Literal["chat", "raw", "predict"] = Field(
        default="chat",
        description="chat: OpenAI-compatible chat completions; raw: rawPredict / streamRawPredict; "
        "predict: {instances, parameters} -> {predictions}",
    )
    raw_format: Literal["openai", "tgi"] = Field(
        default="openai", description="the container's body on route raw: OpenAI chat, or HF TGI"
    )
    tgi_parameters: dict[str, Any] = Field(
        default_factory=dict,
        description="raw_format tgi: TGI parameters sent with every call (e.g. top_k, adapter_id)",
    )
    model: str | None = Field(default=None, description="model name sent in the body (chat / raw openai)")
    api_version: Literal["v1", "v1beta1"] = "v1"
    api_endpoint: str | None = Field(
        default=None,
        description="base URL override (private endpoints, tests); http only for private addresses",
    )
    dedicated: bool = Field(default=False, description="call the endpoint's dedicated DNS")
    project_number: str | None = Field(default=None, description="for dedicated endpoints")
    dedicated_endpoint_dns: str | None = Field(
        default=None, description="the dedicated DNS Vertex shows, e.g. 123.us-central1-456.prediction..."
    )
    predict: PredictSettings = Field(default_factory=PredictSettings)
    # Auth: application default credentials unless one of these is set.
    credentials_file: str | None = Field(
        default=None,
        description="a credentials JSON file: service_account, authorized_user, external_account or "
        "impersonated_service_account",
    )
    access_token: SecretStr | None = Field(default=None, description="a fixed bearer token (no refresh)")
    scopes: list[str] = Field(default_factory=lambda: [CLOUD_PLATFORM_SCOPE], min_length=1)
    quota_project: str | None = Field(default=None, description="billed project (x-goog-user-project)")
    refresh_margin: float = Field(default=300.0, gt=0, description="seconds before expiry to refresh")
    auth_timeout: float = Field(default=30.0, gt=0, description="seconds for one token request")
    timeout: float | None = Field(default=60.0, gt=0)
    headers: dict[str, str] = Field(default_factory=dict)
    stream_usage: bool = Field(default=True, description="ask for a usage chunk on OpenAI-shaped streams")
    tokenizer: TokenizerPath | None = Field(
        default=None,
        description="The model's tokenizer (HF model directory or .gguf file): it counts predict / TGI "
        "usage, and its chat template renders prompts when chat_template is not set",
    )
    chat_template: ChatTemplate | None = Field(
        default=None,
        description="How predict prompt / inputs instances and TGI bodies render the chat: chatml, "
        "llama3, gemma, mistral, plain, or a Jinja template (default: the tokenizer's, else chatml)",
    )
    template_variables: dict[str, Any] = Field(
        default_factory=dict, description="Extra variables for a Jinja chat_template, e.g. bos_token"
    )

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not _REGION.match(value):
            raise ValueError("must be a Google Cloud location such as us-central1, or 'global'")
        return value

    @field_validator("project")
    @classmethod
    def _project(cls, value: str) -> str:
        if not _PROJECT.match(value):
            raise ValueError("must be a project id such as my-project, or its number")
        return value

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        # A full resource name (as gcloud prints it) is accepted too; only the id is kept.
        if value.startswith("projects/") and "/endpoints/" in value:
            value = value.rsplit("/endpoints/", 1)[1]
        if not _ENDPOINT.match(value):
            raise ValueError("must be the endpoint's id (digits, or its name), or 'openapi'")
        return value

    @field_validator("api_endpoint")
    @classmethod
    def _api_endpoint(cls, value: str | None) -> str | None:
        return None if value is None else check_api_endpoint(value)

    @field_validator("dedicated_endpoint_dns")
    @classmethod
    def _dns(cls, value: str | None) -> str | None:
        if value is None:
            return None
        host = value.removeprefix("https://").rstrip("/")
        if not _DEDICATED_DNS.match(host):
            raise ValueError("must look like {endpoint}.{region}-{project_number}.prediction.vertexai.goog")
        return host

    @field_validator("credentials_file")
    @classmethod
    def _file(cls, value: str | None) -> str | None:
        if value is None:
            return None
        path = Path(value).expanduser()
        if not path.is_file():
            raise ValueError(f"no such file: {value} (a service account key or other credentials JSON)")
        from providers.gcp.auth import FILE_TYPES

        try:
            kind = json.loads(path.read_text()).get("type")
        except (OSError, ValueError, AttributeError) as exc:
            raise ValueError(f"{value} is not a credentials JSON file: {exc}") from exc
        if kind not in FILE_TYPES:
            raise ValueError(
                f"{value} holds credentials of type {kind!r}; credentials_file takes {', '.join(FILE_TYPES)} "
                "(for other kinds, point GOOGLE_APPLICATION_CREDENTIALS at the file instead)"
            )
        return str(path)

    @model_validator(mode="after")
    def _consistent(self) -> VertexSettings:
        if self.endpoint == "openapi":
            if self.route != "chat":
                raise ValueError("endpoint 'openapi' serves only route: chat")
            if not self.model:
                raise ValueError("endpoint 'openapi' needs model, e.g. google/gemini-2.0-flash-001")
        if self.credentials_file and self.access_token:
            raise ValueError("set credentials_file or access_token, not both")
        if self.dedicated and not self.dedicated_endpoint_dns and not self.api_endpoint:
            if not (self.project_number or self.project.isdigit()):
                raise ValueError(
                    "dedicated endpoints are reached at {endpoint}.{region}-{project_number}"
                    ".prediction.vertexai.goog: set project_number, or dedicated_endpoint_dns"
                )
        if self.dedicated and self.region == "global":
            raise ValueError("dedicated endpoints live in a region, not 'global'")
        return self


def check_api_endpoint(value: str) -> str:
    """A base URL: https anywhere; plain http only to loopback or private addresses, where a
    bearer token does not cross the internet (private endpoints inside a VPC, tests)."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be a URL such as https://us-central1-aiplatform.googleapis.com")
    if parts.query or parts.fragment:
        raise ValueError("must not carry a query or fragment")
    if parts.scheme == "http" and not _private_host(parts.hostname):
        raise ValueError(
            "plain http would send the Google access token in clear text; use https "
            "(http is allowed only for loopback and private addresses)"
        )
    return value.rstrip("/")


def _private_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private
