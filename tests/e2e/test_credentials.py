"""Credentials the component finds itself (issue 5), end to end: the CLI
passes the credential chain's AWS_* variables and token-file directories
through to the component, which fetches credentials over wasi:http and signs
PutRecords for a signature-checking moto.

STS (AssumeRole, AssumeRoleWithWebIdentity) is moto's own; the instance
metadata service and the container endpoint are small fakes (credential_fakes.py)
that hand out real moto credentials, so a wrong key still fails the test.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.request
import uuid

import pytest
from botocore.exceptions import ClientError

import credential_fakes
from credential_fakes import role_credentials, writer_role
from e2e_helpers import (
    aws_error_code,
    check_report_shape,
    no_crash_text,
    read_stream,
    run_cli,
    target,
    write_base64_input,
    write_json_config,
)

# Every variable the chain reads, blanked (empty is unset for the chain), so
# the environment pytest runs in cannot change which source a test exercises.
CHAIN_VARS = [
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_EC2_METADATA_DISABLED", "AWS_EC2_METADATA_SERVICE_ENDPOINT",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
    "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KINESIS", "AWS_ENDPOINT_URL_STS",
]

ASSUME_ONLY_POLICY = {"Version": "2012-10-17",
                      "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}


def chain_env(**values: str) -> dict[str, str]:
    env = {v: "" for v in CHAIN_VARS}
    env.update(values)
    return env


def keyless_target(peer, stream: str, **extra) -> dict:
    """A target without key and secret: credentials come from the chain."""
    t = target("cred", peer, stream, "pk-cred", max_events=50)
    del t["properties"]["key"], t["properties"]["secret"]
    t["properties"].update(extra)
    return t


def events(n: int) -> list[bytes]:
    return [f"credential chain event {i}".encode() for i in range(n)]


def run_and_expect_delivery(host_bin, moto, stream, tmp_path, config_target, env, n=120):
    sent = events(n)
    input_path = write_base64_input(tmp_path / "events.b64", sent)
    config = write_json_config(tmp_path / "config.json", [config_target])
    run = run_cli(host_bin, config, input_path, input_format="base64", env=env, timeout=120)
    rep = check_report_shape(run)
    ctx = "\n" + run.describe()
    no_crash_text(run.stderr)
    assert (run.returncode, rep["delivered"], rep["failed"]) == (0, n, 0), ctx
    got = sorted(r.data for r in read_stream(moto.client(), stream))
    assert got == sorted(sent), "the stream holds exactly the events pushed"
    return run


def assert_no_secret(run, *secrets: str) -> None:
    assert "Signature=" not in run.stdout + run.stderr, "a request signature leaked into the CLI's output"
    for s in secrets:
        assert s not in run.stdout and s not in run.stderr, f"a secret leaked into the CLI's output: {s[:4]}..."


def test_moto_role_arn_assumes_the_role_with_a_key_that_may_only_assume(host_bin, moto, new_stream, tmp_path):
    stream = new_stream(moto, shards=1)
    role_arn = writer_role(moto)
    iam = moto.client("iam")
    user = f"e2e-assumer-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="assume", PolicyDocument=json.dumps(ASSUME_ONLY_POLICY))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    # The base key alone may not write: delivery below proves the role's credentials signed.
    with pytest.raises(ClientError) as denied:
        moto.client(key=key["AccessKeyId"], secret=key["SecretAccessKey"]).put_record(
            StreamName=stream, Data=b"x", PartitionKey="k")
    assert "AccessDenied" in (aws_error_code(denied.value) or ""), denied.value.response

    t = target("cred", moto, stream, "pk-cred", key=key["AccessKeyId"], secret=key["SecretAccessKey"], max_events=50)
    t["properties"].update(role_arn=role_arn, external_id="e2e-external", sts_endpoint=moto.url,
                           debug={"status": True})
    run = run_and_expect_delivery(host_bin, moto, stream, tmp_path, t, chain_env())
    assert_no_secret(run, key["SecretAccessKey"])


def test_moto_web_identity_token_file_from_the_environment(host_bin, moto, new_stream, tmp_path):
    stream = new_stream(moto, shards=1)
    role_arn = writer_role(moto)
    token_dir = tmp_path / "serviceaccount"
    token_dir.mkdir()
    (token_dir / "token").write_text("eyJhbGciOiJSUzI1NiJ9.e2e-web-identity-token.sig\n")
    env = chain_env(AWS_WEB_IDENTITY_TOKEN_FILE=str(token_dir / "token"), AWS_ROLE_ARN=role_arn,
                    AWS_ROLE_SESSION_NAME="e2e-pod", AWS_ENDPOINT_URL_STS=moto.url)
    # AssumeRoleWithWebIdentity is unsigned (the token is the proof), but moto
    # checks every call: its own /moto-api/reset-auth lets exactly one through.
    # Every PutRecords after it is signature-checked with the role's credentials.
    urllib.request.urlopen(urllib.request.Request(
        f"{moto.url}/moto-api/reset-auth", data=b"1", method="POST",
        headers={"content-type": "text/plain"}))  # a form type would hide the body from moto
    try:
        run = run_and_expect_delivery(host_bin, moto, stream, tmp_path, keyless_target(moto, stream), env)
    finally:
        # Signature checking must be on again (the one unchecked call is used up).
        try:
            moto.client(secret=moto.secret + "-wrong").list_streams()
            pytest.fail("moto let a wrong signature through after the web identity test")
        except ClientError as e:
            assert aws_error_code(e) == "SignatureDoesNotMatch", e.response
    assert_no_secret(run, "e2e-web-identity-token")


def test_imds_v2_credentials_sign_for_a_signature_checking_moto(host_bin, moto, new_stream, tmp_path):
    stream = new_stream(moto, shards=1)
    handed = role_credentials(moto)
    with credential_fakes.imds(handed) as fake:
        env = chain_env(AWS_EC2_METADATA_SERVICE_ENDPOINT=fake.url)
        t = keyless_target(moto, stream, debug={"status": True})
        run = run_and_expect_delivery(host_bin, moto, stream, tmp_path, t, env)
    methods = [(m, p) for m, p, _ in handed.requests]
    assert methods[:3] == [("PUT", "/latest/api/token"),
                           ("GET", credential_fakes.ROLE_PATH),
                           ("GET", credential_fakes.ROLE_PATH + credential_fakes.ROLE)], methods
    assert all(h.get("x-aws-ec2-metadata-token") == credential_fakes.TOKEN
               for m, _, h in handed.requests if m == "GET"), "every GET carries the IMDSv2 token"
    assert_no_secret(run, handed.secret, handed.session_token, credential_fakes.TOKEN)


def test_imds_credentials_already_expired_fail_every_event_clearly(host_bin, moto, new_stream, tmp_path):
    stream = new_stream(moto, shards=1)
    handed = role_credentials(moto)
    handed.lifetime = credential_fakes.timedelta(hours=-1)
    with credential_fakes.imds(handed) as fake:
        env = chain_env(AWS_EC2_METADATA_SERVICE_ENDPOINT=fake.url)
        input_path = write_base64_input(tmp_path / "events.b64", events(20))
        config = write_json_config(tmp_path / "config.json", [keyless_target(moto, stream, max_retries=1)])
        run = run_cli(host_bin, config, input_path, input_format="base64", env=env, timeout=120)
    rep = check_report_shape(run)
    ctx = "\n" + run.describe()
    assert run.returncode == 1, ctx
    assert rep["failed_by_code"] == {"InstanceMetadataCredentialsError": 20}, ctx
    assert all("expired at" in f["message"] for f in rep["failures"]), ctx
    assert read_stream(moto.client(), stream) == []
    assert_no_secret(run, handed.secret, handed.session_token)


def test_a_provider_that_is_down_fails_fast_with_its_code(host_bin, moto, new_stream, tmp_path):
    stream = new_stream(moto, shards=1)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = chain_env(AWS_EC2_METADATA_SERVICE_ENDPOINT=f"http://127.0.0.1:{port}")
    input_path = write_base64_input(tmp_path / "events.b64", events(20))
    config = write_json_config(tmp_path / "config.json", [keyless_target(moto, stream)])
    started = time.monotonic()
    run = run_cli(host_bin, config, input_path, input_format="base64", env=env, timeout=120)
    took = time.monotonic() - started
    rep = check_report_shape(run)
    ctx = "\n" + run.describe()
    assert run.returncode == 1, ctx
    assert rep["failed_by_code"] == {"InstanceMetadataCredentialsError": 20}, ctx
    assert all(f"127.0.0.1:{port}" in f["message"] for f in rep["failures"]), ctx
    assert took < 30, f"took {took:.1f} s{ctx}"


def test_container_credentials_with_an_authorization_token_file(host_bin, moto, new_stream, tmp_path):
    stream = new_stream(moto, shards=1)
    token_dir = tmp_path / "pod-identity"
    token_dir.mkdir()
    (token_dir / "token").write_text("e2e-pod-identity-token\n")
    handed = role_credentials(moto)
    handed.auth_token = "e2e-pod-identity-token"
    with credential_fakes.container(handed) as fake:
        env = chain_env(AWS_CONTAINER_CREDENTIALS_FULL_URI=f"{fake.url}/v1/credentials",
                        AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=str(token_dir / "token"))
        run = run_and_expect_delivery(host_bin, moto, stream, tmp_path, keyless_target(moto, stream), env)
    assert [(m, p) for m, p, _ in handed.requests][:1] == [("GET", "/v1/credentials")]
    assert_no_secret(run, handed.secret, handed.session_token, "e2e-pod-identity-token")


def test_environment_credentials_come_first(host_bin, moto, new_stream, tmp_path):
    stream = new_stream(moto, shards=1)
    # IMDS set up too, but unreachable: the environment's keys must win without asking it.
    env = chain_env(AWS_ACCESS_KEY_ID=moto.key, AWS_SECRET_ACCESS_KEY=moto.secret,
                    AWS_EC2_METADATA_SERVICE_ENDPOINT="http://127.0.0.1:9")
    run = run_and_expect_delivery(host_bin, moto, stream, tmp_path, keyless_target(moto, stream), env)
    assert_no_secret(run, moto.secret)
