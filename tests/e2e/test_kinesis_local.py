"""The CLI against kinesis-local (kinesis-mock, the engine LocalStack uses)."""

from e2e_scenarios import (
    cron_target_is_flushed_at_end_of_input,
    debug_logs_every_event_and_dont_send_logs_sends_nothing,
    lines_to_two_targets,
    mixed_binary_events_with_one_oversized,
    partition_keys_from_event_fields,
    scheduled_target_is_flushed_at_end_of_input,
)


def test_kinesis_local_mixed_binary_events_one_oversized_rest_exactly_once(
        host_bin, kinesis_local, new_stream, tmp_path):
    mixed_binary_events_with_one_oversized(host_bin, kinesis_local, new_stream, tmp_path,
                                           seed=20240611)


def test_kinesis_local_lines_two_targets_each_stream_gets_every_line_once(
        host_bin, kinesis_local, new_stream, tmp_path):
    lines_to_two_targets(host_bin, kinesis_local, new_stream, tmp_path, seed=7)


def test_kinesis_local_scheduled_target_is_flushed_at_end_of_input(
        host_bin, kinesis_local, new_stream, tmp_path):
    scheduled_target_is_flushed_at_end_of_input(host_bin, kinesis_local, new_stream, tmp_path)


def test_kinesis_local_cron_target_is_flushed_at_end_of_input(host_bin, kinesis_local, new_stream, tmp_path):
    cron_target_is_flushed_at_end_of_input(host_bin, kinesis_local, new_stream, tmp_path)


def test_kinesis_local_partition_keys_from_event_fields(host_bin, kinesis_local, new_stream, tmp_path):
    partition_keys_from_event_fields(host_bin, kinesis_local, new_stream, tmp_path)


def test_kinesis_local_debug_logs_every_event_and_dont_send_logs_sends_nothing(
        host_bin, kinesis_local, new_stream, tmp_path):
    debug_logs_every_event_and_dont_send_logs_sends_nothing(host_bin, kinesis_local, new_stream, tmp_path)
