"""The CLI against moto_server with SigV4 signature checking on.

The moto fixture (conftest.py) has made an IAM user with a kinesis:* policy
and an access key within moto's unauthenticated calls; everything here, the
CLI included, signs with that key.
"""

from e2e_helpers import (
    check_report_shape,
    no_crash_text,
    read_stream,
    run_cli,
    target,
    write_base64_input,
    write_json_config,
)
from e2e_scenarios import (
    lines_to_two_targets,
    mixed_binary_events_with_one_oversized,
    partition_keys_from_event_fields,
)

# What moto_server answers for a request whose signature does not match the
# secret of the access key id it names: HTTP 403 with an XML body
#   <ErrorResponse><Errors><Error><Code>SignatureDoesNotMatch</Code>
#   <Message>The request signature we calculated does not match ...</Message>
#   ...</Error></Errors>...</ErrorResponse>
# (XML even though Kinesis speaks JSON). The CLI reports the code it parsed.
MOTO_SIGNATURE_ERROR = "SignatureDoesNotMatch"


def test_moto_signed_mixed_binary_events_one_oversized_rest_exactly_once(
        host_bin, moto, new_stream, tmp_path):
    mixed_binary_events_with_one_oversized(host_bin, moto, new_stream, tmp_path, seed=31337)


def test_moto_lines_two_targets_each_stream_gets_every_line_once(
        host_bin, moto, new_stream, tmp_path):
    lines_to_two_targets(host_bin, moto, new_stream, tmp_path, seed=11)


def test_moto_wrong_secret_every_event_fails_with_signature_error(
        host_bin, moto, new_stream, tmp_path):
    stream = new_stream(moto, shards=1)
    events = [f"event {i} \u00fc".encode() for i in range(120)] + [b"\x00\xff\n", bytes(range(256))]
    input_path = write_base64_input(tmp_path / "events.b64", events)
    config = write_json_config(tmp_path / "config.json", [
        # The right key id with a wrong secret.
        target("e2e", moto, stream, "pk-1", secret=moto.secret[:-4] + "XXXX", max_events=50),
    ])

    run = run_cli(host_bin, config, input_path, input_format="base64")
    rep = check_report_shape(run)
    ctx = "\n" + run.describe()

    no_crash_text(run.stderr)
    assert run.returncode == 1, ctx
    assert rep["events"] == len(events), ctx
    assert rep["delivered"] == 0, ctx
    assert rep["failed"] == len(events), ctx
    assert rep["failed_by_code"] == {MOTO_SIGNATURE_ERROR: len(events)}, ctx
    assert sorted(f["id"] for f in rep["failures"]) == list(range(1, len(events) + 1)), ctx
    assert {f["code"] for f in rep["failures"]} == {MOTO_SIGNATURE_ERROR}, ctx
    assert {f["target"] for f in rep["failures"]} == {"e2e"}, ctx
    assert rep["requests"] >= 1, ctx
    (t,) = rep["targets"]
    assert (t["name"], t["delivered"], t["failed"]) == ("e2e", 0, len(events)), ctx

    assert read_stream(moto.client(), stream) == [], "the stream must stay empty"


def test_moto_partition_keys_from_event_fields(host_bin, moto, new_stream, tmp_path):
    partition_keys_from_event_fields(host_bin, moto, new_stream, tmp_path)
