"""KPL aggregation end to end (issue 6): 10,000 events of about 100 bytes with
several partition keys go through `kinesis-host run` with `aggregation: true`
into a 4-shard stream on kinesis-local; the stream is read back and
deaggregated with `aws-kinesis-agg`, the reference decoder.

Exactly the events pushed come back, in order per partition key, nothing
missing, nothing extra; each Kinesis record holds only events of the shard it
is in (the KCL drops the others); and there are at least 50 times fewer
Kinesis records than events. Run in both protocols: JSON 1.1 and CBOR
(`protocol: cbor`, the aggregates as raw byte strings).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import defaultdict

import pytest
from aws_kinesis_agg.deaggregator import iter_deaggregate_records

from e2e_helpers import check_report_shape, no_crash_text, read_stream, run_cli, target, write_json_config

EVENTS = 10_000
EVENT_BYTES = 100
HOSTS = [f"web-{i}" for i in range(8)]


def _events() -> list[bytes]:
    events = []
    for i in range(EVENTS):
        head = json.dumps({"host": HOSTS[i * 7 % len(HOSTS)], "seq": i}, separators=(",", ":"))[:-1]
        pad = EVENT_BYTES - len(head) - len(',"msg":""}')
        events.append(f'{head},"msg":"{"x" * pad}"}}'.encode())
    assert all(len(e) == EVENT_BYTES for e in events)
    return events


def _hash_key(partition_key: str) -> int:
    return int.from_bytes(hashlib.md5(partition_key.encode()).digest(), "big")


@pytest.mark.parametrize("protocol", ["json", "cbor"])
def test_kinesis_local_aggregated_events_deaggregate_to_exactly_what_was_pushed(
        host_bin, kinesis_local, new_stream, tmp_path, protocol):
    stream = new_stream(kinesis_local, shards=4, tag="aggregation")
    events = _events()
    input_path = tmp_path / "events.txt"
    input_path.write_bytes(b"\n".join(events) + b"\n")
    agg = target("agg", kinesis_local, stream, "{{host}}")
    agg["properties"]["aggregation"] = True
    agg["properties"]["protocol"] = protocol
    # One request at a time: the order per key is then promised (README, Ordering).
    agg["properties"]["max_in_flight"] = 1
    config = write_json_config(tmp_path / "config.json", [agg])

    run = run_cli(host_bin, config, input_path)
    rep = check_report_shape(run)
    ctx = "\n" + run.describe()
    no_crash_text(run.stderr)
    assert run.returncode == 0 and rep["delivered"] == EVENTS and rep["failed"] == 0, ctx
    assert "ListShards failed" not in run.stderr, "grouped by key, not by shard" + ctx

    client = kinesis_local.client()
    records = read_stream(client, stream)
    assert records, ctx
    assert len(records) * 50 <= EVENTS, f"{len(records)} Kinesis records for {EVENTS} events" + ctx

    ranges = {}
    for page in client.get_paginator("list_shards").paginate(StreamName=stream):
        for s in page["Shards"]:
            r = s["HashKeyRange"]
            ranges[s["ShardId"]] = (int(r["StartingHashKey"]), int(r["EndingHashKey"]))

    by_key: dict[str, list[int]] = defaultdict(list)
    got: list[bytes] = []
    aggregated = 0
    for r in records:
        boto3_record = {"SequenceNumber": r.sequence_number, "PartitionKey": r.partition_key,
                        "ApproximateArrivalTimestamp": 0, "Data": r.data}
        users = list(iter_deaggregate_records(boto3_record, data_format="Boto3"))
        start, end = ranges[r.shard_id]
        for u in users:
            k = u["kinesis"]
            if k.get("aggregated"):
                aggregated += 1
                data = base64.b64decode(k["data"])
            else:
                data = k["data"]
            # What the KCL keeps: user records whose hash key is in the shard's range.
            hash_key = int(k["explicitHashKey"]) if k.get("explicitHashKey") else _hash_key(k["partitionKey"])
            assert start <= hash_key <= end, f"an event of {k['partitionKey']} in {r.shard_id}" + ctx
            event = json.loads(data)
            assert k["partitionKey"] == event["host"], (k["partitionKey"], event)
            by_key[k["partitionKey"]].append(event["seq"])
            got.append(data)

    assert aggregated >= EVENTS - len(records), f"only {aggregated} events came in aggregates"
    assert len(got) == EVENTS, f"{len(got)} events read back, {EVENTS} pushed" + ctx
    assert sorted(got) == sorted(events), "not exactly the events pushed" + ctx
    for host in HOSTS:
        pushed = [i for i in range(EVENTS) if HOSTS[i * 7 % len(HOSTS)] == host]
        assert by_key[host] == pushed, f"{host}: not in the order pushed"
