//! Memory under load: what the daemon holds stays near `[cache] memory`,
//! whatever the number of misses at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::support::{get, Sandbox, Upstream};

/// A `VmHWM` / `VmRSS` figure of process `pid`, in MiB.
fn vm_mib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a figure in kB");
    kib / 1024
}

#[tokio::test(flavor = "multi_thread")]
async fn compressing_a_burst_of_misses_keeps_memory_bounded() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon_cache(&up, "memory = \"2MiB\"", "");
    const PAGES: usize = 300;
    let next = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..32)
        .map(|_| {
            let (next, main) = (Arc::clone(&next), d.main);
            tokio::spawn(async move {
                let mut kept = 0;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= PAGES {
                        return kept;
                    }
                    // 72 KiB: past brotli's first block, as most pages are.
                    let page = format!("/_preload/p{i}?size=73728");
                    let reply = get(main, &page, &["Accept-Encoding: br"]).await;
                    kept += usize::from(reply.cache() == "MISS");
                }
            })
        })
        .collect();
    let mut kept = 0;
    for client in clients {
        kept += client.await.expect("client task");
    }
    assert_eq!(kept, PAGES);
    // Compressed after the answers (at most `WRITES_BEHIND` of them
    // waiting at once): the peak is measured once every page is written.
    d.wait_kept(PAGES as u64).await;
    let last = get(d.main, "/_preload/p0?size=73728", &["Accept-Encoding: br"]).await;
    assert_eq!(last.header("content-encoding"), Some("br"));
    let (peak, now) = (vm_mib(d.pid(), "VmHWM:"), vm_mib(d.pid(), "VmRSS:"));
    // Generous: 2 MiB of hot bodies, a small index, buffers of 32
    // connections. It was over 200 MiB when every miss compressed at once.
    assert!(peak < 100, "peak RSS {peak} MiB (now {now} MiB)");
}
