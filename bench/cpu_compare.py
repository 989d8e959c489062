"""Client CPU per event: the component in wasmtime (`bench_cpu`, bench/src/bin)
against aws-sdk-kinesis `put_records` (`bench/sdk-compare`), the same events
to the same endpoint, which runs in a process of its own so neither client
pays for it. Each client is its own process and measures its own CPU time
(getrusage RUSAGE_SELF, user + system, all threads) around the sends only,
after its set-up (component compile and configure; SDK client build).

    python3 bench/cpu_compare.py OURS_BIN SDK_BIN ENDPOINT_BIN

With KINESIS_LOCAL_URL set, kinesis-local is the endpoint (a fresh stream
per run, created with plain JSON calls; it checks no signatures); otherwise
the embedded local endpoint run standalone (ENDPOINT_BIN, SigV4 checked).
BENCH_EVENTS (20000), BENCH_EVENT_BYTES (200), BENCH_RUNS (3): runs
interleaved, median. Ours runs four times per round: `protocol: json`,
`protocol: cbor` (BENCH_PROTOCOL), `outcome_detail: ids`, and `protocol:
cbor` with `aggregation: true` (BENCH_AGGREGATION); the SDK speaks JSON 1.1.
Prints a Markdown table; ratio = ours / SDK.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid

OURS, SDK, ENDPOINT = sys.argv[1:4]
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
EVENTS = os.environ.get("BENCH_EVENTS", "20000")
SIZE = os.environ.get("BENCH_EVENT_BYTES", "200")


def kinesis_local_call(url: str, target: str, body: dict) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
        "content-type": "application/x-amz-json-1.1", "x-amz-target": f"Kinesis_20131202.{target}",
        "authorization": "AWS4-HMAC-SHA256 Credential=AKIDBENCH/20260101/us-east-1/kinesis/aws4_request, "
                         "SignedHeaders=host, Signature=00",
        "x-amz-date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())})
    with urllib.request.urlopen(req) as r:
        data = r.read()
        return json.loads(data) if data else {}


def kinesis_local_stream(url: str) -> str:
    name = f"cpu-{uuid.uuid4().hex[:10]}"
    kinesis_local_call(url, "CreateStream", {"StreamName": name, "ShardCount": 4})
    for _ in range(300):
        d = kinesis_local_call(url, "DescribeStreamSummary", {"StreamName": name})
        if d["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE":
            return name
        time.sleep(0.2)
    raise SystemExit(f"stream {name} never became ACTIVE")


def main() -> None:
    env = dict(os.environ, BENCH_EVENTS=EVENTS, BENCH_EVENT_BYTES=SIZE)
    url = os.environ.get("KINESIS_LOCAL_URL")
    endpoint = None
    if url:
        peer = "kinesis-local"
    else:
        peer = "embedded local endpoint (own process)"
        streams = [f"s{i}" for i in range(5 * RUNS)]  # one per client and run
        endpoint = subprocess.Popen([ENDPOINT, "0", *streams], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    text=True)
        url = endpoint.stdout.readline().strip()
    clients = (("ours", OURS, "json"), ("ours_cbor", OURS, "cbor"), ("ours_ids", OURS, "json"),
               ("ours_agg", OURS, "cbor"), ("sdk", SDK, "json"))
    results: dict[str, list[dict]] = {name: [] for name, _, _ in clients}
    try:
        for run in range(RUNS):
            for i, (name, binary, protocol) in enumerate(clients):
                stream = kinesis_local_stream(url) if peer == "kinesis-local" else f"s{len(clients) * run + i}"
                outcomes = "ids" if name == "ours_ids" else "full"
                aggregation = "1" if name == "ours_agg" else "0"
                out = subprocess.run([binary, url, stream], env=dict(env, BENCH_PROTOCOL=protocol,
                                                                    BENCH_OUTCOMES=outcomes,
                                                                    BENCH_AGGREGATION=aggregation), check=True,
                                     capture_output=True, text=True)
                results[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
    finally:
        if endpoint:
            endpoint.stdin.close()
            endpoint.wait()
    med = {k: statistics.median(r["cpu_us_per_event"] for r in v) for k, v in results.items()}
    wall = {k: statistics.median(r["wall_s"] for r in v) for k, v in results.items()}
    print(f"{EVENTS} events of {SIZE} B, 500 per request, 4 requests in flight, {peer}, median of {RUNS}")
    print("| client | CPU us/event | CPU vs SDK | wall s |")
    print("|---|---|---|---|")
    print(f"| kinesis-target in wasmtime (`bench_cpu`) | {med['ours']:.2f} | **{med['ours'] / med['sdk']:.2f}** | "
          f"{wall['ours']:.2f} |")
    print(f"| kinesis-target in wasmtime, `protocol: cbor` | {med['ours_cbor']:.2f} | "
          f"**{med['ours_cbor'] / med['sdk']:.2f}** | {wall['ours_cbor']:.2f} |")
    print(f"| kinesis-target in wasmtime, `outcome_detail: ids` | {med['ours_ids']:.2f} | "
          f"**{med['ours_ids'] / med['sdk']:.2f}** | {wall['ours_ids']:.2f} |")
    print(f"| kinesis-target in wasmtime, `protocol: cbor`, `aggregation: true` | {med['ours_agg']:.2f} | "
          f"**{med['ours_agg'] / med['sdk']:.2f}** | {wall['ours_agg']:.2f} |")
    print(f"| aws-sdk-kinesis `put_records` (baseline) | {med['sdk']:.2f} | 1.00 | {wall['sdk']:.2f} |")
    print("runs:", json.dumps(results))


if __name__ == "__main__":
    main()
