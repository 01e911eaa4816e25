use super::*;

fn sample(base: Instant, secs: u64, hit: u64, miss: u64, stale: u64) -> Sample {
    let mut requests = [0; RESULTS];
    requests[RequestResult::Hit as usize] = hit;
    requests[RequestResult::Miss as usize] = miss;
    requests[RequestResult::Stale as usize] = stale;
    Sample {
        at: base + Duration::from_secs(secs),
        wall: SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
        requests,
    }
}

#[test]
fn the_ring_keeps_the_last_samples_only() {
    let base = Instant::now();
    let mut h = History::with_capacity(3);
    for i in 0..5 {
        h.push(sample(base, i * 10, i, 0, 0));
    }
    assert_eq!(h.len(), 3);
    let now = sample(base, 40, 4, 0, 0);
    let iv = h.intervals(&now);
    // Samples 2, 3, 4 kept: two intervals; `now` is not later than the last.
    assert_eq!(iv.len(), 2);
    assert_eq!(iv[0].end, SystemTime::UNIX_EPOCH + Duration::from_secs(30));
    assert_eq!(iv[1].requests[RequestResult::Hit as usize], 1);
}

#[test]
fn rates_and_ratio_are_differences_of_consecutive_samples() {
    let base = Instant::now();
    let mut h = History::default();
    h.push(sample(base, 0, 0, 0, 0));
    h.push(sample(base, 10, 30, 10, 0));
    let now = sample(base, 15, 33, 10, 2);
    let iv = h.intervals(&now);
    assert_eq!(iv.len(), 2);
    assert_eq!(iv[0].seconds, 10.0);
    assert_eq!(iv[0].rate(RequestResult::Hit), 3.0);
    assert_eq!(iv[0].rate(RequestResult::Miss), 1.0);
    assert_eq!(iv[0].hit_ratio(), Some(0.75));
    // The partial interval to now: 3 HIT, 2 STALE, 0 MISS in 5 s.
    assert_eq!(iv[1].seconds, 5.0);
    assert_eq!(iv[1].rate(RequestResult::Stale), 0.4);
    assert_eq!(iv[1].hit_ratio(), Some(1.0));
}

#[test]
fn an_idle_interval_has_no_ratio_and_no_rate() {
    let base = Instant::now();
    let a = sample(base, 0, 5, 5, 0);
    let idle = Interval::between(&a, &sample(base, 10, 5, 5, 0));
    assert_eq!(idle.hit_ratio(), None);
    assert_eq!(idle.rate(RequestResult::Hit), 0.0);
    let zero = Interval::between(&a, &a);
    assert_eq!(zero.seconds, 0.0);
    assert_eq!(zero.rate(RequestResult::Hit), 0.0);
}

#[test]
fn a_counter_read_lower_later_counts_nothing() {
    let base = Instant::now();
    let iv = Interval::between(&sample(base, 0, 9, 0, 0), &sample(base, 10, 4, 0, 0));
    assert_eq!(iv.total(), 0);
}
