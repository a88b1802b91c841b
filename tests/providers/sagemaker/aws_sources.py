"""Local stand-ins for the AWS credential sources botocore's chain calls over HTTP: STS answering
AssumeRoleWithWebIdentity (query protocol, XML answers) and the EC2 instance metadata service
(IMDSv2: a session token first, then the role name and the role's credentials). Each runs a
ThreadingHTTPServer on 127.0.0.1 in a daemon thread and hands out numbered, expiring keys
(``ASIA<PREFIX>1``, ``ASIA<PREFIX>2``...) that the fake runtime can check signatures against."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

STS_NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
IMDS_TOKEN_PATH = "/latest/api/token"
IMDS_ROLES_PATH = "/latest/meta-data/iam/security-credentials/"


@dataclass(frozen=True)
class StsFailure:
    """One scripted STS error answer."""

    status: int
    code: str
    message: str


@dataclass
class Issuer:
    """Numbered credentials, each valid for ``lifetime`` from when it is issued."""

    prefix: str
    lifetime: timedelta
    issued: int = 0
    expiries: list[datetime] = field(default_factory=list)  # as sent: whole seconds, UTC

    def issue(self) -> dict[str, str]:
        self.issued += 1
        n = self.issued
        expires = (datetime.now(timezone.utc) + self.lifetime).replace(microsecond=0)
        self.expiries.append(expires)
        return {
            "AccessKeyId": f"ASIA{self.prefix}{n}",
            "SecretAccessKey": f"{self.prefix.lower()}-secret-{n}",
            "Token": f"{self.prefix.lower()}-token-{n}",
            "Expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }

    def keys(self, count: int) -> dict[str, tuple[str, str | None]]:
        """The first ``count`` key pairs, as the fake runtime's ``keys``."""
        p = self.prefix
        return {
            f"ASIA{p}{n}": (f"{p.lower()}-secret-{n}", f"{p.lower()}-token-{n}") for n in range(1, count + 1)
        }


@dataclass
class FakeSts:
    issuer: Issuer
    failures: list[StsFailure] = field(default_factory=list)
    calls: list[dict[str, str]] = field(default_factory=list)  # each call's form fields
    url: str = ""

    def answer(self, form: dict[str, str]) -> tuple[int, str]:
        self.calls.append(form)
        if form.get("Action") != "AssumeRoleWithWebIdentity":
            return 400, _sts_error(StsFailure(400, "InvalidAction", f"unexpected {form.get('Action')}"))
        if self.failures:
            return self.failures[0].status, _sts_error(self.failures.pop(0))
        c = self.issuer.issue()
        return 200, (
            f'<AssumeRoleWithWebIdentityResponse xmlns="{STS_NAMESPACE}">'
            "<AssumeRoleWithWebIdentityResult>"
            f"<Credentials><AccessKeyId>{c['AccessKeyId']}</AccessKeyId>"
            f"<SecretAccessKey>{c['SecretAccessKey']}</SecretAccessKey>"
            f"<SessionToken>{c['Token']}</SessionToken><Expiration>{c['Expiration']}</Expiration></Credentials>"
            f"<SubjectFromWebIdentityToken>system:serviceaccount:llm:gateway</SubjectFromWebIdentityToken>"
            f"<AssumedRoleUser><Arn>{form.get('RoleArn')}/gw</Arn><AssumedRoleId>AROA1:gw</AssumedRoleId>"
            "</AssumedRoleUser><Audience>sts.amazonaws.com</Audience>"
            "</AssumeRoleWithWebIdentityResult>"
            "<ResponseMetadata><RequestId>sts-req-1</RequestId></ResponseMetadata>"
            "</AssumeRoleWithWebIdentityResponse>"
        )


def _sts_error(failure: StsFailure) -> str:
    kind = "Receiver" if failure.status >= 500 else "Sender"
    return (
        f'<ErrorResponse xmlns="{STS_NAMESPACE}"><Error><Type>{kind}</Type><Code>{failure.code}</Code>'
        f"<Message>{failure.message}</Message></Error><RequestId>sts-req-1</RequestId></ErrorResponse>"
    )


@dataclass
class FakeImds:
    """IMDSv2 only: every metadata GET must carry the session token the PUT handed out."""

    issuer: Issuer
    role: str = "gateway-role"
    session_token: str = "imds-session-token"
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path)
    credential_fetches: int = 0
    url: str = ""

    def answer(self, method: str, path: str, headers: Any) -> tuple[int, str]:
        self.requests.append((method, path))
        if method == "PUT":
            if path != IMDS_TOKEN_PATH or not headers.get("x-aws-ec2-metadata-token-ttl-seconds"):
                return 400, ""
            return 200, self.session_token
        if headers.get("x-aws-ec2-metadata-token") != self.session_token:
            return 401, ""
        if path == IMDS_ROLES_PATH:
            return 200, self.role
        if path == IMDS_ROLES_PATH + self.role:
            self.credential_fetches += 1
            issued = self.issuer.issue()
            now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            return 200, json.dumps({"Code": "Success", "LastUpdated": now, "Type": "AWS-HMAC", **issued})
        return 404, ""


class _Handler(BaseHTTPRequestHandler):
    fake: Any  # set on the per-server subclass

    def log_message(self, format: str, *args: Any) -> None:
        return None  # keep the test output clean

    def _reply(self, status: int, text: str, content_type: str) -> None:
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # STS
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        status, text = self.fake.answer(form)
        self._reply(status, text, "text/xml")

    def do_PUT(self) -> None:  # IMDS token
        status, text = self.fake.answer("PUT", self.path, self.headers)
        self._reply(status, text, "text/plain")

    def do_GET(self) -> None:  # IMDS metadata
        status, text = self.fake.answer("GET", self.path, self.headers)
        self._reply(status, text, "text/plain")


@contextmanager
def serving(fake: FakeSts | FakeImds) -> Iterator[str]:
    """Serve ``fake`` on 127.0.0.1; yields (and sets ``fake.url`` to) its base URL."""
    handler = type("Handler", (_Handler,), {"fake": fake})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake.url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
