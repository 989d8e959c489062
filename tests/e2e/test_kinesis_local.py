"""The CLI against kinesis-local (kinesis-mock, the engine LocalStack uses)."""

import subprocess
import time

from e2e_helpers import parse_report, read_stream, target, write_json_config
from e2e_scenarios import (
    cron_target_sends_nothing_during_the_run_and_everything_at_end_of_input,
    debug_logs_every_event_and_dont_send_logs_sends_nothing,
    lines_to_two_targets,
    mixed_binary_events_with_one_oversized,
    partition_keys_from_event_fields,
    scheduled_target_runs_right_after_start_and_sends_the_rest_at_end_of_input,
)


def test_kinesis_local_mixed_binary_events_one_oversized_rest_exactly_once(
        host_bin, kinesis_local, new_stream, tmp_path):
    mixed_binary_events_with_one_oversized(host_bin, kinesis_local, new_stream, tmp_path,
                                           seed=20240611)


def test_kinesis_local_lines_two_targets_each_stream_gets_every_line_once(
        host_bin, kinesis_local, new_stream, tmp_path):
    lines_to_two_targets(host_bin, kinesis_local, new_stream, tmp_path, seed=7)


def test_kinesis_local_scheduled_target_runs_right_after_start_and_sends_the_rest_at_end_of_input(
        host_bin, kinesis_local, new_stream, tmp_path):
    scheduled_target_runs_right_after_start_and_sends_the_rest_at_end_of_input(
        host_bin, kinesis_local, new_stream, tmp_path)


def test_kinesis_local_cron_target_sends_nothing_during_the_run_and_everything_at_end_of_input(
        host_bin, kinesis_local, new_stream, tmp_path):
    cron_target_sends_nothing_during_the_run_and_everything_at_end_of_input(
        host_bin, kinesis_local, new_stream, tmp_path)


def test_kinesis_local_partition_keys_from_event_fields(host_bin, kinesis_local, new_stream, tmp_path):
    partition_keys_from_event_fields(host_bin, kinesis_local, new_stream, tmp_path)


def test_kinesis_local_debug_logs_every_event_and_dont_send_logs_sends_nothing(
        host_bin, kinesis_local, new_stream, tmp_path):
    debug_logs_every_event_and_dont_send_logs_sends_nothing(host_bin, kinesis_local, new_stream, tmp_path)


def test_kinesis_local_batch_timeout_delivers_while_input_stays_open(host_bin, kinesis_local, new_stream, tmp_path):
    """A realtime target with `batch_timeout` sends a batch that is not full
    while `kinesis-host run` still reads an open pipe, then exits 0 at its end."""
    stream = new_stream(kinesis_local, shards=1, tag="batch-timeout")
    t = target("tail", kinesis_local, stream, "pk")
    t["properties"]["batch_timeout"] = 0.5
    config = write_json_config(tmp_path / "config.json", [t])
    proc = subprocess.Popen([host_bin, "run", "--config", str(config), "--input", "-", "--report", "json"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        proc.stdin.write(b"".join(b"line %d\n" % i for i in range(5)))
        proc.stdin.flush()
        deadline = time.monotonic() + 30
        records = []
        while time.monotonic() < deadline and len(records) < 5:
            time.sleep(0.5)
            records = read_stream(kinesis_local.client(), stream, idle_polls=1)
        assert proc.poll() is None, "still reading its input"
        assert sorted(r.data for r in records) == [b"line %d" % i for i in range(5)]
        out, err = proc.communicate(timeout=60)  # closes stdin: end of input
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err.decode(errors="replace")
    rep = parse_report(out.decode())
    assert rep["delivered"] == 5 and rep["failed"] == 0, rep
