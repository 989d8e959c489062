"""Fixtures for the end-to-end tests of the kinesis-host CLI.

The test command (scripts/test-all) starts the peers with scripts/peers.sh and
passes their addresses in the environment:

  KINESIS_HOST_BIN    path of the built CLI (target/release/kinesis-host)
  KINESIS_LOCAL_URL   kinesis-local (kinesis-mock), http://127.0.0.1:PORT
  MOTO_URL            moto_server with signature checking, http://127.0.0.1:PORT
  MOTO_NO_AUTH_COUNT  moto's INITIAL_NO_AUTH_ACTION_COUNT

A missing variable is an error, never a skip: a run that silently skips the
end-to-end tests would look green while testing nothing.
"""

from __future__ import annotations

import json
import os
import uuid

import pytest
from botocore.exceptions import ClientError

from e2e_helpers import Peer, aws_error_code, create_stream, delete_stream, unique_stream_name


def _require_env(name: str, hint: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        pytest.fail(f"{name} is not set: {hint}", pytrace=False)
    return value


_PEERS_HINT = ("start the peers first (source scripts/peers.sh; peers_install; peers_start) "
               "or run scripts/test-all")


@pytest.fixture(scope="session")
def host_bin() -> str:
    path = _require_env(
        "KINESIS_HOST_BIN",
        "set it to the built CLI, e.g. KINESIS_HOST_BIN=target/release/kinesis-host "
        "(cargo build --release -p kinesis-host), or run scripts/test-all",
    )
    path = os.path.abspath(path)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(f"KINESIS_HOST_BIN={path} is not an executable file", pytrace=False)
    return path


# ------------------------------------------------------------ kinesis-local

@pytest.fixture(scope="session")
def kinesis_local() -> Peer:
    # kinesis-local checks that requests carry a SigV4 Authorization header
    # but not the signature itself; any key works. (A 12-digit key id would
    # select that account; this one uses the default account.)
    return Peer(
        name="kinesis-local",
        url=_require_env("KINESIS_LOCAL_URL", _PEERS_HINT),
        key="AKIDKINESISLOCALE2E",
        secret="kinesis-local-e2e-secret",
    )


# ------------------------------------------------------------ moto

# Number of unauthenticated calls moto_iam makes: CreateUser, PutUserPolicy,
# CreateAccessKey. scripts/peers.sh starts moto_server with
# INITIAL_NO_AUTH_ACTION_COUNT=3 (exported as MOTO_NO_AUTH_COUNT) to match.
# moto counts every call that reaches a service handler, of any service, no
# matter how it is signed; its TCP readiness probe in peers.sh uses none.
# After the third call moto checks the SigV4 signature of each request
# against the secret of the access key id it names, and then the IAM
# policies of that key's user (so the user needs kinesis:*).
MOTO_SETUP_CALLS = 3

KINESIS_ALL_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "kinesis:*", "Resource": "*"},
        # test_credentials.py makes roles and users of its own and assumes roles.
        {"Effect": "Allow", "Action": ["iam:*", "sts:*"], "Resource": "*"},
    ],
}


@pytest.fixture(scope="session")
def moto_iam() -> Peer:
    """An IAM user with a kinesis:* policy and an access key, made with moto's
    unauthenticated calls; every later call (boto3 and the CLI) signs with it."""
    url = _require_env("MOTO_URL", _PEERS_HINT)
    no_auth = int(_require_env("MOTO_NO_AUTH_COUNT", _PEERS_HINT))
    if no_auth < MOTO_SETUP_CALLS:
        pytest.fail(f"MOTO_NO_AUTH_COUNT={no_auth}: the IAM setup needs {MOTO_SETUP_CALLS} "
                    "unauthenticated calls", pytrace=False)

    bootstrap = Peer(name="moto-bootstrap", url=url, key="AKIDBOOTSTRAP", secret="bootstrap")
    iam = bootstrap.client("iam")
    user = f"e2e-{uuid.uuid4().hex[:10]}"
    try:
        iam.create_user(UserName=user)  # unauthenticated call 1
    except ClientError as e:
        pytest.fail(
            f"moto refused the unauthenticated CreateUser ({aws_error_code(e)}): "
            "its unauthenticated calls are used up, e.g. by an earlier pytest run against "
            "this moto_server. Restart the peers (peers_stop; peers_start).", pytrace=False)
    iam.put_user_policy(  # unauthenticated call 2
        UserName=user, PolicyName="kinesis-all", PolicyDocument=json.dumps(KINESIS_ALL_POLICY))
    key = iam.create_access_key(UserName=user)["AccessKey"]  # unauthenticated call 3
    # A larger INITIAL_NO_AUTH_ACTION_COUNT than we need would let the next
    # calls through unchecked (e.g. the wrong-secret test): use them up here.
    for _ in range(no_auth - MOTO_SETUP_CALLS):
        iam.get_user(UserName=user)

    peer = Peer(name="moto", url=url, key=key["AccessKeyId"], secret=key["SecretAccessKey"])

    # From here on moto must check signatures: prove it before any test relies on it.
    try:
        peer.client(secret=peer.secret + "-wrong").list_streams()
    except ClientError as e:
        code = aws_error_code(e)
        assert code == "SignatureDoesNotMatch", f"wrong secret gave {code}, {e.response}"
    else:
        pytest.fail("moto accepted a request signed with a wrong secret: signature checking "
                    "is not on (is MOTO_NO_AUTH_COUNT right?)", pytrace=False)
    peer.client().list_streams()  # and the real key works (signature + kinesis:* policy)
    return peer


@pytest.fixture(scope="session")
def moto(moto_iam: Peer) -> Peer:
    return moto_iam


# ------------------------------------------------------------ streams

class StreamFactory:
    """Creates uniquely named streams on a peer, waits for ACTIVE, deletes them
    after the test (kinesis-local counts shards of live streams against its
    SHARD_LIMIT)."""

    def __init__(self, request: pytest.FixtureRequest):
        self._request = request
        self._made: list[tuple[object, str]] = []

    def __call__(self, peer: Peer, shards: int = 2, tag: str | None = None) -> str:
        name = unique_stream_name(tag or self._request.node.name)
        client = peer.client()
        create_stream(client, name, shards=shards)
        self._made.append((client, name))
        return name

    def cleanup(self) -> None:
        for client, name in self._made:
            delete_stream(client, name)


@pytest.fixture
def new_stream(request: pytest.FixtureRequest):
    factory = StreamFactory(request)
    yield factory
    factory.cleanup()
