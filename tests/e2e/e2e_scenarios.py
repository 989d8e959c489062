"""End-to-end scenarios run against each peer (test_kinesis_local.py, test_moto.py)."""

from __future__ import annotations

import random
import time
from pathlib import Path

from e2e_helpers import (
    RECORD_LIMIT,
    RECORD_TOO_LARGE,
    Peer,
    assert_stream_holds_exactly,
    check_report_shape,
    mixed_events,
    no_crash_text,
    read_stream,
    run_cli,
    start_cli,
    target,
    wait_until,
    write_base64_input,
    write_json_config,
    write_yaml_config,
)
from recording_proxy import recording_proxy

PARTITION_KEY = "e2e-pk-1"


def mixed_binary_events_with_one_oversized(host_bin: str, peer: Peer, new_stream,
                                           tmp_path: Path, seed: int) -> None:
    """~2,000 events (1 B .. 1 MiB, text and binary) as base64 lines, one over
    the record limit: exactly that one fails with RecordTooLarge, the rest
    arrive exactly once, byte for byte, with the configured partition key."""
    stream = new_stream(peer, shards=2)
    es = mixed_events(seed, PARTITION_KEY, count=2000)
    assert len(es.events) == 2001
    (oversized_id,) = es.oversized_ids
    assert len(es.events[oversized_id - 1]) + len(PARTITION_KEY) == RECORD_LIMIT + 1

    input_path = write_base64_input(tmp_path / "events.b64", es.events)
    # A second target that must not be used: --target selects only "e2e".
    # Its stream does not exist, so any event sent to it would show up as a
    # failure.
    config = write_json_config(tmp_path / "config.json", [
        target("e2e", peer, stream, PARTITION_KEY),
        target("decoy", peer, stream + "-does-not-exist", PARTITION_KEY),
    ])

    run = run_cli(host_bin, config, input_path, input_format="base64", target_name="e2e")
    rep = check_report_shape(run)
    no_crash_text(run.stderr)
    ctx = "\n" + run.describe()

    assert run.returncode == 1, "one event failed, so the exit code must be 1" + ctx
    assert rep["events"] == len(es.events), ctx
    assert rep["failed"] == 1, ctx
    assert rep["delivered"] == len(es.events) - 1, ctx
    assert rep["failed_by_code"] == {RECORD_TOO_LARGE: 1}, ctx
    assert len(rep["failures"]) == 1, ctx
    failure = rep["failures"][0]
    assert failure["id"] == oversized_id, ctx
    assert failure["code"] == RECORD_TOO_LARGE, ctx
    assert failure["target"] == "e2e", ctx
    assert failure["retryable"] is False, ctx
    assert rep["requests"] >= 1, ctx
    # Every delivered byte went over the wire at least once (base64 in JSON).
    assert rep["bytes_sent"] >= sum(len(e) for e in es.deliverable()), ctx
    assert [t["name"] for t in rep["targets"]] == ["e2e"], ctx
    (t,) = rep["targets"]
    # The report names the URL requests go to: the endpoint with path "/".
    assert t["stream"] == stream and t["endpoint"] == peer.url.rstrip("/") + "/", ctx
    assert (t["delivered"], t["failed"]) == (len(es.events) - 1, 1), ctx

    records = read_stream(peer.client(), stream)
    assert_stream_holds_exactly(records, es.deliverable(), PARTITION_KEY, what=stream)
    assert any(len(r.data) + len(PARTITION_KEY) == RECORD_LIMIT for r in records)


def lines_to_two_targets(host_bin: str, peer: Peer, new_stream, tmp_path: Path,
                         seed: int) -> None:
    """A few hundred text lines (`lines` format, YAML config with ${VAR}
    secrets) to two targets on two streams: each stream gets every line once.
    The first target keeps up to 16 small requests in flight at once."""
    rng = random.Random(seed)
    stream_a = new_stream(peer, shards=1, tag="lines-a")
    stream_b = new_stream(peer, shards=3, tag="lines-b")

    words = ["alpha", "beta", "gamma", "δέλτα", "ε", "日本語", "🙂", "naïve", "Ünïcödé",
             "tab\there", "quote\"d", "back\\slash", "{json:1}", "=", "  lead", "trail  "]
    lines: list[str] = []
    for i in range(300):
        n = rng.randint(1, 12)
        lines.append(f"{i:04d} " + " ".join(rng.choice(words) for _ in range(n)))
    lines[7] = " " * 3  # whitespace only: not empty, must be kept as is
    lines[8] = "x" * 20000  # a long line

    raw = bytearray()
    for i, line in enumerate(lines):
        raw += line.encode("utf-8")
        raw += b"\r\n" if i % 3 == 0 else b"\n"  # CRLF: the \r is stripped too
        if i in (10, 150):
            raw += b"\n"  # empty lines are skipped
        if i == 200:
            raw += b"\r\n"  # empty after stripping \r: skipped
    input_path = tmp_path / "events.txt"
    input_path.write_bytes(bytes(raw))  # last line ends with a newline

    secret_env = {"E2E_PEER_KEY": peer.key, "E2E_PEER_SECRET": peer.secret}
    config = write_yaml_config(tmp_path / "config.yaml", [
        target("first", peer, stream_a, "pk-first", key="${E2E_PEER_KEY}",
               secret="${E2E_PEER_SECRET}", max_events=37, max_in_flight=16),
        target("second", peer, stream_b, "pk-second", key="${E2E_PEER_KEY}",
               secret="${E2E_PEER_SECRET}"),
    ])

    run = run_cli(host_bin, config, input_path, input_format="lines", env=secret_env)
    rep = check_report_shape(run)
    no_crash_text(run.stderr)
    ctx = "\n" + run.describe()

    assert run.returncode == 0, ctx
    assert rep["failed"] == 0 and rep["failures"] == [] and rep["failed_by_code"] == {}, ctx
    # Per target: every non-empty line delivered. (How the top-level
    # "delivered" and "events" count deliveries to several targets and
    # skipped empty lines is not pinned here.)
    by_name = {t["name"]: t for t in rep["targets"]}
    assert set(by_name) == {"first", "second"}, ctx
    for name, stream in (("first", stream_a), ("second", stream_b)):
        assert by_name[name]["stream"] == stream, ctx
        assert (by_name[name]["delivered"], by_name[name]["failed"]) == (len(lines), 0), ctx

    expected = [line.encode("utf-8") for line in lines]
    assert_stream_holds_exactly(read_stream(peer.client(), stream_a), expected, "pk-first",
                                what=f"{stream_a} (target first)")
    assert_stream_holds_exactly(read_stream(peer.client(), stream_b), expected, "pk-second",
                                what=f"{stream_b} (target second)")


# Scheduled targets, watched through a recording proxy that timestamps each
# request while the CLI reads an open pipe. A realtime "sentinel" target gets
# the same lines: its full batches go out as soon as the CLI has pushed them,
# so a quiet window is only watched after the scheduled target had its chance
# to send (a slow start-up cannot make the window pass by itself).
# Bound on "right after start", from spawning the CLI, start-up included
# (tens of ms here; slack for a loaded machine): the target's next run,
# `interval: 1h`, is an hour away.
FIRST_RUN_WITHIN = 5.0
# How long the proxy must stay quiet for a run to count as finished.
SETTLE = 1.0
# How long a scheduled target is watched after the sentinel sent.
WATCH = 2.0


def _through(proxy, t: dict) -> dict:
    t["properties"]["endpoint"] = proxy.url
    return t


def _line_bytes(lines: list[str]) -> bytes:
    return "".join(line + "\n" for line in lines).encode()


def _sent(puts) -> list[bytes]:
    return [d for s in puts for d in s.put_records_data()]


def scheduled_target_runs_right_after_start_and_sends_the_rest_at_end_of_input(
        host_bin: str, peer: Peer, new_stream, tmp_path: Path) -> None:
    """A target with `interval: 1h` has its first run right after start: the
    lines written before it started are sent while the input stays open, all
    of them (a run drains the queue).
    Then, its next run an hour away, it sends nothing, not even a full batch,
    until the input ends and the CLI flushes the rest: every line is sent
    once and arrives once, and the report says the target was scheduled."""
    stream = new_stream(peer, shards=1, tag="interval")
    sentinel_stream = new_stream(peer, shards=1, tag="interval-sentinel")
    lines = [f"scheduled {i:03d}" for i in range(120)]
    first, rest = lines[:60], lines[60:]
    with recording_proxy(peer.url) as proxy:
        seen = proxy.handed
        t = _through(proxy, target("hourly", peer, stream, "pk-hourly", max_events=50))
        t["properties"]["interval"] = "1h"
        sentinel = _through(proxy, target("sentinel", peer, sentinel_stream, "pk-sentinel", max_events=50))
        config = write_json_config(tmp_path / "config.json", [t, sentinel])
        with start_cli(host_bin, config) as cli:
            cli.write(_line_bytes(first))
            assert wait_until(lambda: seen.puts(stream), FIRST_RUN_WITHIN), (
                f"no PutRecords of the interval target within {FIRST_RUN_WITHIN}s of start: "
                f"its first run was not right after start; requests: {seen.seen}")
            seen.wait_quiet(SETTLE)
            first_run = seen.puts(stream)
            sent_first = _sent(first_run)
            # SPEC 5: the run drains the queue: all 60 lines written before
            # start (one write, one push), in requests of at most 50.
            assert sorted(sent_first) == sorted(_line_bytes(first).splitlines()), sent_first

            # With what the first run left queued: more than a full batch.
            sentinel_before = len(seen.puts(sentinel_stream))
            cli.write(_line_bytes(rest))
            assert wait_until(lambda: len(seen.puts(sentinel_stream)) > sentinel_before, FIRST_RUN_WITHIN), (
                f"the realtime sentinel sent nothing of the rest: was it pushed? {seen.seen}")
            time.sleep(WATCH)
            during = seen.puts(stream)[len(first_run):]
            assert during == [], f"the interval target sent between its runs: {during}"
            assert cli.running(), "the CLI ended before its input did"
            closed_at = time.monotonic()
            run = cli.finish()
    rep = check_report_shape(run)
    ctx = "\n" + run.describe()
    assert run.returncode == 0, ctx
    by_name = {s["name"]: s for s in rep["targets"]}
    summary = by_name["hourly"]
    assert summary["interval_s"] == 3600, ctx
    assert (summary["delivered"], summary["failed"]) == (len(lines), 0), ctx
    assert (by_name["sentinel"]["delivered"], by_name["sentinel"]["failed"]) == (len(lines), 0), ctx
    flushed = seen.puts(stream)[len(first_run):]
    assert flushed and all(s.at >= closed_at for s in flushed), f"{first_run} then {flushed}"
    assert sorted(sent_first + _sent(flushed)) == sorted(ln.encode() for ln in lines), \
        "each line sent once: in the first run or at the flush"
    assert_stream_holds_exactly(read_stream(peer.client(), stream), [ln.encode() for ln in lines],
                                "pk-hourly", what=stream)


def cron_target_sends_nothing_during_the_run_and_everything_at_end_of_input(
        host_bin: str, peer: Peer, new_stream, tmp_path: Path) -> None:
    """A target with `cron` at a minute about half an hour away (and an
    `interval` it overrides, whose first run would be at start) sends
    nothing while the input stays open, not even full batches, and
    everything at end of input: every line arrives once, and the report
    names the cron."""
    stream = new_stream(peer, shards=1, tag="cron")
    sentinel_stream = new_stream(peer, shards=1, tag="cron-sentinel")
    lines = [f"cron {i:03d}" for i in range(120)]
    minute = (int(time.time()) // 60 + 30) % 60
    with recording_proxy(peer.url) as proxy:
        seen = proxy.handed
        t = _through(proxy, target("by-cron", peer, stream, "pk-cron", max_events=50))
        t["properties"].update(cron=f"{minute} * * * *", cron_utc_offset="+02:00", interval="5m")
        sentinel = _through(proxy, target("sentinel", peer, sentinel_stream, "pk-sentinel", max_events=50))
        config = write_json_config(tmp_path / "config.json", [t, sentinel])
        with start_cli(host_bin, config) as cli:
            cli.write(_line_bytes(lines))  # more than two full batches
            assert wait_until(lambda: seen.puts(sentinel_stream), FIRST_RUN_WITHIN), (
                f"the realtime sentinel sent nothing: were the lines pushed? {seen.seen}")
            time.sleep(WATCH)
            during = seen.puts(stream)
            assert during == [], f"the cron target sent before its minute: {during}"
            assert cli.running(), "the CLI ended before its input did"
            closed_at = time.monotonic()
            run = cli.finish()
    rep = check_report_shape(run)
    ctx = "\n" + run.describe()
    assert run.returncode == 0, ctx
    by_name = {s["name"]: s for s in rep["targets"]}
    summary = by_name["by-cron"]
    assert summary["interval_s"] is None, ctx
    assert summary["cron"] == f"{minute} * * * * (UTC offset +02:00)", ctx
    assert (summary["delivered"], summary["failed"]) == (len(lines), 0), ctx
    assert (by_name["sentinel"]["delivered"], by_name["sentinel"]["failed"]) == (len(lines), 0), ctx
    flushed = seen.puts(stream)
    assert flushed and all(s.at >= closed_at for s in flushed), flushed
    assert sorted(_sent(flushed)) == sorted(ln.encode() for ln in lines), "each line sent once, at the flush"
    assert_stream_holds_exactly(read_stream(peer.client(), stream), [ln.encode() for ln in lines],
                                "pk-cron", what=stream)


def partition_keys_from_event_fields(host_bin: str, peer: Peer, new_stream, tmp_path: Path) -> None:
    """`partition_key: "{{host}}-{{app|none}}"` renders each event's own key:
    every record arrives once, under the key its fields give, spread over
    the shards the peer maps those keys to."""
    import json

    stream = new_stream(peer, shards=4, tag="keys")
    events = []
    for i in range(300):
        event = {"host": f"h{i % 7}", "n": i}
        if i % 2:
            event["app"] = "api"
        events.append(json.dumps(event, separators=(",", ":")))
    events.append("not json")
    input_path = tmp_path / "events.txt"
    input_path.write_text("\n".join(events) + "\n")
    config = write_json_config(tmp_path / "config.json", [
        target("keys", peer, stream, "{{host}}-{{app|none}}", max_events=60, max_in_flight=4)])

    run = run_cli(host_bin, config, input_path)
    rep = check_report_shape(run)
    ctx = "\n" + run.describe()
    assert run.returncode == 0 and rep["delivered"] == len(events), ctx

    records = read_stream(peer.client(), stream)
    assert sorted(r.data.decode() for r in records) == sorted(events), ctx
    for r in records:
        if r.data == b"not json":
            assert r.partition_key == "-none", r
            continue
        event = json.loads(r.data)
        assert r.partition_key == f"{event['host']}-{event.get('app', 'none')}", r
    assert len({r.shard_id for r in records}) > 1, "15 distinct keys all landed on one shard"


def debug_logs_every_event_and_dont_send_logs_sends_nothing(host_bin: str, peer: Peer, new_stream,
                                                            tmp_path: Path) -> None:
    """`debug.status` logs each event on stderr with the target's name; with
    `dont_send_logs` nothing reaches the stream and the run still exits 0.
    No line the CLI prints carries the secret or a signature."""
    stream = new_stream(peer, shards=1, tag="debug")
    lines = [f"debug event {i} \u00fc" for i in range(40)]
    input_path = tmp_path / "events.txt"
    input_path.write_text("\n".join(lines) + "\n")
    logged = target("logged", peer, stream, "pk-debug")
    logged["properties"]["debug"] = {"status": True}
    dry = target("dry", peer, stream + "-absent", "pk-dry")
    dry["properties"]["debug"] = {"status": True, "dont_send_logs": True}
    config = write_json_config(tmp_path / "config.json", [logged, dry])

    run = run_cli(host_bin, config, input_path)
    rep = check_report_shape(run)
    ctx = "\n" + run.describe()
    assert run.returncode == 0, ctx
    by_name = {t["name"]: t for t in rep["targets"]}
    assert by_name["logged"]["delivered"] == len(lines), ctx
    assert by_name["dry"]["failed_by_code"] == {"DontSendLogs": len(lines)}, ctx
    assert by_name["dry"]["requests"] == 0, ctx
    for name in ("logged", "dry"):
        for i, line in enumerate(lines, start=1):
            assert f"[debug] target {name}: event {i}: {line}" in run.stderr, (name, i, ctx)
    for text in (run.stdout, run.stderr):
        assert peer.secret not in text and "Signature=" not in text, ctx
    assert_stream_holds_exactly(read_stream(peer.client(), stream), [ln.encode() for ln in lines],
                                "pk-debug", what=stream)
