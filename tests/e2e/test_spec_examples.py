"""The example configurations of the spec page (amazon-kinesis-target.txt,
"Examples"), each with `endpoint` pointed at kinesis-local and its stream
created there in the example's region: each configures, delivers, and what
arrived is what the example promises (partition key, normalized fields,
nothing sent for dont_send_logs).

kinesis-local does not check signatures, so the examples keep their own
example credentials. "With IAM Role" has no credentials: it runs as on an EC2
instance, against a signature-checking moto, with an instance metadata service
(credential_fakes.py) handing out a moto role's temporary credentials.
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


def event(i: int) -> dict:
    return {"source": {"ip": f"10.0.0.{i % 250}"}, "destination": {"ip": "10.0.0.2"},
            "network": {"direction": "inbound"}, "n": i}


def cim(i: int) -> dict:
    """SPEC 4's worked example: what `field_format: cim` makes of `event(i)`."""
    return {"src": f"10.0.0.{i % 250}", "dest": "10.0.0.2", "direction": "inbound", "n": i}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_spec_example_delivers_what_it_promises(name, host_bin, kinesis_local, new_stream, tmp_path: Path):
    props, pipelines = EXAMPLES[name]
    props = dict(props)
    peer = dataclasses.replace(kinesis_local, region=props["region"])
    stream = new_stream(peer, shards=2, tag=props["stream"])
    props.update(stream=stream, endpoint=peer.url)
    target = {"name": name, "type": "amazonkinesis", "properties": props}
    if pipelines:
        target["pipelines"] = pipelines
    config = write_json_config(tmp_path / "config.json", [target])
    input_path = tmp_path / "events.jsonl"
    input_path.write_text("".join(json.dumps(event(i), separators=(",", ":")) + "\n" for i in range(EVENTS)))

    run = run_cli(host_bin, config, input_path)
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
    max_events = props.get("max_events", 500)
    assert t["requests"] >= -(-EVENTS // max_events), ctx
    if "interval" in props:
        assert t["interval_s"] == 300, ctx


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
