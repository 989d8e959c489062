"""A recording HTTP proxy on 127.0.0.1 for the end-to-end tests.

Put between the component (its target's `endpoint`) and a peer, it passes
every request through unchanged, Host header and all, so a signature-checking
peer still accepts it, and keeps each exchange: when it arrived, the raw
request (method, path, headers as sent, body) and the answer. Tests use it to
see what went over the wire and when, which the peer's end state cannot show.
"""

from __future__ import annotations

import base64
import http.client
import json
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from credential_fakes import LocalServer


@dataclass(repr=False)
class Seen:
    """One exchange through the proxy."""

    at: float  # time.monotonic() when the request had arrived
    method: str
    path: str
    headers: list[tuple[str, str]]  # as sent: names in the sender's case, in order
    body: bytes
    status: int
    answer_type: str
    answer: bytes

    def __repr__(self) -> str:  # short: bodies can be megabytes
        return (f"Seen(at={self.at:.3f}, {self.operation or self.method + ' ' + self.path}, "
                f"{self.content_type!r}, {self.body_bytes} B -> {self.status} {self.answer_type!r}, "
                f"{self.answer[:120]!r})")

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        assert len(values) <= 1, f"header {name} sent {len(values)} times: {values}"
        return values[0] if values else None

    @property
    def operation(self) -> str:
        return (self.header("x-amz-target") or "").rsplit(".", 1)[-1]

    @property
    def content_type(self) -> str:
        return self.header("content-type") or ""

    @property
    def body_bytes(self) -> int:
        return len(self.body)

    @property
    def stream(self) -> str | None:
        """`StreamName` of a JSON request body."""
        return json.loads(self.body).get("StreamName") if self.body else None

    def put_records_data(self) -> list[bytes]:
        """The `Data` of each record of a JSON PutRecords body."""
        return [base64.b64decode(r["Data"]) for r in json.loads(self.body)["Records"]]


@dataclass
class Recorder:
    upstream: str
    seen: list[Seen] = field(default_factory=list)

    def wait_quiet(self, quiet: float, timeout: float = 60.0) -> None:
        """Returns once no request has come for `quiet` s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            n = len(self.seen)
            time.sleep(quiet)
            if len(self.seen) == n:
                return
        raise AssertionError(f"requests still coming after {timeout}s: {self.seen[-5:]}")

    def puts(self, stream: str | None = None) -> list[Seen]:
        """The PutRecords requests so far (to `stream` only, if given; JSON bodies)."""
        return [s for s in list(self.seen)
                if s.operation == "PutRecords" and (stream is None or s.stream == stream)]


class _Forward(BaseHTTPRequestHandler):
    handed: Recorder

    def log_message(self, fmt, *args):  # keep pytest output clean
        pass

    def do_POST(self):
        recorder = self.handed
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        at = time.monotonic()
        up = urlsplit(recorder.upstream)
        conn = http.client.HTTPConnection(up.hostname, up.port, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "content-length")}
        conn.request("POST", self.path, body=body, headers=headers)
        answer = conn.getresponse()
        data = answer.read()
        recorder.seen.append(Seen(at, self.command, self.path, list(self.headers.items()), body,
                                  answer.status, answer.getheader("content-type", ""), data))
        self.send_response(answer.status)
        for k, v in answer.getheaders():
            if k.lower() not in ("connection", "content-length", "transfer-encoding", "date", "server"):
                self.send_header(k, v)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        conn.close()


def recording_proxy(upstream: str) -> LocalServer:
    """Forwards every request to `upstream` unchanged; `.handed.seen` lists them."""
    return LocalServer(Recorder(upstream), type("Forward", (_Forward,), {}))
