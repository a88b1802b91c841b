"""Keep credentials out of everything the gateway writes: error messages, logs, tracebacks.

``SecretScrubber.from_config(config)`` collects every secret in a gateway config (fields whose
names say secret, values that look like credentials, passwords inside DSNs and URLs) and
``scrub(text)`` replaces them, and anything else shaped like a credential, with ``[REDACTED]``.
``install(scrubber)`` puts a ``ScrubbingFilter`` on the loggers and handlers that matter and
returns the function that takes it off again: nothing is kept at module level.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

if TYPE_CHECKING:
    from types import TracebackType

    from llmgateway.errors import GatewayError

REDACTED = "[REDACTED]"
# Shorter values are not scrubbed: a 4-letter "password" such as "test" or a key like "abc" would
# blank out every ordinary word that contains it, making logs and errors unreadable.
MIN_SECRET_LENGTH = 6
# botocore logs each signed request (with its session token) at DEBUG.
DEFAULT_LOGGERS = (
    "llmgateway", "providers", "local_backend", "uvicorn", "httpx", "httpcore", "aiohttp",
    "botocore", "google", "urllib3", "asyncpg", "redis",
)  # fmt: skip

# A field whose name has one of these words holds a secret ...
_SECRET_WORDS = frozenset(
    {"key", "apikey", "token", "secret", "password", "passwd", "pwd", "passphrase",
     "credential", "credentials", "authorization", "auth", "signature", "sig", "cookie"}
)  # fmt: skip
# ... unless it names where or what the secret is, not the secret itself.
_NOT_SECRET_ENDINGS = frozenset(
    {"file", "path", "dir", "url", "env", "name", "type", "header", "prefix", "timeout", "seconds"}
)

# Credentials recognised by their shape, wherever they appear. The first group of a match is kept
# (the words that say what follows), the rest is replaced.
_CREDENTIAL_SHAPES = (
    r"(\b(?:Bearer|Basic)\s+)[A-Za-z0-9._~+/=-]{6,}",
    r"()\bsk-[A-Za-z0-9_*.-]{6,}",  # OpenAI-style keys, also as masked echoes (sk-ab***yz)
    r"()\b(?:AKIA|ASIA)[A-Z0-9]{16}\b",  # AWS access key ids
    r"()\bya29\.[A-Za-z0-9._-]{6,}",  # Google OAuth access tokens
    r"()\bAIza[0-9A-Za-z_-]{30,}",  # Google API keys
    r"()\bhf_[A-Za-z0-9]{20,}",  # Hugging Face tokens
    r"()\bgh[pousr]_[A-Za-z0-9]{20,}",  # GitHub tokens
    # The password of a URL's userinfo: scheme://user:PASSWORD@host
    r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+(?=@)",
    # Secret query parameters: ?key=..., &api_key=..., X-Amz-Signature=...
    r"([?&](?:api[_-]?key|key|token|access[_-]?token|secret|password|sig|signature|"
    r"x-amz-signature|x-amz-credential|x-amz-security-token)=)[^&\s#\"']+",
    # "Incorrect API key provided: ...", "password=...", "secret_access_key: ..."
    r"((?:api[ _-]?key|access[ _-]?token|secret[ _-]?(?:access[ _-]?)?key|password)"
    r"(?:\s+provided)?\s*[:=]\s*[\"']?)[^\s\"',;]{6,}",
)
_CREDENTIAL = re.compile("|".join(f"(?:{shape})" for shape in _CREDENTIAL_SHAPES), re.IGNORECASE)
_CREDENTIAL_GROUPS = tuple(range(1, len(_CREDENTIAL_SHAPES) + 1))


def _keep_label(match: re.Match[str]) -> str:
    for group in _CREDENTIAL_GROUPS:
        label = match.group(group)
        if label is not None:
            return label + REDACTED
    return REDACTED


def scrub_credentials(text: str) -> str:
    """``text`` with everything shaped like a credential replaced (no config needed)."""
    return _CREDENTIAL.sub(_keep_label, text)


def is_secret_name(name: str) -> bool:
    """Whether a settings field called ``name`` holds a secret (``api_key``, ``X-Api-Key``,
    ``accessToken``, ``secret_access_key``), not a path or name of one (``credentials_file``)."""
    words = re.split(r"[^a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower())
    words = [word for word in words if word]
    if not words or words[-1] in _NOT_SECRET_ENDINGS:
        return False
    return any(word in _SECRET_WORDS or word.endswith(("apikey", "token", "secret")) for word in words)


def _from_url(value: str, out: set[str]) -> None:
    try:
        parts = urlsplit(value.strip())
        password = parts.password
    except ValueError:
        return
    if password:
        out.update((password, unquote(password)))
    for name, item in parse_qsl(parts.query):
        if is_secret_name(name):
            out.add(item)


def _from_string(value: str, secret_name: bool, out: set[str]) -> None:
    if secret_name:
        out.add(value.strip())
        scheme, _, rest = value.strip().partition(" ")
        if scheme.lower() in ("bearer", "basic", "token") and rest:
            out.add(rest.strip())
    for match in _CREDENTIAL.finditer(value):
        label = next((match.group(g) for g in _CREDENTIAL_GROUPS if match.group(g) is not None), "")
        out.add(match.group(0)[len(label) :])
    if "://" in value:
        _from_url(value, out)


def collect_secrets(value: Any, name: str = "", out: set[str] | None = None) -> set[str]:
    """Every secret value in ``value`` (a pydantic model, dicts and lists, strings)."""
    from pydantic import BaseModel, SecretBytes, SecretStr

    found: set[str] = set() if out is None else out
    if isinstance(value, SecretStr):
        found.add(value.get_secret_value())
    elif isinstance(value, SecretBytes):
        found.add(value.get_secret_value().decode("utf-8", "replace"))
    elif isinstance(value, BaseModel):
        for field in type(value).model_fields:
            collect_secrets(getattr(value, field), field, found)
        for field, item in (value.model_extra or {}).items():
            collect_secrets(item, field, found)
    elif isinstance(value, dict):
        for key, item in value.items():
            # A header or query map: {"x-api-key": "..."}; the key is the name.
            collect_secrets(item, str(key), found)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            collect_secrets(item, name, found)
    elif isinstance(value, str):
        _from_string(value, is_secret_name(name), found)
    return found


class SecretScrubber:
    """Replaces known secret values (longest first, one compiled pattern) and anything shaped like
    a credential. ``detect`` may add values found at scrub time (a PII engine's secret detector)."""

    __slots__ = ("_detect", "_known", "secrets")

    def __init__(
        self, secrets: Iterable[str] = (), *, detect: Callable[[str], Iterable[str]] | None = None
    ) -> None:
        kept = {s for s in secrets if isinstance(s, str) and len(s) >= MIN_SECRET_LENGTH}
        self.secrets: tuple[str, ...] = tuple(sorted(kept, key=lambda s: (-len(s), s)))
        self._known = re.compile("|".join(map(re.escape, self.secrets))) if self.secrets else None
        self._detect = detect

    @classmethod
    def from_config(cls, config: Any, **kwargs: Any) -> SecretScrubber:
        """Every secret in a GatewayConfig: deployment settings, server.master_key, DSN and Redis
        passwords, and any other section (guardrails' classifier key ...)."""
        if kwargs.get("detect") is None:
            kwargs["detect"] = _pii_secret_detector()
        return cls(collect_secrets(config), **kwargs)

    @classmethod
    def from_settings(cls, *settings: Any) -> SecretScrubber:
        """The secrets of one provider's settings (and any extra values, e.g. a resolved key)."""
        found: set[str] = set()
        for item in settings:
            collect_secrets(item, "", found)
        return cls(found)

    def scrub(self, text: str) -> str:
        if self._known is not None:
            text = self._known.sub(REDACTED, text)
        if self._detect is not None:
            for value in sorted(set(self._detect(text)), key=len, reverse=True):
                if len(value) >= MIN_SECRET_LENGTH:
                    text = text.replace(value, REDACTED)
        return scrub_credentials(text)

    def __call__(self, text: str) -> str:
        return self.scrub(text)


def _pii_secret_detector() -> Callable[[str], Iterable[str]]:
    """The PII engine's secret detector (every provider key format it knows, JWTs, PEM keys,
    secret assignments): the values it finds at scrub time."""
    from llmgateway.guardrails.pii.secret_patterns import SecretDetector

    detector = SecretDetector()
    return lambda text: [text[start:end] for start, end in detector.find(text)]


def scrub_strings(value: Any, scrub: Callable[[str], str]) -> Any:
    """Every string in a JSON-like value (dicts, lists), scrubbed."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {key: scrub_strings(item, scrub) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub_strings(item, scrub) for item in value]
    return value


def scrub_error_body(body: Any) -> Any:
    """An upstream's error body (JSON or text) with credential-shaped values scrubbed."""
    return scrub_strings(body, scrub_credentials)


def scrub_error(error: GatewayError, scrub: Callable[[str], str]) -> GatewayError:
    """The same error, its message, args, kept upstream body and the errors it wraps scrubbed in
    place (raise it again as it is: its type, status and chain stay)."""
    error.message = scrub(error.message)
    error.args = tuple(scrub(a) if isinstance(a, str) else a for a in error.args)
    error.body = scrub_strings(error.body, scrub)
    for inner in getattr(error, "errors", None) or ():
        if inner is not error:
            scrub_error(inner, scrub)
    return error


class ScrubbedErrors:
    """``with ScrubbedErrors(scrubber):`` scrubs any GatewayError that leaves the block. Stateless,
    so one instance serves every call of a provider, nested or concurrent."""

    __slots__ = ("_scrub",)

    def __init__(self, scrub: Callable[[str], str]) -> None:
        self._scrub = scrub

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        from llmgateway.errors import GatewayError

        if isinstance(exc, GatewayError):
            scrub_error(exc, self._scrub)


def _scrub_arg(value: Any, scrub: Callable[[str], str]) -> Any:
    if isinstance(value, (int, float)) or value is None:
        return value
    text = value if isinstance(value, str) else str(value)
    cleaned = scrub(text)
    return cleaned if (cleaned != text or isinstance(value, str)) else value


class ScrubbingFilter(logging.Filter):
    """Scrubs a record's message, exception text and stack in place (never drops a record). When
    the message changes, the arguments are scrubbed one by one so formatters that read
    ``record.args`` (uvicorn's access log) still work; if that is not enough the record carries
    the scrubbed message and no arguments."""

    def __init__(self, scrub: Callable[[str], str]) -> None:
        super().__init__()
        self._scrub = scrub

    def filter(self, record: logging.LogRecord) -> bool:
        scrub = self._scrub
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: logging reports it itself, with no secret
            record.msg, record.args = scrub(str(record.msg)), ()
            message = record.msg
        cleaned = scrub(message)
        if cleaned != message:
            self._scrub_message(record, cleaned)
        if record.exc_info is not None and record.exc_info[0] is not None:
            if not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None  # formatters print the (scrubbed) exc_text instead
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True

    def _scrub_message(self, record: logging.LogRecord, cleaned: str) -> None:
        scrub = self._scrub
        if isinstance(record.msg, str):
            record.msg = scrub(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_scrub_arg(arg, scrub) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _scrub_arg(arg, scrub) for key, arg in record.args.items()}
        try:
            again = record.getMessage()
        except Exception:
            again = None
        if again is None or scrub(again) != again:
            record.msg, record.args = cleaned, ()


def install(
    scrubber: Callable[[str], str], logger_names: Iterable[str] = DEFAULT_LOGGERS
) -> Callable[[], None]:
    """Scrub every record of these loggers (and their children) and every record the root
    handlers write. Call after logging is configured: handlers added later are not covered.
    Returns the function that removes the filter again."""
    scrub_filter = ScrubbingFilter(scrubber)
    names = tuple(logger_names)
    manager = logging.Logger.manager
    targets: dict[int, logging.Filterer] = {}
    loggers = [logging.getLogger(name) for name in names]
    # Children such as llmgateway.calls or uvicorn.access may not propagate: they have their own
    # handlers, and a filter on a logger applies only to records logged on that logger itself.
    loggers += [
        child
        for child_name, child in list(manager.loggerDict.items())
        if isinstance(child, logging.Logger) and child_name.startswith(tuple(f"{n}." for n in names))
    ]
    for logger in loggers:
        targets[id(logger)] = logger
        for handler in logger.handlers:
            targets[id(handler)] = handler
    for handler in logging.getLogger().handlers:
        targets[id(handler)] = handler
    for target in targets.values():
        target.addFilter(scrub_filter)

    def uninstall() -> None:
        for target in targets.values():
            target.removeFilter(scrub_filter)

    return uninstall
