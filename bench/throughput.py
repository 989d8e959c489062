"""Events/s of `kinesis-host run` against kinesis-local, with boto3's
put_records sending the same events to the same peer in the same run as the
baseline (ratio = ours / boto3; both bound by the same local peer).

Run through scripts/bench, which starts the peer and exports KINESIS_LOCAL_URL.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import boto3
from botocore.config import Config

EVENTS = int(os.environ.get("BENCH_EVENTS", "5000"))
SIZE = int(os.environ.get("BENCH_EVENT_BYTES", "200"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
URL = os.environ["KINESIS_LOCAL_URL"]
HOST_BIN = os.environ["KINESIS_HOST_BIN"]
KEY, SECRET, REGION = "AKIDBENCH", "bench-secret", "us-east-1"


def client():
    return boto3.client("kinesis", endpoint_url=URL, region_name=REGION, aws_access_key_id=KEY,
                        aws_secret_access_key=SECRET, config=Config(retries={"max_attempts": 1}))


def new_stream(kinesis) -> str:
    name = f"bench-{uuid.uuid4().hex[:10]}"
    kinesis.create_stream(StreamName=name, ShardCount=4)
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300})
    return name


def events() -> list[bytes]:
    # Log-like lines of SIZE bytes, no newlines.
    return [(f"{i:08d} " + "x" * SIZE)[:SIZE].encode() for i in range(EVENTS)]


def run_ours(kinesis, data: list[bytes], tmp: Path) -> float:
    stream = new_stream(kinesis)
    cfg = tmp / "bench.json"
    cfg.write_text(json.dumps({"targets": [{"name": "bench", "type": "amazonkinesis", "properties": {
        "key": KEY, "secret": SECRET, "region": REGION, "endpoint": URL, "stream": stream,
        "partition_key": "bench", "timeout": 120}}]}))
    inp = tmp / "events.txt"
    inp.write_bytes(b"\n".join(data) + b"\n")
    start = time.perf_counter()
    out = subprocess.run([HOST_BIN, "run", "--config", str(cfg), "--input", str(inp), "--report", "json"],
                         capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    report = json.loads(out.stdout)
    assert report["delivered"] == len(data), (report["failed_by_code"], out.stderr[-2000:])
    return len(data) / elapsed


def run_boto3(kinesis, data: list[bytes]) -> float:
    stream = new_stream(kinesis)
    start = time.perf_counter()
    for i in range(0, len(data), 500):
        batch = [{"Data": d, "PartitionKey": "bench"} for d in data[i:i + 500]]
        resp = kinesis.put_records(StreamName=stream, Records=batch)
        assert resp["FailedRecordCount"] == 0
    return len(data) / (time.perf_counter() - start)


def main() -> int:
    kinesis = client()
    data = events()
    ours, base = [], []
    with tempfile.TemporaryDirectory() as d:
        for _ in range(RUNS):  # interleaved, so drift in the peer hits both alike
            ours.append(run_ours(kinesis, data, Path(d)))
            base.append(run_boto3(kinesis, data))
    o, b = statistics.median(ours), statistics.median(base)
    print(f"events: {EVENTS} x {SIZE} B, runs: {RUNS} (median)")
    print(f"kinesis-host run (whole process: start, compile, send): {o:,.0f} events/s")
    print(f"boto3 put_records, 500 per call (same peer, same run):  {b:,.0f} events/s")
    print(f"ratio ours/boto3: {o / b:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
