"""Does kinesis-local accept a CBOR (application/x-amz-cbor-1.1) PutRecords?
Creates a stream (JSON), sends PutRecords in CBOR with raw byte strings,
reads the records back (JSON GetRecords) and compares. Minimal CBOR codec."""
import json, struct, sys, time, urllib.request, base64

URL = sys.argv[1]

def head(major, n):
    m = major << 5
    if n < 24: return bytes([m | n])
    if n < 256: return bytes([m | 24, n])
    if n < 65536: return bytes([m | 25]) + struct.pack(">H", n)
    if n < 2**32: return bytes([m | 26]) + struct.pack(">I", n)
    return bytes([m | 27]) + struct.pack(">Q", n)

def enc(v):
    if isinstance(v, bytes): return head(2, len(v)) + v
    if isinstance(v, str): b = v.encode(); return head(3, len(b)) + b
    if isinstance(v, list): return head(4, len(v)) + b"".join(enc(x) for x in v)
    if isinstance(v, dict): return head(5, len(v)) + b"".join(enc(k) + enc(x) for k, x in v.items())
    if isinstance(v, int) and v >= 0: return head(0, v)
    raise TypeError(v)

def dec(b, i=0):
    ib = b[i]; major, info = ib >> 5, ib & 31; i += 1
    if info < 24: n = info
    elif info == 24: n = b[i]; i += 1
    elif info == 25: n = struct.unpack(">H", b[i:i+2])[0]; i += 2
    elif info == 26: n = struct.unpack(">I", b[i:i+4])[0]; i += 4
    elif info == 27: n = struct.unpack(">Q", b[i:i+8])[0]; i += 8
    elif info == 31: n = None
    else: raise ValueError(info)
    if major == 0: return n, i
    if major == 1: return -1 - n, i
    if major in (2, 3):
        s = b[i:i+n]; i += n
        return (s if major == 2 else s.decode()), i
    if major == 4:
        out = []
        while (n is None and b[i] != 0xff) or (n is not None and len(out) < n):
            x, i = dec(b, i); out.append(x)
        if n is None: i += 1
        return out, i
    if major == 5:
        out = {}
        while (n is None and b[i] != 0xff) or (n is not None and len(out) < n):
            k, i = dec(b, i); x, i = dec(b, i); out[k] = x
        if n is None: i += 1
        return out, i
    if major == 6: return dec(b, i)
    if major == 7:
        if info == 20: return False, i
        if info == 21: return True, i
        if info == 22: return None, i
        if info == 27: return struct.unpack(">d", b[i-8:i])[0], i
        if info == 26: return struct.unpack(">f", b[i-4:i])[0], i
        return None, i
    raise ValueError(major)

def call(target, body, ctype):
    req = urllib.request.Request(URL, data=body, method="POST", headers={
        "content-type": ctype, "x-amz-target": "Kinesis_20131202." + target,
        "authorization": "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=00",
        "x-amz-date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.headers.get("content-type"), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("content-type"), e.read()

J = "application/x-amz-json-1.1"; C = "application/x-amz-cbor-1.1"
stream = "cbor-probe-%d" % int(time.time())
print("CreateStream", call("CreateStream", json.dumps({"StreamName": stream, "ShardCount": 1}).encode(), J)[:2])
for _ in range(60):
    s, _, b = call("DescribeStreamSummary", json.dumps({"StreamName": stream}).encode(), J)
    if s == 200 and json.loads(b)["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE": break
    time.sleep(0.5)
records = [b"\x00\x01binary\xff" + bytes([i]) for i in range(3)]
body = enc({"StreamName": stream, "Records": [{"Data": d, "PartitionKey": "pk"} for d in records]})
status, ctype, answer = call("PutRecords", body, C)
print("PutRecords (CBOR):", status, ctype)
try:
    print("  answer:", dec(answer)[0] if ctype and "cbor" in ctype else answer[:300])
except Exception as e:
    print("  answer not CBOR:", answer[:300], e)
s, _, b = call("ListShards", json.dumps({"StreamName": stream}).encode(), J)
shard = json.loads(b)["Shards"][0]["ShardId"]
s, _, b = call("GetShardIterator", json.dumps({"StreamName": stream, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"}).encode(), J)
it = json.loads(b)["ShardIterator"]
s, _, b = call("GetRecords", json.dumps({"ShardIterator": it}).encode(), J)
got = [base64.b64decode(r["Data"]) for r in json.loads(b)["Records"]]
print("read back:", got, "== sent:", got == records)
s, ctype, b = call("GetRecords", enc({"ShardIterator": it}), C)
print("GetRecords (CBOR):", s, ctype, [r["Data"] for r in dec(b)[0]["Records"]] if s == 200 else b[:200])
