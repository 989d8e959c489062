"""Delivery at Kinesis' own limits through `kinesis-host run`: the local
endpoint enforces 1,000 records/s and 1 MiB/s per shard (token buckets of
one second), or is down for a while; nothing may be handed back, and the
throttled attempts stay few because the target paces each shard.

The home-made endpoint is the right peer here: kinesis-local and moto enforce
no throughput limits. The wire format itself is proven against them in the
other e2e files.
"""

from __future__ import annotations

import subprocess

import pytest

import limits


def delivered_all(out: limits.Outcome, n: int) -> None:
    assert out.exit_code == 0, out.stderr[-3000:]
    assert (out.report["delivered"], out.report["failed"]) == (n, 0), out.report.get("failed_by_code")
    assert out.endpoint["records_stored"] >= n, out.endpoint


def test_two_shards_at_their_limits_take_20000_events_near_the_time_they_allow(host_bin):
    out = limits.run(host_bin, lines=limits.events(20_000), shards=2)
    delivered_all(out, 20_000)
    # 2,000 records a second, less the shards' first full second: about 9 s.
    assert out.report["elapsed_s"] <= 13.0, out.row()
    assert out.throttled <= 1_000, f"{out.throttled} throttled attempts: at most 5 %"
    shards = out.component["shards"]
    assert sorted(s["shard_id"] for s in shards) == ["shardId-000000000000", "shardId-000000000001"], shards
    assert all(s["records_sent"] >= 9_000 for s in shards), shards


def test_one_hot_key_is_paced_to_its_shard_and_the_summary_says_so(host_bin):
    out = limits.run(host_bin, lines=limits.events(6_000), shards=2, partition_key="hot")
    delivered_all(out, 6_000)
    assert out.report["elapsed_s"] <= 7.8, out.row()
    assert out.throttled <= 300, out.row()
    (shard,) = out.component["shards"]
    assert shard["at_limit_ms"] * 2 >= shard["paced_ms"], shard


def test_the_text_summary_names_a_shard_at_its_write_limit(host_bin, tmp_path):
    ep = limits.Endpoint.start(limits.endpoint_bin(host_bin), shards=2)
    try:
        config = tmp_path / "c.json"
        config.write_text(limits.json.dumps({"name": "hot", "type": "amazonkinesis", "properties": {
            "key": limits.ACCESS_KEY, "secret": limits.SECRET_KEY, "region": "us-east-1",
            "endpoint": ep.url, "stream": limits.STREAM, "partition_key": "hot"}}))
        input_path = tmp_path / "in.txt"
        input_path.write_bytes(b"\n".join(limits.events(3_000)) + b"\n")
        proc = subprocess.run([host_bin, "run", "--config", str(config), "--input", str(input_path)],
                              capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    finally:
        ep.stop()
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "was at its write limit for" in proc.stdout, proc.stdout
    assert "add shards or spread the partition keys" in proc.stdout, proc.stdout


def test_a_second_producer_taking_half_of_every_shard_costs_few_throttles(host_bin):
    out = limits.run(host_bin, lines=limits.events(10_000), shards=2, other=0.5)
    delivered_all(out, 10_000)
    assert out.throttled <= 1_500, f"{out.throttled} throttled attempts: at most 15 %"


@pytest.mark.parametrize("kind", ["503", "refuse"])
def test_an_outage_in_the_middle_of_a_run_hands_nothing_back(host_bin, kind):
    out = limits.run(host_bin, lines=limits.events(12_000), shards=2, outage=(2.0, 8.0, kind))
    delivered_all(out, 12_000)
    assert out.report["elapsed_s"] >= 8.0, out.row()
    assert out.endpoint["records_stored"] == 12_000, "nothing stored twice: no answer was lost"


def test_the_0_2_0_defaults_hand_events_back_under_the_same_limits(host_bin):
    """The contrast the defaults changed for: no pacing, three retries."""
    out = limits.run(host_bin, lines=limits.events(6_000), shards=2, partition_key="hot",
                     props=limits.DEFAULTS_0_2_0)
    assert out.exit_code == 1
    assert out.report["failed"] > 0
    assert set(out.report["failed_by_code"]) == {"ProvisionedThroughputExceededException"}
