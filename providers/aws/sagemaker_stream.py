"""InvokeEndpointWithResponseStream's body: event-stream frames -> PayloadPart bytes -> chunks.

Network reads go to the frame decoder (checksums checked), PayloadPart payloads to the format's
stream reader, and the stream's own error events become gateway errors. Once a chunk reached the
caller, a failure that would be worth a retry ends the stream as StreamInterruptedError instead
(a started answer must not be replayed).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from llmgateway.errors import GatewayError, StreamInterruptedError, UpstreamServerError
from llmgateway.types import ChatCompletionChunk
from providers.aws.eventstream import EventStreamCorrupt, EventStreamDecoder, StreamFault
from providers.aws.payload_events import PayloadTooLong
from providers.aws.sagemaker_errors import stream_fault_error
from providers.aws.sagemaker_payloads import StreamReader

PAYLOAD_PART = "PayloadPart"


def _broken(what: str, sent: int, deployment: str) -> GatewayError:
    if sent:
        return StreamInterruptedError(
            f"the SageMaker stream broke off after {sent} chunks: {what}",
            chunks_received=sent,
            deployment=deployment,
        )
    return UpstreamServerError(f"the SageMaker stream is unreadable: {what}", deployment=deployment)


async def read_event_stream(
    body: AsyncIterator[bytes], reader: StreamReader, deployment: str
) -> AsyncIterator[ChatCompletionChunk]:
    decoder = EventStreamDecoder()
    sent = 0
    try:
        async for data in body:
            for event in decoder.feed(data):
                if isinstance(event, StreamFault):
                    raise stream_fault_error(event.kind, event.message, event.error_code, sent, deployment)
                if event.event_type != PAYLOAD_PART:
                    continue  # e.g. an initial-response event: nothing of the answer
                for chunk in reader.feed(event.payload, sent):
                    sent += 1
                    yield chunk
        decoder.close()
        for chunk in reader.close(sent):
            sent += 1
            yield chunk
    except EventStreamCorrupt as exc:
        raise _broken(f"corrupt event-stream frame ({exc})", sent, deployment) from exc
    except PayloadTooLong as exc:
        raise _broken(str(exc), sent, deployment) from exc
    except StreamInterruptedError:
        raise
    except GatewayError as exc:
        if exc.deployment is None:
            exc.deployment = deployment
        if sent and exc.retryable:
            raise _broken(exc.message, sent, deployment) from exc
        raise
