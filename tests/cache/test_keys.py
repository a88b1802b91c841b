from llmgateway.cache.keys import NON_OUTPUT_FIELDS, is_deterministic, request_key
from llmgateway.types import CompletionRequest, EmbeddingRequest
from tests.cache.payloads import chat_request


def key(**params: object) -> str:
    return request_key("chat", chat_request(**params)).key


def test_key_is_stable_and_kind_prefixed() -> None:
    assert key() == key()
    assert key().startswith("chat:")


def test_every_output_parameter_changes_the_key() -> None:
    base = key()
    variants = [
        {"temperature": 0.5},
        {"max_tokens": 10},
        {"seed": 1},
        {"top_p": 0.5},
        {"stop": ["\n"]},
        {"n": 2},
        {"presence_penalty": 1.0},
        {"frequency_penalty": 1.0},
        {"logprobs": True},
        {"tools": [{"type": "function", "function": {"name": "f"}}]},
        {"tool_choice": "none"},
        {"response_format": {"type": "json_object"}},
        {"model": "other"},
        {"content": "What is the capital of Spain?"},
    ]
    keys = {base} | {key(**v) for v in variants}  # type: ignore[arg-type]
    assert len(keys) == len(variants) + 1


def test_delivery_fields_do_not_change_the_key() -> None:
    base = key()
    assert key(stream=True, stream_options={"include_usage": True}) == base
    assert key(user="alice") == base
    assert key(metadata={"team": "x"}, store=True, service_tier="flex") == base
    assert {"stream", "stream_options", "user", "metadata", "store", "service_tier"} <= NON_OUTPUT_FIELDS


def test_unknown_extra_fields_are_part_of_the_key_and_key_order_does_not_matter() -> None:
    assert key(top_k=5) != key()
    assert key(top_k=5) != key(top_k=6)
    assert key(guided={"a": 1, "b": 2}) == key(guided={"b": 2, "a": 1})


def test_none_equals_absent() -> None:
    assert key(max_tokens=None) == key()


def test_mapping_requests_normalise_like_models() -> None:
    model = chat_request(max_tokens=5)
    raw = model.model_dump()  # None everywhere not set
    raw["user"] = "bob"
    assert request_key("chat", raw).key == request_key("chat", model).key


def test_kinds_never_share_keys() -> None:
    completion = request_key("completion", CompletionRequest(model="m", prompt="x"))
    embedding = request_key("embedding", EmbeddingRequest(model="m", input="x"))
    assert completion.key != embedding.key


def test_deterministic_rule() -> None:
    assert is_deterministic("chat", request_key("chat", chat_request()).fields)
    assert is_deterministic("chat", request_key("chat", chat_request(temperature=0.7, seed=3)).fields)
    assert not is_deterministic("chat", request_key("chat", chat_request(temperature=0.7)).fields)
    assert not is_deterministic("chat", request_key("chat", chat_request(temperature=None)).fields)
    assert is_deterministic(
        "embedding", request_key("embedding", EmbeddingRequest(model="m", input="x")).fields
    )


def test_namespace_ignores_messages_only() -> None:
    a = request_key("chat", chat_request("one"))
    b = request_key("chat", chat_request("two"))
    c = request_key("chat", chat_request("one", max_tokens=5))
    assert a.key != b.key
    assert a.namespace() == b.namespace() != c.namespace()
    assert a.namespace() != a.key
