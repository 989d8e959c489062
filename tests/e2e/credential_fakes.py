"""Small local stand-ins for the credential providers that only exist on AWS
machines: the EC2 instance metadata service (IMDSv2) and the ECS / EKS Pod
Identity container credentials endpoint. Both are simple protocols; the
credentials they hand out are real ones of a signature-checking moto, so a
wrong key or secret still fails the test.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROLE = "e2e-instance-role"
TOKEN = "imds-session-token-e2e"
ROLE_PATH = "/latest/meta-data/iam/security-credentials/"


def rfc3339(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Handed:
    """What the fake hands out and what it saw."""

    key: str
    secret: str
    session_token: str = "fake-session-token-e2e"
    lifetime: timedelta = timedelta(hours=6)
    auth_token: str | None = None  # container: required Authorization header
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    def credentials_json(self) -> bytes:
        return json.dumps({
            "Code": "Success",
            "Type": "AWS-HMAC",
            "AccessKeyId": self.key,
            "SecretAccessKey": self.secret,
            "Token": self.session_token,
            "Expiration": rfc3339(datetime.now(timezone.utc) + self.lifetime),
        }).encode()


class LocalServer:
    """A fake on 127.0.0.1 in a thread; its handler sees `handed` as `self.handed`."""

    def __init__(self, handed: object, handler: type[BaseHTTPRequestHandler]):
        handler.handed = handed
        self.handed = handed
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> "LocalServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _Quiet(BaseHTTPRequestHandler):
    handed: Handed

    def log_message(self, fmt, *args):  # keep pytest output clean
        pass

    def _answer(self, status: int, body: bytes = b"") -> None:
        self.send_response(status)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _seen(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.handed.requests.append((self.command, self.path, headers))


class _Imds(_Quiet):
    """IMDSv2 only: a GET without the session token is refused (401), as on an
    instance with `HttpTokens: required`."""

    def do_PUT(self):
        self._seen()
        if self.path == "/latest/api/token" and self.headers.get("x-aws-ec2-metadata-token-ttl-seconds"):
            self._answer(200, TOKEN.encode())
        else:
            self._answer(400)

    def do_GET(self):
        self._seen()
        if self.headers.get("x-aws-ec2-metadata-token") != TOKEN:
            self._answer(401)
        elif self.path == ROLE_PATH:
            self._answer(200, ROLE.encode())
        elif self.path == ROLE_PATH + ROLE:
            self._answer(200, self.handed.credentials_json())
        else:
            self._answer(404)


class _Container(_Quiet):
    def do_GET(self):
        self._seen()
        if self.handed.auth_token is not None and self.headers.get("authorization") != self.handed.auth_token:
            self._answer(401)
        elif self.path == "/v1/credentials":
            self._answer(200, self.handed.credentials_json())
        else:
            self._answer(404)


def imds(handed: Handed) -> LocalServer:
    return LocalServer(handed, type("Imds", (_Imds,), {}))


def container(handed: Handed) -> LocalServer:
    return LocalServer(handed, type("Container", (_Container,), {}))


WRITE_POLICY = {"Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "kinesis:*", "Resource": "*"}]}
TRUST_ANYONE = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["sts:AssumeRole", "sts:AssumeRoleWithWebIdentity"]}]}


def writer_role(moto) -> str:
    """A moto role allowed to write to Kinesis; returns its ARN."""
    iam = moto.client("iam")
    name = f"e2e-writer-{uuid.uuid4().hex[:8]}"
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST_ANYONE))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="write", PolicyDocument=json.dumps(WRITE_POLICY))
    return arn


def role_credentials(moto) -> Handed:
    """Temporary credentials of a writer role, from moto's STS: what an
    instance or container role hands out (moto refuses a session token with a
    user's long-term key)."""
    c = moto.client("sts").assume_role(RoleArn=writer_role(moto), RoleSessionName="e2e-fake-provider")["Credentials"]
    return Handed(key=c["AccessKeyId"], secret=c["SecretAccessKey"], session_token=c["SessionToken"])
