"""`protocol: cbor` end to end (issue 6): PutRecords in CBOR
(`application/x-amz-cbor-1.1`, data as raw byte strings) through
`kinesis-host run` into kinesis-local, which reads CBOR and answers in it.

A recording proxy between the component and kinesis-local passes every
request through unchanged and keeps its content type, so the test proves
the requests were CBOR (and the answers too), not JSON that happened to work.
The stream is read back with boto3 (JSON), byte for byte.

moto does not speak CBOR (it answers a CBOR PutRecords with HTTP 500), so
this protocol is tested against kinesis-local only.
"""

from __future__ import annotations

from e2e_helpers import (
    RECORD_TOO_LARGE,
    assert_stream_holds_exactly,
    check_report_shape,
    mixed_events,
    no_crash_text,
    read_stream,
    run_cli,
    target,
    write_base64_input,
    write_json_config,
)
from recording_proxy import recording_proxy

CBOR = "application/x-amz-cbor-1.1"
PARTITION_KEY = "cbor-pk"


def _cbor_target(name: str, endpoint: str, peer, stream: str) -> dict:
    t = target(name, peer, stream, PARTITION_KEY)
    t["properties"]["endpoint"] = endpoint
    t["properties"]["protocol"] = "cbor"
    return t


def test_kinesis_local_cbor_puts_deliver_mixed_binary_events_byte_for_byte(
        host_bin, kinesis_local, new_stream, tmp_path):
    stream = new_stream(kinesis_local, shards=2, tag="cbor")
    es = mixed_events(20261126, PARTITION_KEY, count=600, big=3)
    (oversized_id,) = es.oversized_ids
    input_path = write_base64_input(tmp_path / "events.b64", es.events)

    with recording_proxy(kinesis_local.url) as proxy:
        config = write_json_config(tmp_path / "config.json",
                                   [_cbor_target("cbor", proxy.url, kinesis_local, stream)])
        run = run_cli(host_bin, config, input_path, input_format="base64")
    rep = check_report_shape(run)
    no_crash_text(run.stderr)
    ctx = "\n" + run.describe()

    assert rep["delivered"] == len(es.events) - 1 and rep["failed"] == 1, ctx
    assert rep["failed_by_code"] == {RECORD_TOO_LARGE: 1}, ctx
    assert rep["failures"][0]["id"] == oversized_id, ctx

    puts = [s for s in proxy.handed.seen if s.operation == "PutRecords"]
    assert puts, ctx
    assert all(s.content_type == CBOR and s.status == 200 and s.answer_type.startswith(CBOR) for s in puts), puts
    # Raw bytes, not base64: the bodies are smaller than base64 of the data alone.
    base64_of_data = sum((len(e) + 2) // 3 * 4 for e in es.deliverable())
    assert sum(s.body_bytes for s in puts) < base64_of_data, ctx

    records = read_stream(kinesis_local.client(), stream)
    assert_stream_holds_exactly(records, es.deliverable(), PARTITION_KEY, what=stream)


def test_kinesis_local_cbor_error_answers_are_read_for_their_code(
        host_bin, kinesis_local, tmp_path):
    """A stream that does not exist: kinesis-local answers in CBOR
    (`__type`, `message`), and every event fails with that code."""
    input_path = tmp_path / "events.txt"
    input_path.write_text("".join(f"event {i}\n" for i in range(20)))
    with recording_proxy(kinesis_local.url) as proxy:
        config = write_json_config(tmp_path / "config.json",
                                   [_cbor_target("cbor", proxy.url, kinesis_local, "cbor-no-such-stream")])
        run = run_cli(host_bin, config, input_path)
    rep = check_report_shape(run)
    ctx = "\n" + run.describe()
    assert run.returncode == 1 and rep["failed"] == 20, ctx
    assert rep["failed_by_code"] == {"ResourceNotFoundException": 20}, ctx
    # The 400s must have been seen: a check over the 400 answers alone would
    # pass vacuously for a run that sent nothing or got no 400 back.
    errors = [s for s in proxy.handed.seen if s.status == 400]
    assert errors, f"no 400 answer went through the proxy: {proxy.handed.seen}" + ctx
    assert all(s.operation == "PutRecords" and s.content_type == CBOR and s.answer_type.startswith(CBOR)
               for s in errors), errors
    assert errors == proxy.handed.puts(), "every PutRecords was answered 400"
