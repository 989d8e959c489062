//! One round trip through the real server on a loopback socket.

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;
use crate::LocalEndpoint;

/// Sends a signed request over HTTP/1.1 and returns (status line, JSON body).
pub(super) async fn post(endpoint: &LocalEndpoint, op: &str, body: Value) -> (String, Value) {
    let response = exchange(endpoint, op, &body).await.unwrap();
    let response = String::from_utf8(response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head.lines().next().unwrap().to_owned();
    (status, serde_json::from_str(body).unwrap())
}

/// Sends a signed request on a new connection (`connection: close`) and
/// reads until the server closes it: the raw answer, empty if the server
/// closed without one, or the error (e.g. a reset) that ended the exchange.
pub(super) async fn exchange(endpoint: &LocalEndpoint, op: &str, body: &Value) -> std::io::Result<Vec<u8>> {
    let req = signed(&Signer::default(), op, body.to_string().as_bytes());
    let mut wire = format!(
        "POST / HTTP/1.1\r\nconnection: close\r\ncontent-length: {}\r\n",
        req.body.len()
    );
    for (name, value) in &req.headers {
        wire += &format!("{name}: {}\r\n", value.to_str().unwrap());
    }
    wire += "\r\n";
    let mut stream = TcpStream::connect(endpoint.local_addr()).await?;
    stream.write_all(wire.as_bytes()).await?;
    stream.write_all(&req.body).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    Ok(response)
}

#[tokio::test]
async fn serves_signed_requests_over_http() {
    let endpoint = LocalEndpoint::start(LocalEndpointConfig::default()).await.unwrap();
    assert!(endpoint.url().starts_with("http://127.0.0.1:"));
    assert_ne!(endpoint.local_addr().port(), 0);
    endpoint.create_stream("demo", 2);
    endpoint.create_stream("demo", 5); // idempotent: still 2 shards

    let records = json!([{"Data": "aGVsbG8=", "PartitionKey": "a"}, {"Data": "d29ybGQ=", "PartitionKey": "b"}]);
    let (status, body) = post(
        &endpoint,
        "PutRecords",
        json!({"StreamName": "demo", "Records": records}),
    )
    .await;
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    assert_eq!(body["FailedRecordCount"], 0);

    let (status, body) = post(&endpoint, "DescribeStreamSummary", json!({"StreamName": "nope"})).await;
    assert_eq!(status, "HTTP/1.1 400 Bad Request");
    assert_eq!(body["__type"], "ResourceNotFoundException");

    let mut data: Vec<Vec<u8>> = endpoint.records("demo").into_iter().map(|r| r.data).collect();
    data.sort();
    assert_eq!(data, [b"hello".to_vec(), b"world".to_vec()]);
    let stats = endpoint.stats();
    assert_eq!(
        (stats.requests, stats.put_records_requests, stats.records_stored),
        (2, 1, 2)
    );
    assert_eq!((stats.error_responses, stats.auth_failures), (1, 0));
    let (_, summary) = post(&endpoint, "DescribeStreamSummary", json!({"StreamName": "demo"})).await;
    assert_eq!(summary["StreamDescriptionSummary"]["OpenShardCount"], 2);

    let addr = endpoint.local_addr();
    endpoint.shutdown().await;
    assert!(TcpStream::connect(addr).await.is_err());
}
