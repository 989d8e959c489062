"""The test harness itself, proven with boto3 alone (no CLI needed): if these
fail, the peers or the readback helpers are broken, not kinesis-host."""

from collections import Counter

import pytest
from botocore.exceptions import ClientError

from e2e_helpers import RECORD_LIMIT, aws_error_code, assert_stream_holds_exactly, read_stream


def test_harness_boto3_roundtrip_kinesis_local(kinesis_local, new_stream):
    client = kinesis_local.client()
    stream = new_stream(kinesis_local, shards=2)
    payloads = [b"first\n", "zweite Zeile \u00e4\U0001f642".encode(), bytes(range(256))]
    resp = client.put_records(StreamName=stream, Records=[
        {"Data": payloads[0], "PartitionKey": "pk-sanity"},
        {"Data": payloads[1], "PartitionKey": "pk-sanity"},
    ])
    assert resp["FailedRecordCount"] == 0
    client.put_record(StreamName=stream, Data=payloads[2], PartitionKey="pk-sanity")

    records = read_stream(client, stream)
    assert_stream_holds_exactly(records, payloads, "pk-sanity")
    # The helper must also catch what it is there to catch.
    with pytest.raises(AssertionError):
        assert_stream_holds_exactly(records, payloads + [payloads[0]], "pk-sanity")
    with pytest.raises(AssertionError):
        assert_stream_holds_exactly(records, payloads[:2], "pk-sanity")
    with pytest.raises(AssertionError):
        assert_stream_holds_exactly(records, payloads, "another-pk")


def test_harness_boto3_record_at_limit_kinesis_local(kinesis_local, new_stream):
    """kinesis-local takes a record of data + key == 1 MiB (our CLI's limit)."""
    client = kinesis_local.client()
    stream = new_stream(kinesis_local, shards=1)
    pk = "pk-big"
    data = bytes(range(256)) * ((RECORD_LIMIT - len(pk)) // 256) + b"\n" * ((RECORD_LIMIT - len(pk)) % 256)
    assert len(data) + len(pk) == RECORD_LIMIT
    client.put_record(StreamName=stream, Data=data, PartitionKey=pk)
    assert_stream_holds_exactly(read_stream(client, stream), [data], pk)


def test_harness_boto3_moto_signed_roundtrip_and_auth_errors(moto, new_stream):
    """moto with signature checking: the IAM key from the moto_iam fixture
    works; a wrong secret and an unknown key id are refused."""
    client = moto.client()
    stream = new_stream(moto, shards=2)
    payloads = [b"one", b"\x00two\r\n", "drei \u20ac".encode()]
    client.put_records(StreamName=stream, Records=[
        {"Data": p, "PartitionKey": "pk-moto"} for p in payloads])
    assert_stream_holds_exactly(read_stream(client, stream), payloads, "pk-moto")

    with pytest.raises(ClientError) as err:
        moto.client(secret=moto.secret + "x").put_record(
            StreamName=stream, Data=b"nope", PartitionKey="pk-moto")
    # moto answers in XML (content-type text/html) although Kinesis is a JSON
    # protocol: botocore itself only sees "403"; aws_error_code reads the XML.
    assert aws_error_code(err.value) == "SignatureDoesNotMatch"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403

    with pytest.raises(ClientError) as err:
        moto.client(key="AKIAUNKNOWNKEY000000").put_record(
            StreamName=stream, Data=b"nope", PartitionKey="pk-moto")
    assert aws_error_code(err.value) == "InvalidClientTokenId"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403

    assert Counter(r.data for r in read_stream(client, stream)) == Counter(payloads)
