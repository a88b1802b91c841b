"""A fake SageMaker *runtime* on 127.0.0.1, in front of a real container (or a canned answer).

It does what the service does on the wire, so the provider is tested (and benchmarked) against
the real protocol:

- checks every request's SigV4 signature by recomputing it with botocore from the known secret,
  answering the service's 403 shapes (``signature``);
- forwards ``/endpoints/{name}/invocations`` to the container's ``/invocations`` with the custom
  attributes header, and turns a container error into the ModelError (424) shape
  (``error_shapes``);
- answers ``/invocations-response-stream`` as ``application/vnd.amazon.eventstream``: the
  container's stream bytes cut into PayloadPart frames (``frames``);
- with switches (``Faults``) to split frames across writes, cut the stream into small parts,
  corrupt a checksum, send a ModelStreamError / InternalStreamFailure, or answer any documented
  error shape (``runtime``).

``python -m bench.sagemaker_fake --port N`` runs it with a canned instant answer (``canned``).
"""

from __future__ import annotations

from bench.sagemaker_fake.account import ACCESS_KEY, INVOKED_VARIANT, REGION, SECRET_KEY, deployment_settings
from bench.sagemaker_fake.canned import CANNED_TEXT, canned_messages
from bench.sagemaker_fake.error_shapes import ERROR_SHAPES, ErrorShape, error_response, model_error
from bench.sagemaker_fake.frames import corrupt, encode_frame, exception_frame, payload_part
from bench.sagemaker_fake.runtime import Canned, FakeRuntime, Faults, Seen
from bench.sagemaker_fake.signature import check_signature

__all__ = [
    "ACCESS_KEY",
    "CANNED_TEXT",
    "ERROR_SHAPES",
    "INVOKED_VARIANT",
    "REGION",
    "SECRET_KEY",
    "Canned",
    "ErrorShape",
    "FakeRuntime",
    "Faults",
    "Seen",
    "canned_messages",
    "check_signature",
    "deployment_settings",
    "corrupt",
    "encode_frame",
    "error_response",
    "exception_frame",
    "model_error",
    "payload_part",
]
