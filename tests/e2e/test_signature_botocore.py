"""The component's SigV4 signature, pinned against an independent signer.

The local endpoint checks signatures with the same aws-sigv4 crate that
signs, and moto accepting a request only shows moto's reading of SigV4
agrees. Here a recording proxy in front of kinesis-local (which checks no
signature, so nothing is refused on the way) captures the raw PutRecords
requests `kinesis-host run` sends with fixed static credentials and a fixed
region, and botocore's SigV4Auth signs each captured request again: same
method, path, body, X-Amz-Date and the headers the component says it signed.
Its Authorization header must be the component's, byte for byte.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import datetime, timedelta, timezone

import botocore.auth
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from e2e_helpers import (
    check_report_shape,
    no_crash_text,
    read_stream,
    run_cli,
    target,
    write_base64_input,
    write_json_config,
)
from recording_proxy import Seen, recording_proxy

# The example credentials of AWS's SigV4 test suite: fixed, so a failure is
# reproducible; kinesis-local takes any key.
KEY = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
# '+', '/' and '=' as in real STS tokens: the header value is signed as sent.
SESSION = "FwoGZXIvYXdzEBYaDH+e2e/session+token/0123456789abcdef=="
# Not the default region: the scope must name the configured one.
REGION = "eu-west-1"
PARTITION_KEY = "sigv4-pk"
AMZ_DATE = "%Y%m%dT%H%M%SZ"

EVENTS = [b"plain ascii", "ünïcödé 🙂".encode(), b"\x00\xff\r\n binary", b'{"json": "event"}']


def signed_header_names(authorization: str) -> list[str]:
    head, _, rest = authorization.partition(" ")
    assert head == "AWS4-HMAC-SHA256", authorization
    fields = dict(part.strip().split("=", 1) for part in rest.split(","))
    return fields["SignedHeaders"].split(";")


def botocore_authorization(seen: Seen, credentials: Credentials, region: str,
                           monkeypatch: pytest.MonkeyPatch) -> str:
    """The Authorization botocore computes for the captured request, at the
    request's own X-Amz-Date, over the headers the component signed."""
    signed = signed_header_names(seen.header("authorization"))
    # botocore adds these two itself: X-Amz-Date from its clock (pinned to
    # the request's date below), X-Amz-Security-Token from the credentials.
    headers = {name: seen.header(name) for name in signed if name not in ("x-amz-date", "x-amz-security-token")}
    assert None not in headers.values(), f"signed headers that were not sent: {headers}"
    request = AWSRequest(method=seen.method, url=f"http://{seen.header('host')}{seen.path}",
                         data=seen.body, headers=headers)
    when = datetime.strptime(seen.header("x-amz-date"), AMZ_DATE)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: when)
    SigV4Auth(credentials, "kinesis", region).add_auth(request)
    return request.headers["Authorization"]


@pytest.mark.parametrize("session", [None, SESSION], ids=["static-key", "session-token"])
def test_put_records_authorization_is_what_botocore_computes(
        session, host_bin, kinesis_local, new_stream, tmp_path, monkeypatch):
    peer = dataclasses.replace(kinesis_local, key=KEY, secret=SECRET, region=REGION)
    stream = new_stream(peer, shards=1, tag="sigv4")
    input_path = write_base64_input(tmp_path / "events.b64", EVENTS)
    started = datetime.now(timezone.utc)
    with recording_proxy(peer.url) as proxy:
        t = target("sigv4", peer, stream, PARTITION_KEY)
        t["properties"]["endpoint"] = proxy.url
        if session is not None:
            t["properties"]["session"] = session
        config = write_json_config(tmp_path / "config.json", [t])
        run = run_cli(host_bin, config, input_path, input_format="base64")
    rep = check_report_shape(run)
    no_crash_text(run.stderr)
    ctx = "\n" + run.describe()
    assert run.returncode == 0 and rep["delivered"] == len(EVENTS), ctx

    puts = proxy.handed.puts()
    assert puts and all(s.status == 200 for s in puts), proxy.handed.seen
    pushed: list[bytes] = []
    for s in puts:
        # The body is the PutRecords the events make, and what was signed.
        body = json.loads(s.body)
        assert body["StreamName"] == stream, body
        assert {r["PartitionKey"] for r in body["Records"]} == {PARTITION_KEY}, body
        pushed += s.put_records_data()
        content_sha = s.header("x-amz-content-sha256")
        if content_sha is not None:
            assert content_sha == hashlib.sha256(s.body).hexdigest(), s

        # Signed now, not at some fixed or stale time.
        amz_date = datetime.strptime(s.header("x-amz-date"), AMZ_DATE).replace(tzinfo=timezone.utc)
        assert started - timedelta(minutes=5) <= amz_date <= datetime.now(timezone.utc) + timedelta(minutes=5), s
        signed = signed_header_names(s.header("authorization"))
        # What SigV4 requires signed, and what Kinesis routes on.
        assert {"host", "x-amz-date", "x-amz-target", "content-type"} <= set(signed), signed
        if session is None:
            assert s.header("x-amz-security-token") is None, s
        else:
            assert s.header("x-amz-security-token") == session and "x-amz-security-token" in signed, s

        want = botocore_authorization(s, Credentials(KEY, SECRET, session), REGION, monkeypatch)
        assert s.header("authorization") == want, f"component vs botocore for {s}"
    assert sorted(pushed) == sorted(EVENTS)
    assert sorted(r.data for r in read_stream(peer.client(), stream)) == sorted(EVENTS)
