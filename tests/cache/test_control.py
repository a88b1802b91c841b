import pytest

from llmgateway.cache.control import CacheControl
from llmgateway.errors import BadRequestError


def test_parse_forms() -> None:
    assert CacheControl.parse(None) == CacheControl()
    assert CacheControl.parse("skip").mode == "skip"
    assert CacheControl.parse("No-Store").mode == "no-store"
    assert CacheControl.parse("no-cache").mode == "refresh"
    assert CacheControl.parse("refresh, ttl=60") == CacheControl("refresh", 60.0)
    assert CacheControl.parse({"mode": "no-store", "ttl": 5}) == CacheControl("no-store", 5.0)
    assert CacheControl.parse(False).mode == "skip"
    control = CacheControl("refresh")
    assert CacheControl.parse(control) is control


def test_reads_and_writes() -> None:
    table = {
        m: (CacheControl(m).reads, CacheControl(m).writes) for m in ("default", "skip", "refresh", "no-store")
    }
    assert table == {
        "default": (True, True),
        "skip": (False, False),
        "refresh": (False, True),
        "no-store": (True, False),
    }


@pytest.mark.parametrize("bad", ["sometimes", "ttl=-1", "ttl=abc", "foo=1", {"mode": "x"}, {"when": 1}, 3])
def test_bad_values_are_clear_errors(bad: object) -> None:
    with pytest.raises(BadRequestError, match="cache control"):
        CacheControl.parse(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("ttl", ["inf", "1e400", "Infinity", "1e300", str(10 * 365 * 86400 + 1)])
def test_a_ttl_no_store_can_hold_is_refused(ttl: str) -> None:
    with pytest.raises(BadRequestError, match="at most"):
        CacheControl.parse(f"ttl={ttl}")
    with pytest.raises(BadRequestError):
        CacheControl.parse({"ttl": float(ttl)})
    assert CacheControl.parse(f"ttl={10 * 365 * 86400}").ttl == 10 * 365 * 86400
