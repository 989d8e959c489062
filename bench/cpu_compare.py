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
BENCH_EVENTS (20000), BENCH_EVENT_BYTES (200), BENCH_RUNS (3): rounds,
each against a fresh endpoint (one that has stored millions of records
slows every client), the SDK first in every other round, so neither order
nor the endpoint's fill favours a client; medians. Ours runs up to four
times per round, BENCH_MODES (default `json,cbor,ids,agg`): `protocol:
json`, `protocol: cbor` (BENCH_PROTOCOL), `outcome_detail: ids`, and
`protocol: cbor` with `aggregation: true` (BENCH_AGGREGATION); the SDK
speaks JSON 1.1. Prints a Markdown table; ratio = ours / SDK, with a 95 %
bootstrap interval over the rounds (resampled whole, so each ratio keeps
its round's SDK figure): the interval says whether "at or below" holds
beyond the noise.
"""

from __future__ import annotations

import json
import os
import random
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
MODES = os.environ.get("BENCH_MODES", "json,cbor,ids,agg").split(",")
# Each mode of ours: (protocol, outcome_detail, aggregation, what the table calls it).
OURS_MODES = {
    "json": ("json", "full", "0", "kinesis-target in wasmtime (`bench_cpu`)"),
    "cbor": ("cbor", "full", "0", "kinesis-target in wasmtime, `protocol: cbor`"),
    "ids": ("json", "ids", "0", "kinesis-target in wasmtime, `outcome_detail: ids`"),
    "agg": ("cbor", "full", "1", "kinesis-target in wasmtime, `protocol: cbor`, `aggregation: true`"),
}


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


def start_endpoint(streams: list[str]) -> tuple[subprocess.Popen, str]:
    endpoint = subprocess.Popen([ENDPOINT, "0", *streams], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    return endpoint, endpoint.stdout.readline().strip()


def stop_endpoint(endpoint: subprocess.Popen | None) -> None:
    if endpoint:
        endpoint.stdin.close()
        endpoint.wait()


def interval(ours: list[float], sdk: list[float]) -> tuple[float, float]:
    """95 % bootstrap interval of median(ours) / median(sdk), rounds resampled whole."""
    rng = random.Random(1)
    rounds = list(zip(ours, sdk))
    ratios = sorted(
        statistics.median(o for o, _ in pick) / statistics.median(s for _, s in pick)
        for pick in ([rng.choice(rounds) for _ in rounds] for _ in range(2000)))
    return ratios[50], ratios[1949]


def main() -> None:
    env = dict(os.environ, BENCH_EVENTS=EVENTS, BENCH_EVENT_BYTES=SIZE)
    kinesis_local = os.environ.get("KINESIS_LOCAL_URL")
    peer = "kinesis-local" if kinesis_local else "embedded local endpoint (own process, fresh each round)"
    clients = [(mode, OURS, *OURS_MODES[mode][:3]) for mode in MODES] + [("sdk", SDK, "json", "full", "0")]
    results: dict[str, list[dict]] = {c[0]: [] for c in clients}
    for run in range(RUNS):
        endpoint, url = None, kinesis_local
        if not kinesis_local:
            endpoint, url = start_endpoint([f"s{i}" for i in range(len(clients))])
        try:
            order = clients if run % 2 == 0 else clients[::-1]
            for i, (name, binary, protocol, outcomes, aggregation) in enumerate(order):
                stream = kinesis_local_stream(url) if kinesis_local else f"s{i}"
                out = subprocess.run([binary, url, stream], env=dict(env, BENCH_PROTOCOL=protocol,
                                                                    BENCH_OUTCOMES=outcomes,
                                                                    BENCH_AGGREGATION=aggregation), check=True,
                                     capture_output=True, text=True)
                results[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
        finally:
            stop_endpoint(endpoint)
    cpu = {k: [r["cpu_us_per_event"] for r in v] for k, v in results.items()}
    med = {k: statistics.median(v) for k, v in cpu.items()}
    wall = {k: statistics.median(r["wall_s"] for r in v) for k, v in results.items()}
    print(f"{EVENTS} events of {SIZE} B, 500 per request, 4 requests in flight, {peer}, median of {RUNS}")
    print("| client | CPU us/event | CPU vs SDK | 95 % interval | wall s |")
    print("|---|---|---|---|---|")
    for mode in MODES:
        low, high = interval(cpu[mode], cpu["sdk"])
        print(f"| {OURS_MODES[mode][3]} | {med[mode]:.2f} | **{med[mode] / med['sdk']:.2f}** | "
              f"{low:.2f}-{high:.2f} | {wall[mode]:.2f} |")
    print(f"| aws-sdk-kinesis `put_records` (baseline) | {med['sdk']:.2f} | 1.00 | | {wall['sdk']:.2f} |")
    print("runs:", json.dumps(results))


if __name__ == "__main__":
    main()
