//! Tests of `Flights`: leaders, followers, answers that keep the key,
//! retired flights, and the waits on them.

use super::*;

fn key(n: u8) -> Key {
    Key([n; 32])
}

#[tokio::test]
async fn followers_get_the_leaders_outcome() {
    let flights = Arc::new(Flights::<u32>::default());
    let Role::Leader(leader) = flights.join(key(1)) else {
        panic!("first joiner must lead")
    };
    let mut waiters = Vec::new();
    for _ in 0..10 {
        let Role::Follower(f) = flights.join(key(1)) else {
            panic!("later joiners must follow")
        };
        waiters.push(tokio::spawn(f.outcome()));
    }
    leader.finish(7);
    for w in waiters {
        assert_eq!(w.await.unwrap(), Some(7));
    }
    assert!(flights.is_empty());
}

#[tokio::test]
async fn a_dropped_leader_releases_followers_and_the_key() {
    let flights = Arc::new(Flights::<u32>::default());
    let Role::Leader(leader) = flights.join(key(2)) else {
        panic!("first joiner must lead")
    };
    let Role::Follower(f) = flights.join(key(2)) else {
        panic!("second joiner must follow")
    };
    drop(leader);
    assert_eq!(f.outcome().await, None);
    assert!(matches!(flights.join(key(2)), Role::Leader(_)));
}

#[tokio::test]
async fn distinct_keys_fly_independently() {
    let flights = Arc::new(Flights::<u32>::default());
    let a = flights.join(key(3));
    let b = flights.join(key(4));
    assert!(matches!(a, Role::Leader(_)) && matches!(b, Role::Leader(_)));
    assert_eq!(flights.len(), 2);
}

#[tokio::test]
async fn an_answer_keeps_the_key_and_late_joiners_get_it_at_once() {
    let flights = Arc::new(Flights::<u32>::default());
    let Role::Leader(leader) = flights.join(key(6)) else {
        panic!("first joiner must lead")
    };
    let Role::Follower(early) = flights.join(key(6)) else {
        panic!("second joiner must follow")
    };
    assert!(!early.late());
    leader.answer(9);
    let Role::Follower(late) = flights.join(key(6)) else {
        panic!("the key is still held after the answer")
    };
    assert!(late.late());
    assert_eq!(early.outcome().await, Some(9));
    assert_eq!(late.outcome().await, Some(9));
    drop(leader);
    assert!(flights.is_empty());
    tokio::time::timeout(std::time::Duration::from_secs(10), flights.idle())
        .await
        .expect("idle once the leader is gone");
}

#[tokio::test]
async fn a_retired_flight_gives_the_key_to_the_next_joiner() {
    let flights = Arc::new(Flights::<u32>::default());
    let Role::Leader(old) = flights.join(key(7)) else {
        panic!("first joiner must lead")
    };
    old.answer(1);
    let Role::Follower(f) = flights.join(key(7)) else {
        panic!("must follow")
    };
    flights.retire(&key(7), f.id());
    let Role::Leader(new) = flights.join(key(7)) else {
        panic!("a retired flight no longer holds the key")
    };
    assert!(flights.answered(&key(7)).is_none(), "not answered yet");
    // The old leader's end does not end the new flight.
    drop(old);
    assert!(flights.is_running(&key(7)));
    new.finish(2);
    assert!(flights.is_empty());
}

#[tokio::test]
async fn answered_flights_that_are_named_are_retired() {
    let flights = Arc::new(Flights::<u32>::default());
    let Role::Leader(a) = flights.join(key(8)) else {
        panic!("lead")
    };
    let Role::Leader(b) = flights.join(key(9)) else {
        panic!("lead")
    };
    let Role::Leader(_running) = flights.join(key(10)) else {
        panic!("lead")
    };
    a.answer(8);
    b.answer(9);
    assert_eq!(flights.answered(&key(8)).map(|(_, v)| v), Some(8));
    assert_eq!(flights.retire_answered(|v| *v == 8), [8]);
    assert!(flights.answered(&key(8)).is_none());
    assert!(matches!(flights.join(key(8)), Role::Leader(_)));
    assert_eq!(flights.answered(&key(9)).map(|(_, v)| v), Some(9));
    assert!(flights.is_running(&key(10)), "no answer, not named");
}

#[tokio::test]
async fn landed_waits_for_the_named_answered_flights_to_end() {
    let flights = Arc::new(Flights::<u32>::default());
    let Role::Leader(a) = flights.join(key(11)) else {
        panic!("lead")
    };
    let Role::Leader(b) = flights.join(key(12)) else {
        panic!("lead")
    };
    a.answer(1);
    b.answer(2);
    let short = Duration::from_millis(20);
    assert!(!flights.landed(|v| *v == 1, short).await, "a still runs");
    let waiter = {
        let flights = Arc::clone(&flights);
        tokio::spawn(async move { flights.landed(|v| *v == 1, Duration::from_secs(10)).await })
    };
    drop(a);
    assert!(waiter.await.unwrap(), "a ended");
    assert!(flights.landed(|v| *v == 3, short).await, "none named");
    drop(b);
}

#[tokio::test]
async fn a_follower_joining_after_finish_starts_a_new_flight() {
    let flights = Arc::new(Flights::<u32>::default());
    let Role::Leader(leader) = flights.join(key(5)) else {
        panic!("first joiner must lead")
    };
    leader.finish(1);
    assert!(matches!(flights.join(key(5)), Role::Leader(_)));
}
