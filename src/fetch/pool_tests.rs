use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio::io::DuplexStream;

use super::*;
use crate::connector::ConnectTimeout;

fn pool() -> Arc<Pool> {
    Pool::new(Connector::new(ConnectTimeout::new(Duration::from_secs(1))))
}

/// A connection to an app that is the other end of an in-memory pipe,
/// kept open in `ends`.
async fn conn(authority: &str, ends: &mut Vec<DuplexStream>) -> Conn {
    let (near, far) = tokio::io::duplex(1024);
    let (sender, connection) = http1::handshake::<_, Body>(TokioIo::new(near))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    ends.push(far);
    Conn {
        sender,
        authority: authority.parse().expect("authority"),
    }
}

#[tokio::test]
async fn at_most_keep_idle_connections_are_kept_and_the_newest_is_taken() {
    let pool = pool();
    let mut ends = Vec::new();
    for _ in 0..KEEP_IDLE + 3 {
        let c = conn("app:80", &mut ends).await;
        pool.put(c);
    }
    assert_eq!(pool.idle_count(), KEEP_IDLE);
    let app: Authority = "app:80".parse().unwrap();
    assert!(pool.take(&app).is_some());
    assert_eq!(pool.idle_count(), KEEP_IDLE - 1);
}

#[tokio::test]
async fn at_most_keep_held_connections_are_held_and_the_rest_go_idle() {
    let pool = pool();
    let mut ends = Vec::new();
    let visitors: Vec<Held> = (0..KEEP_HELD + 2).map(|_| Held::new(&pool)).collect();
    for held in &visitors {
        held.keep(conn("app:80", &mut ends).await);
    }
    assert_eq!(visitors[0].held_count(), KEEP_HELD);
    assert_eq!(pool.idle_count(), 2, "the two past the bound went idle");
    let app: Authority = "app:80".parse().unwrap();
    assert!(visitors[0].take(&app).is_some());
    assert_eq!(visitors[0].held_count(), KEEP_HELD - 1);
    drop(visitors);
    assert_eq!(pool.held.load(Ordering::Relaxed), 0);
    assert_eq!(pool.idle_count(), KEEP_IDLE);
}

#[tokio::test]
async fn idle_connections_expire() {
    let pool = pool();
    let mut ends = Vec::new();
    for _ in 0..3 {
        let c = conn("app:80", &mut ends).await;
        pool.put(c);
    }
    pool.sweep(Instant::now() + IDLE_TIMEOUT / 2);
    assert_eq!(pool.idle_count(), 3, "not yet");
    pool.sweep(Instant::now() + IDLE_TIMEOUT);
    assert_eq!(pool.idle_count(), 0);
}

#[tokio::test]
async fn another_apps_and_closed_connections_are_never_taken() {
    let pool = pool();
    let mut ends = Vec::new();
    let old = conn("old:80", &mut ends).await;
    pool.put(old);
    let app: Authority = "app:80".parse().unwrap();
    assert!(pool.take(&app).is_none(), "a reload moved the app");
    assert_eq!(pool.idle_count(), 0, "the old app's connection is closed");

    let c = conn("app:80", &mut ends).await;
    pool.put(c);
    // The app closes it.
    ends.clear();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let closed = pool
            .idle
            .lock()
            .back()
            .is_some_and(|kept| kept.conn.sender.is_closed());
        if closed {
            break;
        }
        assert!(Instant::now() < deadline, "the close is seen");
        tokio::task::yield_now().await;
    }
    assert!(pool.take(&app).is_none());
}

#[tokio::test]
async fn a_visitor_connection_gives_its_app_connection_back_when_it_closes() {
    let pool = pool();
    let mut ends = Vec::new();
    let held = Held::new(&pool);
    let c = conn("app:80", &mut ends).await;
    held.keep(c);
    let app: Authority = "app:80".parse().unwrap();
    let again = held.take(&app).expect("kept for the next request");
    held.keep(again);
    assert_eq!(pool.idle_count(), 0);
    drop(held);
    assert_eq!(pool.idle_count(), 1);
}
