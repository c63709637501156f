//! Secret stores against what their storage costs bare:
//! `cargo bench --bench store`.
//!
//! - embedded put (`put_pending` of a new secret: encrypt, write a temp file,
//!   fsync, rename, fsync the directory, under the store's lock file) versus
//!   writing the same number of bytes to a new file in the same directory
//!   and `fsync`ing it; and versus that plus the rename and directory
//!   fsync an atomic replace needs (the floor for a crash-safe write).
//! - embedded get (`read`: read the file, parse, unwrap the data key,
//!   decrypt) versus `std::fs::read` of the same file.
//! - OpenBao over loopback (`bao server -dev` on 127.0.0.1, started like
//!   tests/support/openbao.rs): `read` and `put_pending` versus one bare KV v2
//!   GET / POST of `secret/data/<path>` on a keep-alive connection to the
//!   same server.
//!
//! Subject and baseline operations alternate, so drift hits both. About 20 s.
//! With `AGENTWARD_BENCH_OUT` set, the rows go to scripts/bench.sh's report.

#[path = "../../tests/support/openbao.rs"]
mod openbao;
mod report;
#[path = "../../tests/support/tls.rs"]
mod tls;

use agentward::store::openbao::OpenBaoStore;
use agentward::store::{EmbeddedStore, Label, SecretStore, SecretValue};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

const AREA: &str = "4 store";
const VALUE: &str = "npm_bench_0123456789abcdefghijklmnopqrstuvwxyz";
const PUTS: usize = 150;
const GETS: usize = 20_000;
const BAO_PUTS: usize = 150;
const BAO_GETS: usize = 600;

fn time(f: impl FnOnce()) -> Duration {
    let started = Instant::now();
    f();
    started.elapsed()
}

fn per_second(total: Duration, n: usize) -> f64 {
    n as f64 / total.as_secs_f64()
}

fn sync_dir(dir: &Path) {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .expect("fsync directory");
}

fn embedded() {
    let root = tempfile::tempdir().expect("tempdir");
    let kek = root.path().join("keys/store-kek.key");
    EmbeddedStore::create_kek(&kek).expect("kek");
    let store = EmbeddedStore::open(&root.path().join("secrets"), &kek).expect("store");
    let dir = store.dir().to_path_buf();
    let value = SecretValue::new(VALUE);

    // Size of one stored secret, for the baseline's writes.
    store.put_pending("bench/probe", &value, None).unwrap();
    let size = std::fs::metadata(store.file_for("bench/probe").unwrap())
        .unwrap()
        .len() as usize;
    let bytes = vec![b'x'; size];

    let (mut put, mut bare, mut atomic) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    for i in 0..PUTS {
        put += time(|| {
            store
                .put_pending(&format!("bench/{i:05}"), &value, None)
                .unwrap();
        });
        bare += time(|| {
            let mut f = std::fs::File::create(dir.join(format!("bare-{i:05}"))).unwrap();
            f.write_all(&bytes).unwrap();
            f.sync_all().unwrap();
        });
        atomic += time(|| {
            let tmp = dir.join(format!(".bare-tmp-{i:05}"));
            let mut f = std::fs::File::create(&tmp).unwrap();
            f.write_all(&bytes).unwrap();
            f.sync_all().unwrap();
            std::fs::rename(&tmp, dir.join(format!("atomic-{i:05}"))).unwrap();
            sync_dir(&dir);
        });
    }
    let (put, bare, atomic) = (
        per_second(put, PUTS),
        per_second(bare, PUTS),
        per_second(atomic, PUTS),
    );

    let files: Vec<_> = (0..PUTS)
        .map(|i| store.file_for(&format!("bench/{i:05}")).unwrap())
        .collect();
    let (mut get, mut read) = (Duration::ZERO, Duration::ZERO);
    for round in 0..GETS / PUTS {
        get += time(|| {
            for i in 0..PUTS {
                let v = store
                    .read(&format!("bench/{:05}", (i + round) % PUTS), Label::Pending)
                    .unwrap();
                std::hint::black_box(v);
            }
        });
        read += time(|| {
            for i in 0..PUTS {
                std::hint::black_box(std::fs::read(&files[(i + round) % PUTS]).unwrap());
            }
        });
    }
    let n = GETS / PUTS * PUTS;
    let (get, read) = (per_second(get, n), per_second(read, n));

    report::row(
        AREA,
        &format!("embedded put (`put_pending`, new secret) vs write + fsync of {size} bytes to a new file, same directory"),
        &report::rate(put),
        &report::rate(bare),
        &format!("{:.2}× the time", bare / put),
    );
    report::row(
        AREA,
        "  same, vs write + fsync + rename + directory fsync (an atomic replace)",
        &report::rate(put),
        &report::rate(atomic),
        &format!("{:.2}× the time", atomic / put),
    );
    report::row(
        AREA,
        "embedded get (`read`: parse, unwrap key, AES-GCM decrypt) vs `std::fs::read` of the same file",
        &report::rate(get),
        &report::rate(read),
        &format!("{:.1}× the time", read / get),
    );
    report::detail(
        AREA,
        &format!(
            "- Ratios in this area are time per operation (baseline rate / subject rate): \
             how many times longer the store takes than the bare I/O.\n\
             - Embedded: {PUTS} puts of new secrets ({size}-byte files) interleaved with \
             the baselines; {n} gets over those secrets, page cache warm."
        ),
    );
}

fn openbao() -> Result<(), String> {
    let server = std::panic::catch_unwind(openbao::BaoServer::start).map_err(|e| {
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "bao server did not start".into())
    })?;
    let store = OpenBaoStore::new(&server.addr(), &server.root_token, "secret");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let url = |path: &str| format!("{}/v1/secret/data/{path}", server.addr());
    let token = server.root_token.clone();
    let bare_write = |path: &str| {
        let mut response = agent
            .post(url(path))
            .header("X-Vault-Token", &token)
            .header("Content-Type", "application/json")
            .send(format!("{{\"data\":{{\"value\":\"{VALUE}\"}}}}"))
            .expect("bare KV write");
        assert_eq!(response.status().as_u16(), 200);
        response.body_mut().read_to_vec().unwrap();
    };
    let bare_read = |path: &str| {
        let mut response = agent
            .get(url(path))
            .header("X-Vault-Token", &token)
            .call()
            .expect("bare KV read");
        assert_eq!(response.status().as_u16(), 200);
        response.body_mut().read_to_vec().unwrap();
    };
    let value = SecretValue::new(VALUE);
    // Warm both connections.
    store.put_pending("bench/warm", &value, None).unwrap();
    bare_write("bare/warm");

    let (mut put, mut bare_put) = (Duration::ZERO, Duration::ZERO);
    for i in 0..BAO_PUTS {
        let path = format!("s{:02}", i % 30);
        put += time(|| {
            store
                .put_pending(&format!("bench/{path}"), &value, None)
                .unwrap();
        });
        bare_put += time(|| bare_write(&format!("bare/{path}")));
    }
    let (mut get, mut bare_get) = (Duration::ZERO, Duration::ZERO);
    for i in 0..BAO_GETS {
        let path = format!("s{:02}", i % 30);
        get += time(|| {
            std::hint::black_box(
                store
                    .read(&format!("bench/{path}"), Label::Pending)
                    .unwrap(),
            );
        });
        bare_get += time(|| bare_read(&format!("bare/{path}")));
    }
    let (put, bare_put) = (per_second(put, BAO_PUTS), per_second(bare_put, BAO_PUTS));
    let (get, bare_get) = (per_second(get, BAO_GETS), per_second(bare_get, BAO_GETS));
    report::row(
        AREA,
        "OpenBao put (`put_pending`) vs one bare KV v2 write (POST `secret/data/…`), loopback, keep-alive",
        &report::rate(put),
        &report::rate(bare_put),
        &format!("{:.1}× the time", bare_put / put),
    );
    report::row(
        AREA,
        "OpenBao get (`read`) vs one bare KV v2 read (GET `secret/data/…`), loopback, keep-alive",
        &report::rate(get),
        &report::rate(bare_get),
        &format!("{:.1}× the time", bare_get / get),
    );
    report::detail(
        AREA,
        &format!(
            "- OpenBao: `bao server -dev` (in-memory storage) on 127.0.0.1; {BAO_PUTS} puts over 30 \
             secrets and {BAO_GETS} gets, each followed by its bare request. A `read` is two KV \
             requests (the labels record, then the version); a `put_pending` reads the metadata \
             and labels, writes the version with check-and-set and rewrites the labels record."
        ),
    );
    Ok(())
}

fn main() {
    embedded();
    if let Err(why) = openbao() {
        let why = why.lines().next().unwrap_or_default().to_string();
        eprintln!("OpenBao rows not measured: {why}");
        report::row(
            AREA,
            "OpenBao get/put over loopback",
            "not measured",
            "—",
            &format!("not run: {why}"),
        );
    }
}
