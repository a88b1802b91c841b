"""A SageMaker deployment's settings, checked at config load."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from providers.chat_templates import ChatTemplate
from providers.token_count import TokenizerPath

PayloadFormat = Literal["tgi", "messages", "raw"]
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
# Header values SageMaker accepts: visible US-ASCII (RFC 7230 field-vchar) and spaces.
_VISIBLE_ASCII = re.compile(r"^[\x20-\x7e]*$")


class SageMakerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    endpoint_name: str = Field(
        pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$", max_length=63, description="The endpoint to invoke"
    )
    region: str | None = Field(
        default=None, description="e.g. us-east-1; default: the profile's or AWS_REGION / AWS_DEFAULT_REGION"
    )
    endpoint_url: str | None = Field(
        default=None,
        description="Runtime API root instead of https://runtime.sagemaker.{region}.amazonaws.com "
        "(VPC interface endpoints, tests)",
    )
    profile: str | None = Field(
        default=None,
        description="Shared-config profile (its credentials and region; only its region with keys "
        "given here); default: AWS_PROFILE",
    )
    access_key_id: SecretStr | None = Field(default=None, description="Instead of the credential chain")
    secret_access_key: SecretStr | None = None
    session_token: SecretStr | None = None

    format: PayloadFormat = Field(
        default="messages",
        description="messages: OpenAI chat (TGI >= 1.4 Messages API, LMI); tgi: {inputs, parameters}; "
        "raw: the request's extra body sent as is",
    )
    model: str | None = Field(default=None, description="'model' field sent in the Messages format")
    parameters: dict[str, Any] = Field(
        default_factory=dict, description="TGI parameters sent with every call (top_k, repetition_penalty...)"
    )
    tokenizer: TokenizerPath | None = Field(
        default=None,
        description="The model's tokenizer (HF model directory or .gguf file): its chat template "
        "renders TGI prompts, and it counts tokens when the container reports none",
    )
    chat_template: ChatTemplate | None = Field(
        default=None,
        description="chatml, llama3, gemma, mistral, plain, or a Jinja template (wins over the tokenizer's)",
    )
    template_variables: dict[str, Any] = Field(
        default_factory=dict, description="Extra variables for chat_template, e.g. bos_token"
    )
    stream_usage: bool = Field(default=True, description="Messages format: ask for a usage chunk on streams")

    custom_attributes: str | None = Field(default=None, max_length=1024)
    target_model: str | None = Field(default=None, max_length=1024, description="Multi-model endpoints")
    target_variant: str | None = Field(default=None, max_length=63)
    target_container_hostname: str | None = Field(default=None, max_length=63)
    inference_component: str | None = Field(default=None, max_length=63)
    content_type: str = Field(default="application/json", max_length=1024)
    accept: str = Field(default="application/json", max_length=1024)
    timeout: float | None = Field(default=60.0, gt=0, description="Seconds to connect and between reads")

    @field_validator("region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is not None and not _REGION.match(value):
            raise ValueError(f"{value!r} is not an AWS region name such as us-east-1")
        return value

    @field_validator("endpoint_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    # Every setting sagemaker._headers sends: a bad value fails at config load, not at the call.
    @field_validator(
        "custom_attributes",
        "target_model",
        "target_variant",
        "target_container_hostname",
        "inference_component",
        "content_type",
        "accept",
    )
    @classmethod
    def _header_value(cls, value: str | None) -> str | None:
        if value is not None and not _VISIBLE_ASCII.match(value):
            raise ValueError("must be visible US-ASCII characters (it travels as an HTTP header)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SageMakerSettings:
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise ValueError("give access_key_id and secret_access_key together (or neither, for the chain)")
        if self.session_token is not None and self.access_key_id is None:
            raise ValueError("session_token needs access_key_id and secret_access_key")
        if self.format == "tgi" and self.tokenizer is None and self.chat_template is None:
            raise ValueError(
                "format 'tgi' sends a rendered prompt: set 'tokenizer' (the model's tokenizer, whose chat "
                "template is used) or 'chat_template' (a template name such as chatml, or Jinja text)"
            )
        if self.parameters and self.format != "tgi":
            raise ValueError("'parameters' applies to format 'tgi' only")
        return self

    def runtime_url(self, region: str) -> str:
        if self.endpoint_url is not None:
            return self.endpoint_url
        suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
        return f"https://runtime.sagemaker.{region}.{suffix}"
