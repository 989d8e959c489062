"""The example configurations of the spec page (amazon-kinesis-target.txt,
"Examples"), each with `endpoint` pointed at a peer and its stream created
there in the example's region: each configures, delivers, and what arrived
is what the example promises (partition key, normalized fields, nothing sent
for dont_send_logs), in exactly as many PutRecords requests as its batch
settings make.

kinesis-local does not check signatures, so the examples with long-term keys
keep their own example credentials there. The two that are about credentials
run against a signature-checking moto: "Temporary credentials" with real
temporary credentials (key, secret, session token) of a moto role, and
"With IAM Role", which has no credentials and runs as on an EC2 instance,
with an instance metadata service (credential_fakes.py) handing out a moto
role's temporary credentials.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

import credential_fakes
from credential_fakes import role_credentials
from e2e_helpers import (
    check_report_shape,
    create_stream,
    delete_stream,
    no_crash_text,
    read_stream,
    run_cli,
    write_json_config,
)
from recording_proxy import recording_proxy

KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

# name -> (properties as on the spec page, pipelines)
EXAMPLES: dict[str, tuple[dict, list[str]]] = {
    "basic_kinesis": ({"key": KEY, "secret": SECRET, "region": "us-east-1",
                       "stream": "application-logs"}, []),
    "distributed_kinesis": ({"key": KEY, "secret": SECRET, "region": "us-east-1",
                             "stream": "distributed-logs", "partition_key": "server-01"}, []),
    "high_volume_kinesis": ({"key": KEY, "secret": SECRET, "region": "us-east-1",
                             "stream": "high-volume-logs", "partition_key": "load-balanced",
                             "max_events": 500, "timeout": 60}, []),
    "temp_creds_kinesis": ({"key": "ASIATEMP1234567890AB", "secret": "tempSecretKeyExample1234567890",
                            "session": "FwoGZXIvYXdzEBYaDH...temporary-session-token",
                            "region": "us-west-2", "stream": "temporary-logs"}, []),
    "normalized_kinesis": ({"key": KEY, "secret": SECRET, "region": "us-east-1",
                            "stream": "normalized-logs", "field_format": "cim"}, []),
    "reliable_kinesis": ({"key": KEY, "secret": SECRET, "region": "us-east-1",
                          "stream": "critical-logs", "max_events": 100}, ["checkpoint"]),
    "eu_kinesis": ({"key": KEY, "secret": SECRET, "region": "eu-west-1",
                    "stream": "eu-application-logs", "partition_key": "eu-server"}, []),
    "scheduled_kinesis": ({"key": KEY, "secret": SECRET, "region": "us-east-1",
                           "stream": "scheduled-logs", "max_events": 500, "interval": "5m"}, []),
    "debug_kinesis": ({"key": KEY, "secret": SECRET, "region": "us-east-1", "stream": "test-logs",
                       "debug": {"status": True, "dont_send_logs": True}}, []),
    "local_kinesis": ({"key": "test", "secret": "test", "region": "us-east-1",
                       "endpoint": "http://localhost:4566", "stream": "local-test-stream"}, []),
    "production_kinesis": ({"key": KEY, "secret": SECRET, "region": "us-east-1",
                            "stream": "production-logs", "partition_key": "prod-cluster-01",
                            "max_events": 500, "timeout": 60, "field_format": "cim"}, ["checkpoint"]),
}

EVENTS = 250
# SPEC: max_events defaults to 500 (PutRecords takes at most 500 records).
# The 250 small events are far from the request size limit (5 MiB), so the
# number of records per request is the only limit a batch meets.
DEFAULT_MAX_EVENTS = 500
# Run against moto with real temporary credentials (see the test below).
MOTO_EXAMPLES = {"temp_creds_kinesis"}


def event(i: int) -> dict:
    return {"source": {"ip": f"10.0.0.{i % 250}"}, "destination": {"ip": "10.0.0.2"},
            "network": {"direction": "inbound"}, "n": i}


def cim(i: int) -> dict:
    """SPEC 4's worked example: what `field_format: cim` makes of `event(i)`."""
    return {"src": f"10.0.0.{i % 250}", "dest": "10.0.0.2", "direction": "inbound", "n": i}


def _write_example(name: str, props: dict, pipelines: list[str], tmp_path: Path) -> tuple[Path, Path]:
    target = {"name": name, "type": "amazonkinesis", "properties": props}
    if pipelines:
        target["pipelines"] = pipelines
    config = write_json_config(tmp_path / "config.json", [target])
    input_path = tmp_path / "events.jsonl"
    input_path.write_text("".join(json.dumps(event(i), separators=(",", ":")) + "\n" for i in range(EVENTS)))
    return config, input_path


def _check_example_delivered(name: str, props: dict, pipelines: list[str], peer, stream: str, run) -> None:
    rep = check_report_shape(run)
    no_crash_text(run.stderr)
    ctx = "\n" + run.describe()
    assert run.returncode == 0, ctx
    (t,) = rep["targets"]
    assert t["pipelines"] == pipelines and t["region"] == props["region"], ctx
    records = read_stream(peer.client(), stream)

    if props.get("debug", {}).get("dont_send_logs"):
        assert records == [] and t["requests"] == 0, ctx
        assert t["failed_by_code"] == {"DontSendLogs": EVENTS}, ctx
        assert run.stderr.count(f"[debug] target {name}: event ") == EVENTS, ctx
        return

    assert t["delivered"] == EVENTS, ctx
    assert {r.partition_key for r in records} == {props.get("partition_key", "default")}, ctx
    want = [cim(i) if props.get("field_format") == "cim" else event(i) for i in range(EVENTS)]
    got = sorted((json.loads(r.data) for r in records), key=lambda e: e["n"])
    assert got == want, ctx
    # Full batches of max_events, one request each, and no retry: fewer
    # would mean batches over max_events, more would mean split or resent
    # batches. (The scheduled example's first run, right after start, has
    # all 250 events already: the CLI pushes up to 500 lines at a time.)
    max_events = props.get("max_events", DEFAULT_MAX_EVENTS)
    assert (t["requests"], rep["retries"]) == (-(-EVENTS // max_events), 0), ctx
    if "interval" in props:
        assert t["interval_s"] == 300, ctx


@pytest.mark.parametrize("name", sorted(set(EXAMPLES) - MOTO_EXAMPLES))
def test_spec_example_delivers_what_it_promises(name, host_bin, kinesis_local, new_stream, tmp_path: Path):
    props, pipelines = EXAMPLES[name]
    props = dict(props)
    peer = dataclasses.replace(kinesis_local, region=props["region"])
    stream = new_stream(peer, shards=2, tag=props["stream"])
    props.update(stream=stream, endpoint=peer.url)
    config, input_path = _write_example(name, props, pipelines, tmp_path)
    run = run_cli(host_bin, config, input_path)
    _check_example_delivered(name, props, pipelines, peer, stream, run)


def test_spec_example_with_temporary_credentials_delivers_signed_with_the_session_token(
        host_bin, moto, new_stream, tmp_path: Path):
    """The example's key, secret and session token, replaced by real
    temporary credentials of a moto role, against moto in the example's
    region: moto checks the signature and that the token is the one issued
    with the key (an ASIA key without a token is refused). A recording proxy
    in front of moto shows the token went in every request's signed headers."""
    name = "temp_creds_kinesis"
    props, pipelines = EXAMPLES[name]
    assert props.keys() >= {"key", "secret", "session"}, props
    handed = role_credentials(moto)
    assert handed.key.startswith("ASIA") and handed.session_token, handed
    peer = dataclasses.replace(moto, region=props["region"])
    stream = new_stream(peer, shards=2, tag=props["stream"])
    with recording_proxy(peer.url) as proxy:
        props = dict(props, key=handed.key, secret=handed.secret, session=handed.session_token,
                     stream=stream, endpoint=proxy.url)
        config, input_path = _write_example(name, props, pipelines, tmp_path)
        run = run_cli(host_bin, config, input_path)
    _check_example_delivered(name, props, pipelines, peer, stream, run)
    puts = proxy.handed.puts()
    assert puts and all(s.status == 200 for s in puts), proxy.handed.seen
    for s in puts:
        assert s.header("x-amz-security-token") == handed.session_token, s
        auth = s.header("authorization") or ""
        assert f"Credential={handed.key}/" in auth and f"/{props['region']}/kinesis/aws4_request" in auth, auth
        signed = auth.split("SignedHeaders=", 1)[1].split(",", 1)[0].split(";")
        assert "x-amz-security-token" in signed, auth


def test_spec_example_with_iam_role_delivers_with_instance_role_credentials(host_bin, moto, tmp_path: Path):
    name, stream = "iam_kinesis", "application-logs"
    target = {"name": name, "type": "amazonkinesis",
              "properties": {"region": "us-east-1", "stream": stream, "endpoint": moto.url}}
    client = moto.client()
    create_stream(client, stream, shards=1)
    try:
        handed = role_credentials(moto)
        with credential_fakes.imds(handed) as fake:
            config = write_json_config(tmp_path / "config.json", [target])
            input_path = tmp_path / "events.txt"
            input_path.write_text("".join(json.dumps(event(i)) + "\n" for i in range(EVENTS)))
            env = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": fake.url, "AWS_ACCESS_KEY_ID": "",
                   "AWS_WEB_IDENTITY_TOKEN_FILE": "", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "",
                   "AWS_CONTAINER_CREDENTIALS_FULL_URI": "", "AWS_EC2_METADATA_DISABLED": ""}
            run = run_cli(host_bin, config, input_path, env=env)
        rep = check_report_shape(run)
        ctx = "\n" + run.describe()
        no_crash_text(run.stderr)
        assert (run.returncode, rep["delivered"]) == (0, EVENTS), ctx
        records = read_stream(client, stream)
        assert {r.partition_key for r in records} == {"default"}, ctx
        got = sorted((json.loads(r.data) for r in records), key=lambda e: e["n"])
        assert got == [event(i) for i in range(EVENTS)], ctx
        assert handed.requests and handed.requests[0][:2] == ("PUT", "/latest/api/token"), handed.requests
    finally:
        delete_stream(client, stream)
