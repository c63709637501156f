//! Audit log throughput: `cargo bench --bench audit`.
//!
//! Prints one Markdown table. Appends per second for each durability mode
//! (8 threads appending at once, as concurrent roles would), and verify
//! speed on a 1,000,000-record log against the machine's raw sha256
//! throughput over the same bytes, which is the ceiling for any verifier
//! that hashes every record. With `AGENTWARD_BENCH_OUT` set, the rows go
//! to scripts/bench.sh's report.

mod report;

use agentward::audit::verify::verify_log;
use agentward::audit::{AuditLog, CallEvent, Decision, Durability};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::{Duration, Instant};

const THREADS: u64 = 8;
const VERIFY_RECORDS: u64 = 1_000_000;

fn event(n: u64) -> CallEvent {
    let mut args = serde_json::Map::new();
    args.insert("path".into(), format!("npm/team-{}/token", n % 97).into());
    args.insert("label".into(), "current".into());
    CallEvent {
        ts: "2026-11-25T10:00:00.123456789Z".into(),
        change_id: "01JBENCHCHANGE000000000000".into(),
        role: "tester".into(),
        component: "c0".repeat(32),
        call: "handles.acquire".into(),
        args,
        decision: Decision::Allow,
        outcome: "ok".into(),
        duration_us: n % 1000,
    }
}

/// Appends/s with `THREADS` threads appending `per_thread` records each.
fn appends_per_second(durability: Durability, per_thread: u64) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(AuditLog::open_dir(dir.path(), durability).unwrap());
    let started = Instant::now();
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                for n in 0..per_thread {
                    log.append(&event(t * per_thread + n)).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    (THREADS * per_thread) as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let buffered = appends_per_second(Durability::Buffered, 50_000);
    let each = appends_per_second(Durability::EachRecord, 250);
    let group = appends_per_second(Durability::GroupCommit, 250);

    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open_dir(dir.path(), Durability::Buffered).unwrap();
    for n in 0..VERIFY_RECORDS {
        log.append(&event(n)).unwrap();
    }
    let path = log.path().to_path_buf();
    let bytes = std::fs::metadata(&path).unwrap().len();
    // Warm the page cache so both sides read from memory.
    let contents = std::fs::read(&path).unwrap();
    let verify = best_of(3, || {
        let verified = verify_log(&path, &[]).unwrap();
        assert_eq!(verified.records, VERIFY_RECORDS);
    });
    let sha = best_of(3, || {
        std::hint::black_box(Sha256::digest(&contents));
    });
    drop(contents);
    let verify_rate = VERIFY_RECORDS as f64 / verify.as_secs_f64();
    let sha_rate = VERIFY_RECORDS as f64 / sha.as_secs_f64();

    println!();
    println!("| measurement | figure | baseline | ratio |");
    println!("| --- | ---: | ---: | ---: |");
    println!(
        "| appends/s, group commit ({THREADS} threads) vs one fdatasync per record | {group:.0} | {each:.0} | {:.1}× |",
        group / each
    );
    println!(
        "| appends/s, buffered (no fsync, {THREADS} threads) vs group commit | {buffered:.0} | {group:.0} | {:.1}× |",
        buffered / group
    );
    println!(
        "| verify, records/s ({VERIFY_RECORDS} records, {:.0} MiB) vs raw sha256 over the same bytes | {verify_rate:.0} | {sha_rate:.0} | {:.0}% |",
        bytes as f64 / (1 << 20) as f64,
        100.0 * verify_rate / sha_rate
    );
    let area = "3 audit";
    report::row(
        area,
        &format!("appends/s, group commit ({THREADS} threads) vs one fdatasync per record"),
        &report::rate(group),
        &report::rate(each),
        &format!("{:.1}× the rate", group / each),
    );
    report::row(
        area,
        &format!("appends/s, buffered (no fsync, {THREADS} threads) vs group commit"),
        &report::rate(buffered),
        &report::rate(group),
        &format!("{:.1}× the rate", buffered / group),
    );
    report::row(
        area,
        &format!(
            "verify, records/s ({VERIFY_RECORDS} records, {:.0} MiB) vs raw sha256 over the same bytes",
            bytes as f64 / (1 << 20) as f64
        ),
        &report::rate(verify_rate),
        &report::rate(sha_rate),
        &format!("{:.0}%", 100.0 * verify_rate / sha_rate),
    );
    report::target(
        area,
        "audit verify ≥ 50% of raw sha256 throughput",
        &format!("{:.0}%", 100.0 * verify_rate / sha_rate),
        verify_rate / sha_rate >= 0.5,
    );
    report::detail(
        area,
        &format!(
            "Verify of {VERIFY_RECORDS} records took {:.2?}; sha256 over the same {:.0} MiB took {:.2?} \
             ({:.0} MiB/s). Best of 3 each, file in the page cache.",
            verify,
            bytes as f64 / (1 << 20) as f64,
            sha,
            bytes as f64 / (1 << 20) as f64 / sha.as_secs_f64()
        ),
    );
    report::emit(
        "sha-mibs.txt",
        &format!("{:.0}", bytes as f64 / (1 << 20) as f64 / sha.as_secs_f64()),
    );
    println!(
        "\n(verify {:.2?}, sha256 {:.2?}: {:.0} MiB/s)",
        verify,
        sha,
        bytes as f64 / (1 << 20) as f64 / sha.as_secs_f64()
    );
}

fn best_of(runs: usize, mut f: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed()
        })
        .min()
        .unwrap()
}
