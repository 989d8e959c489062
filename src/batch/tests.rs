use super::*;

fn batcher(max_events: usize, max_request_size: usize) -> Batcher {
    Batcher::new(BatchLimits {
        max_events,
        max_request_size,
        partition_key_len: 7,
    })
}

fn rec(id: u64, len: usize) -> Record {
    Record::new(id, vec![b'x'; len])
}

fn drain(b: &mut Batcher) -> Vec<Vec<u64>> {
    std::iter::from_fn(|| b.pop_ready())
        .map(|batch| batch.records.iter().map(|r| r.id).collect())
        .collect()
}

#[test]
fn exactly_max_events_closes_a_batch() {
    let mut b = batcher(500, usize::MAX);
    for id in 0..499 {
        b.add(rec(id, 1));
    }
    assert!(b.pop_ready().is_none());
    b.add(rec(499, 1));
    let batches = drain(&mut b);
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].len(), 500);
    assert!(b.is_empty());
}

#[test]
fn the_501st_event_starts_a_new_batch() {
    let mut b = batcher(500, usize::MAX);
    (0..501).for_each(|id| b.add(rec(id, 1)));
    assert_eq!(drain(&mut b).len(), 1);
    assert_eq!(b.len(), 1);
    b.close();
    assert_eq!(drain(&mut b), vec![vec![500]]);
}

#[test]
fn exactly_the_request_limit_fits_one_byte_over_does_not() {
    // Two records of 50 + 7 (partition key) bytes = 114 = the limit.
    let mut b = batcher(500, 114);
    b.add(rec(1, 50));
    b.add(rec(2, 50));
    assert_eq!(drain(&mut b), vec![vec![1, 2]]);

    let mut b = batcher(500, 114);
    b.add(rec(1, 50));
    b.add(rec(2, 51));
    assert_eq!(drain(&mut b), vec![vec![1]]);
    b.close();
    assert_eq!(drain(&mut b), vec![vec![2]]);
}

#[test]
fn batches_keep_event_order() {
    let mut b = batcher(3, usize::MAX);
    (0..7).for_each(|id| b.add(rec(id, 1)));
    b.close();
    assert_eq!(drain(&mut b), vec![vec![0, 1, 2], vec![3, 4, 5], vec![6]]);
}

#[test]
fn payload_counts_data_plus_partition_key() {
    let mut b = batcher(500, usize::MAX);
    b.add(rec(1, 10));
    b.add(rec(2, 0));
    b.close();
    assert_eq!(b.pop_ready().unwrap().payload_bytes, 10 + 7 + 7);
}
