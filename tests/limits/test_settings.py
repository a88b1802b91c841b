from __future__ import annotations

import pytest
from pydantic import ValidationError

from llmgateway.limits import LimitsConfig, RateLimits, build_limit_store
from llmgateway.limits.memory import MemoryLimitStore
from llmgateway.limits.redis_store import RedisLimitStore, redact_url


def test_rate_limits_defaults_and_unlimited() -> None:
    limits = RateLimits()
    assert limits.is_unlimited()
    assert (limits.burst, limits.max_wait) == (1, 10.0)
    assert not RateLimits(tpm=1000).is_unlimited()
    assert not RateLimits(rpm=60).is_unlimited()


@pytest.mark.parametrize("bad", [{"rpm": 0}, {"tpm": -1}, {"burst": 0}, {"max_wait": -0.1}, {"rpn": 5}])
def test_rate_limits_rejects_bad_values(bad: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        RateLimits.model_validate(bad)


def test_old_limits_fields_still_load() -> None:
    assert RateLimits.model_validate({"rpm": 600, "max_wait": 2}).rpm == 600


def test_redis_backend_needs_url() -> None:
    with pytest.raises(ValidationError, match="redis_url is not set"):
        LimitsConfig(backend="redis")


def test_star_is_the_default_key_and_model() -> None:
    config = LimitsConfig.model_validate(
        {"keys": {"*": {"rpm": 60}, "vip": {"rpm": 600}}, "models": {"chat": {"tpm": 10}}}
    )
    assert config.key_limits("vip") == RateLimits(rpm=600)
    assert config.key_limits("anyone") == RateLimits(rpm=60)
    assert config.model_limits("chat") == RateLimits(tpm=10)
    assert config.model_limits("other") is None


def test_build_limit_store() -> None:
    assert isinstance(build_limit_store(LimitsConfig()), MemoryLimitStore)
    store = build_limit_store(LimitsConfig(backend="redis", redis_url="redis://127.0.0.1:6379/0"))
    assert isinstance(store, RedisLimitStore)


def test_redact_url_hides_the_password() -> None:
    assert redact_url("redis://:s3cret@host:6380/1") == "redis://:***@host:6380/1"
    assert redact_url("redis://user:s3cret@host/0") == "redis://user:***@host/0"
    assert redact_url("redis://host:6379/0") == "redis://host:6379/0"
