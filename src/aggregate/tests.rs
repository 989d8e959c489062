use super::*;

/// One user record as a deaggregator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserRecord {
    pub partition_key: String,
    pub explicit_hash_key: Option<String>,
    pub data: Vec<u8>,
}

fn read_varint(bytes: &[u8], at: &mut usize) -> u64 {
    let mut value = 0u64;
    let mut shift = 0;
    loop {
        let b = bytes[*at];
        *at += 1;
        value |= u64::from(b & 0x7F) << shift;
        if b & 0x80 == 0 {
            return value;
        }
        shift += 7;
    }
}

/// Fields of a protobuf message as (field number, wire type, varint or bytes).
fn fields(bytes: &[u8]) -> Vec<(u64, Result<u64, &[u8]>)> {
    let mut at = 0;
    let mut out = Vec::new();
    while at < bytes.len() {
        let key = read_varint(bytes, &mut at);
        match key & 7 {
            0 => out.push((key >> 3, Ok(read_varint(bytes, &mut at)))),
            2 => {
                let len = read_varint(bytes, &mut at) as usize;
                out.push((key >> 3, Err(&bytes[at..at + len])));
                at += len;
            }
            other => panic!("wire type {other}"),
        }
    }
    out
}

/// Decodes an aggregated record the way `aws-kinesis-agg` does (checking
/// magic and MD5); `None` for data that is not one.
pub(crate) fn deaggregate(data: &[u8]) -> Option<Vec<UserRecord>> {
    if data.len() < FRAMING || data[..4] != MAGIC {
        return None;
    }
    let (message, digest) = data[4..].split_at(data.len() - FRAMING);
    assert_eq!(Md5::digest(message)[..], digest[..], "MD5 trailer");
    let (mut keys, mut hash_keys, mut records) = (Vec::new(), Vec::new(), Vec::new());
    for (field, value) in fields(message) {
        let text = |v: Result<u64, &[u8]>| String::from_utf8(v.unwrap_err().to_vec()).unwrap();
        match field {
            1 => keys.push(text(value)),
            2 => hash_keys.push(text(value)),
            3 => {
                let (mut key, mut hash_key, mut bytes) = (None, None, None);
                for (f, v) in fields(value.unwrap_err()) {
                    match f {
                        1 => key = Some(v.unwrap() as usize),
                        2 => hash_key = Some(v.unwrap() as usize),
                        3 => bytes = Some(v.unwrap_err().to_vec()),
                        other => panic!("Record field {other}"),
                    }
                }
                records.push((key.expect("partition_key_index"), hash_key, bytes.expect("data")));
            }
            other => panic!("AggregatedRecord field {other}"),
        }
    }
    let user = records
        .into_iter()
        .map(|(key, hash_key, data)| UserRecord {
            partition_key: keys[key].clone(),
            explicit_hash_key: hash_key.map(|i: usize| hash_keys[i].clone()),
            data,
        })
        .collect();
    Some(user)
}

fn keyed(id: u64, key: &str, data: &[u8]) -> Record {
    Record {
        id,
        data: data.to_vec().into(),
        partition_key: Some(key.to_string()),
    }
}

fn by_key(record: &Record) -> Placement {
    let hash = hash_key(record.partition_key.as_deref().unwrap());
    Placement {
        group: Group::Key(hash),
        hash_key: hash,
    }
}

fn aggregate_of(records: Vec<Record>, explicit_hash_key: Option<&str>) -> Aggregate {
    let mut records = records.into_iter();
    let first = records.next().unwrap();
    let placement = by_key(&first);
    let mut aggregate = Aggregate::new(first, "static", placement, explicit_hash_key.map(str::to_string));
    for record in records {
        let hash = by_key(&record).hash_key;
        aggregate.push(record, "static", hash);
    }
    aggregate
}

/// Written by `aws-kinesis-agg` 1.2.3 (the reference Python aggregator):
/// `RecordAggregator().add_user_record("pk1", b"hello")`, then `("pk2",
/// b"world")`, `("pk1", b"!")`, `clear_and_get().get_contents()[2]`.
const REFERENCE: [u8; 59] = [
    0xf3, 0x89, 0x9a, 0xc2, 0x0a, 0x03, 0x70, 0x6b, 0x31, 0x0a, 0x03, 0x70, 0x6b, 0x32, 0x1a, 0x09, 0x08, 0x00, 0x1a,
    0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x1a, 0x09, 0x08, 0x01, 0x1a, 0x05, 0x77, 0x6f, 0x72, 0x6c, 0x64, 0x1a, 0x05,
    0x08, 0x00, 0x1a, 0x01, 0x21, 0x13, 0x44, 0x1f, 0x92, 0x67, 0x22, 0x59, 0x80, 0x30, 0x32, 0x71, 0xd1, 0x33, 0x97,
    0x8a, 0xb4,
];

/// The same aggregator with an explicit hash key on every record:
/// `add_user_record("a", b"x", "123")`, `add_user_record("b", b"yy", "123")`.
const REFERENCE_WITH_HASH_KEY: [u8; 50] = [
    0xf3, 0x89, 0x9a, 0xc2, 0x0a, 0x01, 0x61, 0x0a, 0x01, 0x62, 0x12, 0x03, 0x31, 0x32, 0x33, 0x1a, 0x07, 0x08, 0x00,
    0x10, 0x00, 0x1a, 0x01, 0x78, 0x1a, 0x08, 0x08, 0x01, 0x10, 0x00, 0x1a, 0x02, 0x79, 0x79, 0x67, 0x5c, 0x5e, 0x33,
    0x61, 0x37, 0x02, 0xe0, 0x16, 0xd8, 0x4c, 0x9b, 0xcd, 0x91, 0x7e, 0x76,
];

/// The three records [`REFERENCE`] holds, aggregated here.
fn reference_aggregate() -> Aggregate {
    let records = vec![
        keyed(1, "pk1", b"hello"),
        keyed(2, "pk2", b"world"),
        keyed(3, "pk1", b"!"),
    ];
    aggregate_of(records, None)
}

#[test]
fn an_aggregate_is_byte_for_byte_what_the_reference_aggregator_writes() {
    let aggregate = reference_aggregate();
    assert_eq!(aggregate.encode(), REFERENCE);
    assert_eq!(aggregate.size(), REFERENCE.len() + "pk1".len(), "data + the outer key");
    assert_eq!(aggregate.partition_key(), Some("pk1"));

    let records = vec![keyed(1, "a", b"x"), keyed(2, "b", b"yy")];
    assert_eq!(aggregate_of(records, Some("123")).encode(), REFERENCE_WITH_HASH_KEY);
}

#[test]
fn the_trailer_is_the_md5_of_the_protobuf_bytes() {
    let data = reference_aggregate().encode();
    assert_eq!(data[..4], MAGIC);
    // hashlib.md5(data[4:-16]).hexdigest() of the reference bytes.
    assert_eq!(
        hex::encode(&data[data.len() - 16..]),
        "13441f9267225980303271d133978ab4"
    );
    let user = deaggregate(&data).unwrap();
    assert_eq!(user[2].partition_key, "pk1");
    assert_eq!(user[2].data, b"!");
    let mut spoiled = data.clone();
    spoiled[10] ^= 1;
    assert!(
        std::panic::catch_unwind(|| deaggregate(&spoiled)).is_err(),
        "a changed byte breaks the MD5"
    );
}

#[test]
fn encode_unsealed_into_appends_what_encode_returns_and_names_its_own_protobuf_for_the_md5() {
    let aggregate = reference_aggregate();
    let mut body = b"what the body holds before".to_vec();
    let protobuf = aggregate.encode_unsealed_into(&mut body);
    assert_eq!(protobuf, 30..body.len() - 16, "after the magic, before the trailer");
    let digest = Md5::digest(&body[protobuf.clone()]);
    body[protobuf.end..].copy_from_slice(&digest);
    let (before, written) = body.split_at(26);
    assert_eq!(before, b"what the body holds before");
    assert_eq!(written, REFERENCE, "byte for byte, MD5 trailer included");
    assert_eq!(aggregate.encoded_len(), REFERENCE.len());
}

#[test]
fn hash_keys_are_the_md5_of_the_key_as_a_big_endian_integer() {
    // int.from_bytes(hashlib.md5(b"pk1").digest(), "big")
    assert_eq!(hash_key("pk1"), 329398341438914906102347661116985167824);
    assert_eq!(decimal(hash_key("default")), "258034247056099696721315830246648215170");
    assert_eq!(decimal(10), "10");
}

#[test]
fn sizes_are_exact_across_varint_boundaries() {
    // 200 distinct keys take the key index past one varint byte; data of
    // 127/128 and 16383/16384 bytes cross the length varints.
    let mut records = Vec::new();
    for i in 0..200u64 {
        let len = [0, 1, 127, 128, 16_383, 16_384][i as usize % 6];
        records.push(keyed(i, &format!("key-{i}"), &vec![b'x'; len]));
        records.push(keyed(1000 + i, "key-0", b"again"));
    }
    let mut records = records.into_iter();
    let first = records.next().unwrap();
    let mut aggregate = Aggregate::new(first, "static", by_key(&keyed(0, "key-0", b"")), None);
    for record in records {
        let hash = by_key(&record).hash_key;
        let expected = aggregate.size_with(record.partition_key.as_deref().unwrap(), hash, record.data.len());
        aggregate.push(record, "static", hash);
        assert_eq!(aggregate.size(), expected);
        assert_eq!(aggregate.encode().len() + "key-0".len(), expected);
    }
    let user = deaggregate(&aggregate.encode()).unwrap();
    assert_eq!(user.len(), 400);
    assert_eq!(user[398].partition_key, "key-199");
    assert_eq!(user[399].partition_key, "key-0");
}

#[test]
fn one_event_counts_as_sent_plain() {
    let aggregate = aggregate_of(vec![keyed(1, "key", b"hello")], None);
    assert_eq!(aggregate.size(), "hello".len() + "key".len());
    let mut static_keyed = Aggregate::new(
        Record::new(1, b"hi".to_vec()),
        "static",
        by_key(&keyed(0, "k", b"")),
        None,
    );
    assert_eq!(static_keyed.size(), 2 + "static".len());
    let hash = static_keyed.placement().hash_key;
    static_keyed.push(Record::new(2, b"yo".to_vec()), "static", hash);
    assert_eq!(
        static_keyed.partition_key(),
        None,
        "the static key goes out as the encoder's"
    );
    let user = deaggregate(&static_keyed.encode()).unwrap();
    assert_eq!(user[1].partition_key, "static");
}

#[test]
fn the_packer_keeps_one_aggregate_per_group_in_order() {
    let mut packer = Packer::new(DEFAULT_MAX_SIZE, "static", None);
    for i in 0..6u64 {
        let record = keyed(i, if i % 2 == 0 { "even" } else { "odd" }, &[b'0' + i as u8]);
        let placement = by_key(&record);
        packer.add(record, placement);
    }
    assert_eq!((packer.units(), packer.events()), (2, 6));
    let units = packer.take();
    assert!(packer.is_empty());
    let ids = |a: &Aggregate| a.records().iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(ids(&units[0]), [0, 2, 4]);
    assert_eq!(ids(&units[1]), [1, 3, 5]);
    let payload: usize = units.iter().map(Aggregate::size).sum();
    assert_eq!(payload, units[0].encode().len() + 4 + units[1].encode().len() + 3);
}

#[test]
fn an_event_that_would_overfill_its_groups_aggregate_starts_the_next() {
    let two = aggregate_of(vec![keyed(0, "k", &[1; 40]), keyed(1, "k", &[1; 40])], None).size();
    // Exactly two such events fit.
    let mut packer = Packer::new(two, "static", None);
    let mut cost = Vec::new();
    for i in 0..5u64 {
        let record = keyed(i, "k", &[1; 40]);
        let placement = by_key(&record);
        cost.push(packer.cost(&record, &placement));
        packer.add(record, placement);
    }
    let plain = 41;
    assert_eq!(cost[0], (1, plain));
    assert_eq!(cost[1], (0, two - plain));
    assert_eq!(cost[2], (1, plain), "a third would overfill: a new aggregate");
    let units = packer.take();
    let sizes: Vec<usize> = units.iter().map(Aggregate::len).collect();
    assert_eq!(sizes, [2, 2, 1]);
    assert!(units.iter().all(|u| u.size() <= two));
    // An event bigger than the limit on its own still goes, alone and plain.
    let mut packer = Packer::new(10, "static", None);
    for i in 0..2 {
        let record = keyed(i, "k", &[1; 40]);
        let placement = by_key(&record);
        packer.add(record, placement);
    }
    assert_eq!(packer.units(), 2);
    assert_eq!(packer.payload(), 2 * 41);
}
