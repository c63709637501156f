//! One behavioural suite for every `SecretStore` backend, then the embedded
//! store's own tests: what its files reveal, tampering, KEK rotation and
//! interrupted writes.
//!
//! A backend joins the suite with one line in `backend_suite!` below: each
//! `contract::*` function takes only `&dyn SecretStore`.

use agentward::store::openbao::OpenBaoStore;
use agentward::store::{EmbeddedStore, Label, MemoryStore, SecretStore, SecretValue, StoreError};
use std::path::{Path, PathBuf};

#[path = "support/openbao.rs"]
mod bao;
#[path = "support/tls.rs"]
mod tls;

const CANARY: &str = "store_CANARY_7f3a91c2";

fn value(text: &str) -> SecretValue {
    SecretValue::new(text)
}

fn labels_of(store: &dyn SecretStore, path: &str) -> Vec<(u32, Vec<Label>)> {
    store
        .describe(path)
        .unwrap()
        .versions
        .into_iter()
        .map(|v| (v.version, v.labels))
        .collect()
}

/// The behaviour every backend owes its callers.
mod contract {
    use super::*;

    pub fn versions_are_numbered_and_immutable(store: &dyn SecretStore) {
        assert_eq!(
            store
                .put_pending("app/db", &value("v1"), Some("c1"))
                .unwrap(),
            1
        );
        let first = store.describe("app/db").unwrap().versions[0].clone();
        store.promote("app/db", 1, None).unwrap();
        assert_eq!(
            store
                .put_pending("app/db", &value("v2"), Some("c2"))
                .unwrap(),
            2
        );
        assert_eq!(store.put_pending("app/db", &value("v3"), None).unwrap(), 3);
        store.promote("app/db", 3, Some(1)).unwrap();
        store.promote("app/db", 1, Some(3)).unwrap();
        let meta = store.describe("app/db").unwrap();
        let numbers: Vec<u32> = meta.versions.iter().map(|v| v.version).collect();
        assert_eq!(numbers, vec![1, 2, 3]);
        // Label moves leave a version's own metadata and value alone.
        assert_eq!(meta.versions[0].created, first.created);
        assert_eq!(meta.versions[0].change_id.as_deref(), Some("c1"));
        assert_eq!(meta.versions[1].change_id.as_deref(), Some("c2"));
        assert_eq!(meta.versions[2].change_id, None);
        assert_eq!(store.read("app/db", Label::Current).unwrap().expose(), "v1");
        assert_eq!(
            store.read("app/db", Label::Previous).unwrap().expose(),
            "v3"
        );
        // Promoting version 3 took its pending label; version 2 never had
        // it back.
        assert!(matches!(
            store.read("app/db", Label::Pending),
            Err(StoreError::NoSuchLabel { .. })
        ));
        assert_eq!(
            labels_of(store, "app/db"),
            vec![
                (1, vec![Label::Current]),
                (2, vec![]),
                (3, vec![Label::Previous])
            ]
        );
    }

    pub fn put_pending_moves_pending(store: &dyn SecretStore) {
        store.put_pending("k", &value("a"), None).unwrap();
        store.promote("k", 1, None).unwrap();
        store.put_pending("k", &value("b"), None).unwrap();
        store.put_pending("k", &value("c"), None).unwrap();
        assert_eq!(
            labels_of(store, "k"),
            vec![
                (1, vec![Label::Current]),
                (2, vec![]),
                (3, vec![Label::Pending])
            ]
        );
        assert_eq!(store.read("k", Label::Pending).unwrap().expose(), "c");
        assert_eq!(store.read("k", Label::Current).unwrap().expose(), "a");
    }

    pub fn promote_sets_current_and_previous(store: &dyn SecretStore) {
        store.put_pending("k", &value("a"), None).unwrap();
        store.promote("k", 1, None).unwrap();
        assert_eq!(labels_of(store, "k"), vec![(1, vec![Label::Current])]);
        assert!(matches!(
            store.read("k", Label::Previous),
            Err(StoreError::NoSuchLabel {
                label: Label::Previous,
                ..
            })
        ));
        store.put_pending("k", &value("b"), None).unwrap();
        store.promote("k", 2, Some(1)).unwrap();
        assert_eq!(
            labels_of(store, "k"),
            vec![(1, vec![Label::Previous]), (2, vec![Label::Current])]
        );
        store.put_pending("k", &value("c"), None).unwrap();
        store.promote("k", 3, Some(2)).unwrap();
        assert_eq!(
            labels_of(store, "k"),
            vec![
                (1, vec![]),
                (2, vec![Label::Previous]),
                (3, vec![Label::Current])
            ]
        );
        assert_eq!(store.read("k", Label::Current).unwrap().expose(), "c");
        assert_eq!(store.read("k", Label::Previous).unwrap().expose(), "b");
        // Promoting what is current only drops a stray pending label.
        store.promote("k", 3, Some(3)).unwrap();
        assert_eq!(store.read("k", Label::Previous).unwrap().expose(), "b");
    }

    pub fn stale_cas_names_both_versions_and_changes_nothing(store: &dyn SecretStore) {
        store.put_pending("k", &value("a"), None).unwrap();
        store.promote("k", 1, None).unwrap();
        store.put_pending("k", &value("b"), None).unwrap();
        store.promote("k", 2, Some(1)).unwrap();
        store.put_pending("k", &value("c"), None).unwrap();
        let before = labels_of(store, "k");

        // A caller that read the metadata before version 2 was promoted.
        let err = store.promote("k", 3, Some(1)).unwrap_err();
        assert!(
            matches!(
                &err,
                StoreError::CasConflict { path, label: Label::Current, expected: Some(1), found: Some(2) }
                    if path == "k"
            ),
            "{err:?}"
        );
        let text = err.to_string();
        for needle in ["k", "current", "version 2", "version 1", "re-read"] {
            assert!(text.contains(needle), "{needle:?} missing from: {text}");
        }
        let err = store
            .move_label("k", Label::Pending, 1, Some(2))
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("pending") && text.contains("version 3") && text.contains("version 2"),
            "{text}"
        );
        assert_eq!(labels_of(store, "k"), before);
    }

    pub fn move_label_with_none_requires_an_absent_label(store: &dyn SecretStore) {
        store.put_pending("k", &value("a"), None).unwrap();
        store.put_pending("k", &value("b"), None).unwrap();
        store.move_label("k", Label::Current, 1, None).unwrap();
        let err = store.move_label("k", Label::Current, 2, None).unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::CasConflict {
                    expected: None,
                    found: Some(1),
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("no version"), "{err}");
        store.move_label("k", Label::Current, 2, Some(1)).unwrap();
        assert_eq!(store.read("k", Label::Current).unwrap().expose(), "b");
        store.move_label("k", Label::Previous, 1, None).unwrap();
        assert_eq!(store.read("k", Label::Previous).unwrap().expose(), "a");
    }

    pub fn missing_secrets_versions_and_labels(store: &dyn SecretStore) {
        assert!(matches!(
            store.read("nope", Label::Current),
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            store.describe("nope"),
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            store.promote("nope", 1, None),
            Err(StoreError::NotFound { .. })
        ));
        store.put_pending("k", &value("a"), None).unwrap();
        assert!(matches!(
            store.read("k", Label::Current),
            Err(StoreError::NoSuchLabel {
                label: Label::Current,
                ..
            })
        ));
        assert!(matches!(
            store.promote("k", 2, None),
            Err(StoreError::NoSuchVersion { version: 2, .. })
        ));
        assert!(matches!(
            store.move_label("k", Label::Current, 0, None),
            Err(StoreError::NoSuchVersion { version: 0, .. })
        ));
    }

    pub fn describe_never_exposes_values(store: &dyn SecretStore) {
        store.put_pending("k", &value(CANARY), Some("chg")).unwrap();
        store.promote("k", 1, None).unwrap();
        store.put_pending("k", &value(CANARY), None).unwrap();
        let meta = store.describe("k").unwrap();
        assert_eq!(meta.versions.len(), 2);
        let debug = format!("{meta:?}");
        let json = serde_json::to_string(&meta).unwrap();
        assert!(!debug.contains(CANARY), "{debug}");
        assert!(!json.contains(CANARY), "{json}");
        let value = store.read("k", Label::Current).unwrap();
        assert!(!format!("{value:?}").contains(CANARY));
    }

    pub fn list_filters_by_prefix_sorted(store: &dyn SecretStore) {
        for path in ["npm/token", "app/db", "npm/publish", "npmx", "app/api"] {
            store.put_pending(path, &value("x"), None).unwrap();
        }
        assert_eq!(
            store.list("").unwrap(),
            vec!["app/api", "app/db", "npm/publish", "npm/token", "npmx"]
        );
        assert_eq!(
            store.list("npm/").unwrap(),
            vec!["npm/publish", "npm/token"]
        );
        assert_eq!(store.list("app/d").unwrap(), vec!["app/db"]);
        assert!(store.list("zzz").unwrap().is_empty());
    }

    /// Racing rotators that all saw version 1 current: exactly one wins.
    pub fn concurrent_promotes_have_one_winner(store: &dyn SecretStore) {
        store.put_pending("k", &value("v1"), None).unwrap();
        store.promote("k", 1, None).unwrap();
        let versions: Vec<u32> = (0..8)
            .map(|i| {
                store
                    .put_pending("k", &value(&format!("v{i}")), None)
                    .unwrap()
            })
            .collect();
        let results: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = versions
                .iter()
                .map(|&v| scope.spawn(move || store.promote("k", v, Some(1)).map(|()| v)))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let winners: Vec<u32> = results
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .copied()
            .collect();
        assert_eq!(winners.len(), 1, "{results:?}");
        for err in results.iter().filter_map(|r| r.as_ref().err()) {
            assert!(
                matches!(
                    err,
                    StoreError::CasConflict {
                        expected: Some(1),
                        ..
                    }
                ),
                "{err:?}"
            );
        }
        let labels = labels_of(store, "k");
        assert_eq!(labels[0], (1, vec![Label::Previous]));
        assert!(labels[winners[0] as usize - 1].1.contains(&Label::Current));
    }
}

/// A backend under test, and whatever must outlive it.
struct Backend {
    store: Box<dyn SecretStore>,
    _dir: Option<tempfile::TempDir>,
}

fn memory() -> Backend {
    Backend {
        store: Box::new(MemoryStore::new()),
        _dir: None,
    }
}

fn embedded() -> Backend {
    let (dir, store) = embedded_store();
    Backend {
        store: Box::new(store),
        _dir: Some(dir),
    }
}

/// One dev server shared by the OpenBao suite, each test under its own
/// path prefix. It dies with the test process (see `support/openbao.rs`).
fn shared_bao() -> &'static bao::BaoServer {
    static SERVER: std::sync::OnceLock<bao::BaoServer> = std::sync::OnceLock::new();
    SERVER.get_or_init(bao::BaoServer::start)
}

fn unique_prefix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "t{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

fn openbao() -> Backend {
    let server = shared_bao();
    let store = OpenBaoStore::new(&server.addr(), &server.root_token, "secret")
        .with_prefix(&unique_prefix());
    Backend {
        store: Box::new(store),
        _dir: None,
    }
}

macro_rules! backend_suite {
    ($backend:ident: $($test:ident),* $(,)?) => {
        mod $backend {
            $(
                #[test]
                fn $test() {
                    let backend = super::$backend();
                    super::contract::$test(&*backend.store);
                }
            )*
        }
    };
}

macro_rules! for_each_backend {
    ($($backend:ident),*) => {
        $(
            backend_suite!($backend:
                versions_are_numbered_and_immutable,
                put_pending_moves_pending,
                promote_sets_current_and_previous,
                stale_cas_names_both_versions_and_changes_nothing,
                move_label_with_none_requires_an_absent_label,
                missing_secrets_versions_and_labels,
                describe_never_exposes_values,
                list_filters_by_prefix_sorted,
                concurrent_promotes_have_one_winner,
            );
        )*
    };
}

/// A second dev server, over TLS, its certificate verified against the
/// CA the server made (the public roots alone would refuse it).
fn shared_bao_tls() -> &'static bao::BaoServer {
    static SERVER: std::sync::OnceLock<bao::BaoServer> = std::sync::OnceLock::new();
    SERVER.get_or_init(bao::BaoServer::start_tls)
}

fn openbao_tls() -> Backend {
    let store = shared_bao_tls().root_store().with_prefix(&unique_prefix());
    Backend {
        store: Box::new(store),
        _dir: None,
    }
}

for_each_backend!(memory, embedded, openbao, openbao_tls);

#[test]
fn openbao_over_tls_without_its_ca_is_refused_naming_the_fix() {
    let server = shared_bao_tls();
    let store = OpenBaoStore::new(&server.addr(), &server.root_token, "secret");
    let error = store.list("").unwrap_err().to_string();
    assert!(
        error.contains(&format!("TLS to OpenBao at {} refused", server.addr())),
        "{error}"
    );
    assert!(error.contains("unknown issuer"), "{error}");
    assert!(error.contains("--openbao-ca-cert FILE"), "{error}");
}

// ---- OpenBao alone: faults, tokens, races ----

mod openbao_faults {
    use super::bao::BaoServer;
    use super::*;
    use agentward::store::RoleScopes;
    use std::time::{Duration, Instant};

    fn root_store(server: &BaoServer) -> OpenBaoStore {
        OpenBaoStore::new(&server.addr(), &server.root_token, "secret")
    }

    fn assert_unavailable_naming(err: &StoreError, needles: &[&str]) {
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
        let text = err.to_string();
        for needle in needles {
            assert!(text.contains(needle), "{needle:?} missing from: {text}");
        }
        assert!(!text.contains(CANARY), "a value leaked into: {text}");
    }

    #[test]
    fn server_down_is_a_clear_error_naming_the_address() {
        let mut server = BaoServer::start();
        let store = root_store(&server);
        store.put_pending("app/db", &value(CANARY), None).unwrap();
        server.stop();
        let addr = server.addr();
        let expected = format!("cannot reach OpenBao at {addr}");
        let needles = [
            expected.as_str(),
            "fix: start the server or check --openbao-addr",
        ];
        assert_unavailable_naming(&store.read("app/db", Label::Pending).unwrap_err(), &needles);
        assert_unavailable_naming(
            &store
                .put_pending("app/db", &value(CANARY), None)
                .unwrap_err(),
            &needles,
        );
        assert_unavailable_naming(&store.promote("app/db", 1, None).unwrap_err(), &needles);
        assert_unavailable_naming(&store.list("").unwrap_err(), &needles);
        assert_unavailable_naming(&store.describe("app/db").unwrap_err(), &needles);
    }

    #[test]
    fn restart_mid_rotation_is_a_clear_error_and_leaves_no_partial_state() {
        let mut server = BaoServer::start();
        let store = root_store(&server);
        store
            .put_pending("npm/token", &value("v1"), Some("c1"))
            .unwrap();
        store.promote("npm/token", 1, None).unwrap();
        let v2 = store
            .put_pending("npm/token", &value(CANARY), Some("c2"))
            .unwrap();
        // The server goes away between writing the pending version and
        // promoting it.
        server.stop();
        let err = store.promote("npm/token", v2, Some(1)).unwrap_err();
        assert_unavailable_naming(&err, &["cannot reach OpenBao at", &server.addr()]);
        // It comes back empty (a dev server keeps nothing): the rotation
        // finds no secret, not a half-promoted one.
        server.restart();
        let err = store.promote("npm/token", v2, Some(1)).unwrap_err();
        assert!(
            matches!(&err, StoreError::NotFound { path } if path == "npm/token"),
            "{err:?}"
        );
        assert!(matches!(
            store.read("npm/token", Label::Current),
            Err(StoreError::NotFound { .. })
        ));
        assert!(store.list("").unwrap().is_empty());
        // And the store works again from scratch.
        assert_eq!(
            store.put_pending("npm/token", &value("v1"), None).unwrap(),
            1
        );
        assert_eq!(
            labels_of(&store, "npm/token"),
            vec![(1, vec![Label::Pending])]
        );
    }

    #[test]
    fn a_concurrent_writer_between_read_and_write_is_a_cas_conflict() {
        let server = BaoServer::start();
        let other = root_store(&server);
        other.put_pending("k", &value("v1"), Some("c1")).unwrap();
        other.promote("k", 1, None).unwrap();
        // A second client (its own lock, as another process) writes
        // version 2 after our metadata read and before our data write.
        let racer = root_store(&server);
        let store = root_store(&server).with_before_write_hook(move || {
            racer
                .put_pending("k", &value("theirs"), Some("c-theirs"))
                .unwrap();
        });
        let err = store
            .put_pending("k", &value(CANARY), Some("c-ours"))
            .unwrap_err();
        assert!(
            matches!(
                &err,
                StoreError::CasConflict { path, expected: Some(1), found: Some(2), .. } if path == "k"
            ),
            "{err:?}"
        );
        assert!(!err.to_string().contains(CANARY));
        // Nothing of ours was written: two versions, theirs pending.
        let meta = other.describe("k").unwrap();
        assert_eq!(meta.versions.len(), 2);
        assert_eq!(meta.versions[1].change_id.as_deref(), Some("c-theirs"));
        assert_eq!(
            labels_of(&other, "k"),
            vec![(1, vec![Label::Current]), (2, vec![Label::Pending])]
        );
        assert_eq!(other.read("k", Label::Pending).unwrap().expose(), "theirs");
        // A raw stale write is refused by the server itself.
        let (status, body) = server.raw(
            "POST",
            "secret/data/k",
            &server.root_token,
            r#"{"options":{"cas":1},"data":{"value":"stale"}}"#,
        );
        assert_eq!(status, 400, "{body}");
        assert!(body.contains("check-and-set"), "{body}");
        // So is a blind write without `cas`: the store set cas_required.
        let (status, body) = server.raw(
            "POST",
            "secret/data/k",
            &server.root_token,
            r#"{"data":{"value":"blind"}}"#,
        );
        assert_eq!(status, 400, "{body}");
        assert!(body.contains("check-and-set"), "{body}");
        assert_eq!(other.describe("k").unwrap().versions.len(), 2);
    }

    /// Runs `f` the first time it is called only.
    fn once(f: impl Fn() + Send + Sync + 'static) -> impl Fn() + Send + Sync + 'static {
        let done = std::sync::atomic::AtomicBool::new(false);
        move || {
            if !done.swap(true, std::sync::atomic::Ordering::SeqCst) {
                f();
            }
        }
    }

    /// The labels record of `path` as the server holds it: (its KV
    /// version, its data).
    fn raw_labels(server: &BaoServer, path: &str) -> (u64, serde_json::Value) {
        let (status, body) = server.raw(
            "GET",
            &format!("secret/data/agentward-labels/{path}"),
            &server.root_token,
            "",
        );
        assert_eq!(status, 200, "{body}");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        (
            json.pointer("/data/metadata/version")
                .and_then(serde_json::Value::as_u64)
                .unwrap(),
            json.pointer("/data/data").cloned().unwrap(),
        )
    }

    /// A second, independent client (no lock or state shared with ours, as
    /// another process) moves `current` after we read the labels and before
    /// we write them: the server refuses our write, we report the conflict,
    /// and their move stands.
    #[test]
    fn another_clients_label_move_between_our_read_and_write_is_a_cas_conflict() {
        let server = BaoServer::start();
        let setup = root_store(&server);
        setup.put_pending("k", &value("v1"), Some("c1")).unwrap();
        setup.promote("k", 1, None).unwrap();
        setup.put_pending("k", &value("v2"), Some("c2")).unwrap();
        setup.put_pending("k", &value("v3"), Some("c3")).unwrap();
        let (record_before, _) = raw_labels(&server, "k");

        let other = root_store(&server);
        let store = root_store(&server).with_before_label_write_hook(once(move || {
            other.move_label("k", Label::Current, 2, Some(1)).unwrap();
        }));
        let err = store.promote("k", 3, Some(1)).unwrap_err();
        assert!(
            matches!(
                &err,
                StoreError::CasConflict {
                    path,
                    label: Label::Current,
                    expected: Some(1),
                    found: Some(2),
                } if path == "k"
            ),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(text.contains("is on version 2, not on version 1"), "{text}");
        // Their move survives, and nothing of our promote landed.
        assert_eq!(
            labels_of(&setup, "k"),
            vec![
                (1, vec![]),
                (2, vec![Label::Current]),
                (3, vec![Label::Pending]),
            ]
        );
        assert_eq!(setup.read("k", Label::Current).unwrap().expose(), "v2");
        let (record_after, data) = raw_labels(&server, "k");
        assert_eq!(record_after, record_before + 1, "exactly one write landed");
        assert_eq!(data["current"], 2);
        assert_eq!(data["changes"]["3"], "c3");

        // The same for move_label, the other client promoting.
        let other = root_store(&server);
        let store = root_store(&server).with_before_label_write_hook(once(move || {
            other.promote("k", 3, Some(2)).unwrap();
        }));
        let err = store
            .move_label("k", Label::Current, 1, Some(2))
            .unwrap_err();
        assert!(
            matches!(
                &err,
                StoreError::CasConflict {
                    label: Label::Current,
                    expected: Some(2),
                    found: Some(3),
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            labels_of(&setup, "k"),
            vec![
                (1, vec![]),
                (2, vec![Label::Previous]),
                (3, vec![Label::Current]),
            ]
        );

        // The server itself refuses a stale or a blind labels write.
        let (version, _) = raw_labels(&server, "k");
        let (status, body) = server.raw(
            "POST",
            "secret/data/agentward-labels/k",
            &server.root_token,
            &format!(
                r#"{{"options":{{"cas":{}}},"data":{{"current":1}}}}"#,
                version - 1
            ),
        );
        assert_eq!(status, 400, "{body}");
        assert!(body.contains("check-and-set"), "{body}");
        let (status, body) = server.raw(
            "POST",
            "secret/data/agentward-labels/k",
            &server.root_token,
            r#"{"data":{"current":1}}"#,
        );
        assert_eq!(status, 400, "{body}");
        assert!(body.contains("check-and-set"), "{body}");
        assert_eq!(raw_labels(&server, "k").0, version);
    }

    /// Another client moving a *different* label in the window also makes
    /// the server refuse our write; re-read, our expectation still holds, so
    /// our move lands on top of theirs and both survive.
    #[test]
    fn another_clients_move_of_another_label_is_kept_and_ours_retried() {
        let server = BaoServer::start();
        let setup = root_store(&server);
        setup.put_pending("k", &value("v1"), None).unwrap();
        setup.promote("k", 1, None).unwrap();
        setup.put_pending("k", &value("v2"), None).unwrap();
        let other = root_store(&server);
        let store = root_store(&server).with_before_label_write_hook(once(move || {
            other.move_label("k", Label::Previous, 2, None).unwrap();
        }));
        store.move_label("k", Label::Pending, 1, Some(2)).unwrap();
        assert_eq!(
            labels_of(&setup, "k"),
            vec![
                (1, vec![Label::Current, Label::Pending]),
                (2, vec![Label::Previous]),
            ]
        );
    }

    /// `put_pending` whose second step (the labels record) is refused: the
    /// error says the version exists unlabelled, and `resume_pending`
    /// finishes it, idempotently.
    #[test]
    fn a_failed_labelling_is_reported_and_resumable() {
        let server = BaoServer::start();
        let root = root_store(&server);
        root.put_pending("npm/token", &value("v1"), Some("c1"))
            .unwrap();
        root.promote("npm/token", 1, None).unwrap();
        // A token that may write versions but not labels.
        let policy = r#"
path "secret/data/npm/*" { capabilities = ["create", "update"] }
path "secret/metadata/npm/*" { capabilities = ["read", "create", "update"] }
path "secret/data/agentward-labels/npm/*" { capabilities = ["read"] }
path "auth/token/lookup-self" { capabilities = ["read"] }
"#;
        let (status, body) = server.raw(
            "PUT",
            "sys/policies/acl/half",
            &server.root_token,
            &serde_json::json!({ "policy": policy }).to_string(),
        );
        assert!(matches!(status, 200 | 204), "{body}");
        let (status, body) = server.raw(
            "POST",
            "auth/token/create",
            &server.root_token,
            r#"{"policies":["half"],"no_default_policy":true,"ttl":"300s"}"#,
        );
        assert_eq!(status, 200, "{body}");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        let token = json["auth"]["client_token"].as_str().unwrap();
        let half = OpenBaoStore::new(&server.addr(), token, "secret");

        let err = half
            .put_pending("npm/token", &value(CANARY), Some("c2"))
            .unwrap_err();
        assert_unavailable_naming(
            &err,
            &[
                "npm/token",
                "HTTP 403",
                "version 2 of \"npm/token\" was written but is not labelled pending",
                "resume_pending",
            ],
        );
        assert_eq!(
            labels_of(&root, "npm/token"),
            vec![(1, vec![Label::Current]), (2, vec![])]
        );
        assert!(matches!(
            root.read("npm/token", Label::Pending),
            Err(StoreError::NoSuchLabel { .. })
        ));
        // Resume, twice: the second is a no-op.
        root.resume_pending("npm/token", 2, Some("c2")).unwrap();
        let (version, _) = raw_labels(&server, "npm/token");
        root.resume_pending("npm/token", 2, Some("c2")).unwrap();
        assert_eq!(raw_labels(&server, "npm/token").0, version);
        let meta = root.describe("npm/token").unwrap();
        assert_eq!(meta.versions[1].labels, vec![Label::Pending]);
        assert_eq!(meta.versions[1].change_id.as_deref(), Some("c2"));
        assert_eq!(
            root.read("npm/token", Label::Pending).unwrap().expose(),
            CANARY
        );
        // A newer pending version wins over a late resume of an older one.
        let v3 = root.put_pending("npm/token", &value("v3"), None).unwrap();
        let err = root.resume_pending("npm/token", 2, Some("c2")).unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::CasConflict {
                    label: Label::Pending,
                    found: Some(found),
                    ..
                } if found == v3
            ),
            "{err:?}"
        );
    }

    /// Secrets labelled by the older layout (labels in `custom_metadata`)
    /// read as before; the first move writes the labels record.
    #[test]
    fn labels_in_the_older_layout_are_read_and_migrated() {
        let server = BaoServer::start();
        let root = root_store(&server);
        for v in ["old1", "old2"] {
            let (status, body) = server.raw(
                "POST",
                "secret/data/legacy",
                &server.root_token,
                &format!(r#"{{"data":{{"value":"{v}"}}}}"#),
            );
            assert_eq!(status, 200, "{body}");
        }
        let (status, body) = server.raw(
            "POST",
            "secret/metadata/legacy",
            &server.root_token,
            r#"{"custom_metadata":{"label.current":"1","label.pending":"2","change.2":"c2"}}"#,
        );
        assert!(matches!(status, 200 | 204), "{body}");
        assert_eq!(
            labels_of(&root, "legacy"),
            vec![(1, vec![Label::Current]), (2, vec![Label::Pending])]
        );
        assert_eq!(
            root.read("legacy", Label::Current).unwrap().expose(),
            "old1"
        );
        root.promote("legacy", 2, Some(1)).unwrap();
        let (_, data) = raw_labels(&server, "legacy");
        assert_eq!(data["current"], 2);
        assert_eq!(data["previous"], 1);
        assert_eq!(data["changes"]["2"], "c2");
        assert_eq!(
            root.read("legacy", Label::Current).unwrap().expose(),
            "old2"
        );
    }

    #[test]
    fn the_labels_records_are_neither_listed_nor_writable_as_secrets() {
        let server = BaoServer::start();
        let root = root_store(&server);
        root.put_pending("app/db", &value("x"), None).unwrap();
        assert_eq!(root.list("").unwrap(), vec!["app/db"]);
        let err = root
            .put_pending("agentward-labels/app/db", &value("x"), None)
            .unwrap_err();
        assert!(matches!(err, StoreError::InvalidPath { .. }), "{err:?}");
    }

    fn planner_scopes() -> RoleScopes {
        RoleScopes {
            read: vec!["npm/**".into()],
            write: vec![],
            meta: vec![],
        }
    }

    #[test]
    fn a_role_policy_is_written_only_when_it_changes() {
        let server = BaoServer::start();
        let root = root_store(&server);
        let version = || {
            let (status, answer) = server.policy("agentward-role-planner");
            assert_eq!(status, 200, "{answer}");
            let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
            (
                answer["data"]["version"].as_u64().unwrap(),
                answer["data"]["rules"].clone(),
            )
        };
        let ttl = Duration::from_secs(60);
        root.token_for_role("planner", &planner_scopes(), ttl, 0)
            .unwrap();
        let (first, rules) = version();
        // The same grants again: the policy is read, not rewritten.
        let planner = root
            .token_for_role("planner", &planner_scopes(), ttl, 0)
            .unwrap();
        assert_eq!(version(), (first, rules.clone()));
        assert!(planner.list("npm/").is_ok());
        // Wider grants: written again, and the new token has them.
        let wider = RoleScopes {
            read: vec!["npm/**".into(), "app/**".into()],
            ..planner_scopes()
        };
        root.token_for_role("planner", &wider, ttl, 0).unwrap();
        let (second, wider_rules) = version();
        assert!(second > first, "{first} -> {second}");
        assert_ne!(wider_rules, rules);
    }

    #[test]
    fn a_read_only_role_token_cannot_write_says_the_server() {
        let server = BaoServer::start();
        let root = root_store(&server);
        root.put_pending("npm/token", &value("v1"), None).unwrap();
        root.promote("npm/token", 1, None).unwrap();
        root.put_pending("app/db", &value("db"), None).unwrap();
        root.promote("app/db", 1, None).unwrap();

        let planner = root
            .token_for_role("planner", &planner_scopes(), Duration::from_secs(300), 0)
            .unwrap();
        // Reads in scope work.
        assert_eq!(
            planner.read("npm/token", Label::Current).unwrap().expose(),
            "v1"
        );
        assert_eq!(planner.list("npm/").unwrap(), vec!["npm/token"]);
        // The server itself refuses a write: raw HTTP, no agentward code.
        for (path, body) in [
            ("secret/data/npm/token", r#"{"data":{"value":"evil"}}"#),
            ("secret/data/npm/new", r#"{"data":{"value":"evil"}}"#),
            (
                "secret/metadata/npm/token",
                r#"{"custom_metadata":{"label.current":"1"}}"#,
            ),
            (
                "secret/data/agentward-labels/npm/token",
                r#"{"options":{"cas":1},"data":{"current":1}}"#,
            ),
            (
                "secret/data/agentward-labels/npm/token",
                r#"{"options":{"cas":2},"data":{"current":1}}"#,
            ),
            (
                "secret/metadata/agentward-labels/npm/token",
                r#"{"cas_required":false}"#,
            ),
            (
                "sys/policies/acl/agentward-role-planner",
                r#"{"policy":"path \"*\" {}"}"#,
            ),
        ] {
            let (status, answer) = server.raw("POST", path, planner.token(), body);
            assert_eq!(status, 403, "POST {path}: {answer}");
        }
        let (status, _) = server.raw("GET", "secret/data/app/db", planner.token(), "");
        assert_eq!(status, 403, "read outside the scope");
        // And through the store, a clear error.
        let err = planner
            .put_pending("npm/token", &value(CANARY), None)
            .unwrap_err();
        assert_unavailable_naming(
            &err,
            &[
                &server.addr(),
                "npm/token",
                "permission denied",
                "token is valid but its policies [agentward-role-planner] do not allow this",
                "fix: grant the role this path",
            ],
        );
        let err = planner.read("app/db", Label::Current).unwrap_err();
        assert_unavailable_naming(&err, &["app/db", "HTTP 403", "do not allow this"]);
        // It can read the labels, but not move them.
        assert_eq!(
            labels_of(&planner, "npm/token"),
            vec![(1, vec![Label::Current])]
        );
        let err = planner
            .move_label("npm/token", Label::Previous, 1, None)
            .unwrap_err();
        assert_unavailable_naming(&err, &["npm/token", "HTTP 403", "do not allow this"]);

        // Nothing changed.
        assert_eq!(
            labels_of(&root, "npm/token"),
            vec![(1, vec![Label::Current])]
        );
    }

    #[test]
    fn a_write_scoped_role_token_writes_only_inside_its_scope() {
        let server = BaoServer::start();
        let root = root_store(&server);
        root.put_pending("npm/token", &value("v1"), None).unwrap();
        root.promote("npm/token", 1, None).unwrap();
        let rotator = root
            .token_for_role(
                "rotator",
                &RoleScopes {
                    read: vec!["npm/*".into()],
                    write: vec!["npm/*".into()],
                    meta: vec![],
                },
                Duration::from_secs(300),
                0,
            )
            .unwrap();
        let v2 = rotator
            .put_pending("npm/token", &value("v2"), Some("c2"))
            .unwrap();
        rotator.promote("npm/token", v2, Some(1)).unwrap();
        assert_eq!(
            root.read("npm/token", Label::Current).unwrap().expose(),
            "v2"
        );
        // `npm/*` is one segment: npm/team/token is out of scope.
        let err = rotator
            .put_pending("npm/team/token", &value("x"), None)
            .unwrap_err();
        assert_unavailable_naming(&err, &["npm/team/token", "HTTP 403"]);
        let err = rotator
            .put_pending("app/db", &value("x"), None)
            .unwrap_err();
        assert_unavailable_naming(&err, &["app/db", "HTTP 403"]);
        assert_eq!(root.list("").unwrap(), vec!["npm/token"]);
    }

    #[test]
    fn an_expired_role_token_is_a_clear_error() {
        let server = BaoServer::start();
        let root = root_store(&server);
        root.put_pending("npm/token", &value(CANARY), None).unwrap();
        root.promote("npm/token", 1, None).unwrap();
        let planner = root
            .token_for_role("planner", &planner_scopes(), Duration::from_secs(1), 0)
            .unwrap();
        assert!(planner.read("npm/token", Label::Current).is_ok());
        let deadline = Instant::now() + Duration::from_secs(10);
        let err = loop {
            std::thread::sleep(Duration::from_millis(250));
            match planner.read("npm/token", Label::Current) {
                Err(err) => break err,
                Ok(_) if Instant::now() < deadline => continue,
                Ok(_) => panic!("token with ttl 1s still valid after 10s"),
            }
        };
        assert_unavailable_naming(&err, &[&server.addr(), "npm/token", "expired", "fix:"]);
        let (status, _) = server.raw("GET", "secret/data/npm/token", planner.token(), "");
        assert_eq!(status, 403);
    }

    #[test]
    fn a_revoked_or_used_up_role_token_is_a_clear_error() {
        let server = BaoServer::start();
        let root = root_store(&server);
        root.put_pending("npm/token", &value(CANARY), None).unwrap();
        root.promote("npm/token", 1, None).unwrap();
        let planner = root
            .token_for_role("planner", &planner_scopes(), Duration::from_secs(300), 0)
            .unwrap();
        assert!(planner.read("npm/token", Label::Current).is_ok());
        root.end_run_token(&planner).unwrap();
        let err = planner.read("npm/token", Label::Current).unwrap_err();
        assert_unavailable_naming(&err, &[&server.addr(), "npm/token", "revoked", "fix:"]);
        let (status, _) = server.raw("GET", "secret/data/npm/token", planner.token(), "");
        assert_eq!(status, 403);

        // num_uses: a read is two requests (labels record, data).
        let once = root
            .token_for_role("once", &planner_scopes(), Duration::from_secs(300), 2)
            .unwrap();
        assert!(once.read("npm/token", Label::Current).is_ok());
        let err = once.read("npm/token", Label::Current).unwrap_err();
        assert_unavailable_naming(&err, &["npm/token", "used up"]);
    }

    /// The shipped default policy's grants, enforced by the server: the
    /// planner (`secrets-meta` only) sees metadata but no value and cannot
    /// write; the implementer (`secrets-write`) rotates without reading values.
    #[test]
    fn default_policy_roles_get_server_enforced_tokens() {
        use agentward::policy::{Policy, RoleName};
        let policy = Policy::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/default.toml"),
            Path::new("."),
        )
        .unwrap();
        let server = BaoServer::start();
        let root = root_store(&server);
        root.put_pending("npm/token", &value(CANARY), None).unwrap();
        root.promote("npm/token", 1, None).unwrap();
        let token_for = |role: RoleName| {
            let scopes = policy.role(role).unwrap().grants.store_scopes();
            root.token_for_role(role.as_str(), &scopes, Duration::from_secs(300), 0)
                .unwrap()
        };

        let planner = token_for(RoleName::Planner);
        assert_eq!(planner.describe("npm/token").unwrap().versions.len(), 1);
        let err = planner.read("npm/token", Label::Current).unwrap_err();
        assert_unavailable_naming(&err, &["npm/token", "HTTP 403", "do not allow this"]);
        let (status, _) = server.raw("GET", "secret/data/npm/token", planner.token(), "");
        assert_eq!(status, 403);
        let (status, _) = server.raw(
            "POST",
            "secret/data/npm/token",
            planner.token(),
            r#"{"options":{"cas":1},"data":{"value":"evil"}}"#,
        );
        assert_eq!(status, 403);

        let implementer = token_for(RoleName::Implementer);
        let v2 = implementer
            .put_pending("npm/token", &value("v2"), Some("c2"))
            .unwrap();
        implementer.promote("npm/token", v2, Some(1)).unwrap();
        // The default implementer holds `handles` on npm/**: the host reads
        // values for its handles, so its token may read them too.
        assert_eq!(
            implementer
                .read("npm/token", Label::Current)
                .unwrap()
                .expose(),
            "v2"
        );
        assert_eq!(
            root.read("npm/token", Label::Current).unwrap().expose(),
            "v2"
        );
    }

    #[test]
    fn role_policies_translate_globs() {
        let server = BaoServer::start();
        let root = root_store(&server).with_prefix("team");
        let policy = root.role_policy(&RoleScopes {
            read: vec!["npm/**".into()],
            write: vec!["npm/*".into()],
            meta: vec![],
        });
        for needle in [
            "path \"secret/data/team/npm/*\"",
            "path \"secret/metadata/team/npm/*\"",
            "path \"secret/data/team/npm/+\"",
            "path \"secret/data/agentward-labels/team/npm/*\"",
            "path \"secret/data/agentward-labels/team/npm/+\"",
            "path \"secret/metadata/agentward-labels/team/npm/+\"",
        ] {
            assert!(policy.contains(needle), "{needle} missing from:\n{policy}");
        }
        assert!(!policy.contains("\"default\""));
    }

    /// Rough loopback throughput; prints, asserts nothing about speed.
    #[test]
    #[ignore]
    fn throughput_over_loopback() {
        let server = BaoServer::start();
        let store = root_store(&server);
        let n = 300;
        let start = Instant::now();
        for i in 0..n {
            store
                .put_pending(&format!("bench/s{}", i % 30), &value("x"), None)
                .unwrap();
        }
        let writes = n as f64 / start.elapsed().as_secs_f64();
        for i in 0..30 {
            store.promote(&format!("bench/s{i}"), 10, None).unwrap();
        }
        let start = Instant::now();
        for i in 0..n {
            store
                .read(&format!("bench/s{}", i % 30), Label::Current)
                .unwrap();
        }
        let reads = n as f64 / start.elapsed().as_secs_f64();
        let start = Instant::now();
        for i in 0..n {
            store.describe(&format!("bench/s{}", i % 30)).unwrap();
        }
        let describes = n as f64 / start.elapsed().as_secs_f64();
        println!(
            "OpenBao over loopback: put_pending {writes:.0}/s, read {reads:.0}/s, describe {describes:.0}/s"
        );
    }
}

// ---- The embedded store alone ----

fn kek_path(root: &Path) -> PathBuf {
    root.join("keys/store-kek.key")
}

fn secrets_dir(root: &Path) -> PathBuf {
    root.join("secrets")
}

fn embedded_store() -> (tempfile::TempDir, EmbeddedStore) {
    let root = tempfile::tempdir().unwrap();
    EmbeddedStore::create_kek(&kek_path(root.path())).unwrap();
    let store = EmbeddedStore::open(&secrets_dir(root.path()), &kek_path(root.path())).unwrap();
    (root, store)
}

/// Every file in the store directory, with its bytes.
fn store_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    files.sort();
    files
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn assert_names_file_as_invalid(err: &StoreError, file: &Path) {
    let text = err.to_string();
    assert!(
        text.contains(&file.display().to_string()),
        "error does not name {}: {text}",
        file.display()
    );
    assert!(
        text.contains("not a valid, authentic agentward secret file"),
        "{text}"
    );
}

#[test]
fn values_are_not_in_the_files_in_plaintext() {
    use base64::Engine;
    let (_root, store) = embedded_store();
    store
        .put_pending("npm/token", &value(CANARY), None)
        .unwrap();
    store.promote("npm/token", 1, None).unwrap();
    store
        .put_pending("npm/token", &value(&format!("{CANARY}-2")), None)
        .unwrap();
    let encodings = [
        CANARY.as_bytes().to_vec(),
        hex::encode(CANARY).into_bytes(),
        base64::engine::general_purpose::STANDARD
            .encode(CANARY)
            .into_bytes(),
        // "CANARY" alone, in case an encoding splits the value.
        b"CANARY".to_vec(),
    ];
    let files = store_files(store.dir());
    assert!(files
        .iter()
        .any(|(p, _)| p.extension().is_some_and(|e| e == "secret")));
    for (path, bytes) in &files {
        for needle in &encodings {
            assert!(
                !contains(bytes, needle),
                "{} holds the value",
                path.display()
            );
        }
    }
    // Secret files are private.
    use std::os::unix::fs::PermissionsExt;
    let file = store.file_for("npm/token").unwrap();
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn every_flipped_byte_is_a_clear_error_naming_the_file() {
    let (_root, store) = embedded_store();
    store
        .put_pending("app/db", &value(CANARY), Some("c1"))
        .unwrap();
    store.promote("app/db", 1, None).unwrap();
    store.put_pending("app/db", &value("second"), None).unwrap();
    let file = store.file_for("app/db").unwrap();
    let original = std::fs::read(&file).unwrap();
    for i in 0..original.len() {
        let mut bytes = original.clone();
        bytes[i] ^= 0x01;
        std::fs::write(&file, &bytes).unwrap();
        for label in [Label::Current, Label::Pending] {
            match store.read("app/db", label) {
                Ok(v) => panic!("byte {i} flipped, yet {label:?} read as {:?}", v.expose()),
                Err(err) => assert_names_file_as_invalid(&err, &file),
            }
        }
        let err = store.describe("app/db").unwrap_err();
        assert_names_file_as_invalid(&err, &file);
    }
    std::fs::write(&file, &original).unwrap();
    assert_eq!(
        store.read("app/db", Label::Current).unwrap().expose(),
        CANARY
    );
}

#[test]
fn truncated_empty_and_foreign_files_are_clear_errors() {
    let (_root, store) = embedded_store();
    store.put_pending("k", &value(CANARY), None).unwrap();
    let file = store.file_for("k").unwrap();
    let original = std::fs::read(&file).unwrap();
    let foreign: Vec<Vec<u8>> = vec![
        original[..original.len() / 2].to_vec(),
        original[..original.len() - 3].to_vec(),
        Vec::new(),
        b"{}".to_vec(),
        b"\x00\xff\xfe garbage".to_vec(),
        br#"{"format":"something-else/1","path":"k"}"#.to_vec(),
        String::from_utf8(original.clone())
            .unwrap()
            .replace("agentward-secret/1", "agentward-secret/2")
            .into_bytes(),
    ];
    for bytes in foreign {
        std::fs::write(&file, &bytes).unwrap();
        let err = store.read("k", Label::Pending).unwrap_err();
        assert_names_file_as_invalid(&err, &file);
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    }
}

#[test]
fn a_file_copied_onto_another_secret_is_refused() {
    let (_root, store) = embedded_store();
    store.put_pending("a", &value("value-of-a"), None).unwrap();
    store.put_pending("b", &value("value-of-b"), None).unwrap();
    let (fa, fb) = (store.file_for("a").unwrap(), store.file_for("b").unwrap());
    std::fs::copy(&fa, &fb).unwrap();
    let err = store.read("b", Label::Pending).unwrap_err();
    assert_names_file_as_invalid(&err, &fb);
    // Also with the path inside the file rewritten to match its new name.
    let text = std::fs::read_to_string(&fa).unwrap();
    let forged = text.replace("\"path\": \"a\"", "\"path\": \"b\"");
    assert_ne!(forged, text);
    std::fs::write(&fb, forged).unwrap();
    let err = store.read("b", Label::Pending).unwrap_err();
    assert_names_file_as_invalid(&err, &fb);
    assert!(err.to_string().contains("authentication failed"), "{err}");
    // Neither attempt ever yields a's value under b's name.
    assert_eq!(
        store.read("a", Label::Pending).unwrap().expose(),
        "value-of-a"
    );
}

/// `(version, nonce, ciphertext, wrapped_key)` of each version in a file.
fn sealed_fields(file: &Path) -> Vec<(u64, String, String, String)> {
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    doc["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["version"].as_u64().unwrap(),
                v["nonce"].as_str().unwrap().to_string(),
                v["ciphertext"].as_str().unwrap().to_string(),
                v["wrapped_key"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn kek_rotation_rewraps_keys_and_leaves_ciphertexts_alone() {
    let (root, store) = embedded_store();
    let paths = ["a", "b/c", "d"];
    for path in paths {
        store
            .put_pending(path, &value(&format!("{path}-1")), None)
            .unwrap();
        store.promote(path, 1, None).unwrap();
        store
            .put_pending(path, &value(&format!("{path}-2")), None)
            .unwrap();
    }
    let before: Vec<_> = paths
        .iter()
        .map(|p| sealed_fields(&store.file_for(p).unwrap()))
        .collect();

    let new_kek = root.path().join("keys/store-kek-2.key");
    EmbeddedStore::create_kek(&new_kek).unwrap();
    assert_eq!(store.rotate_kek(&new_kek).unwrap(), paths.len());

    for (path, old) in paths.iter().zip(&before) {
        let new = sealed_fields(&store.file_for(path).unwrap());
        assert_eq!(new.len(), old.len());
        for (n, o) in new.iter().zip(old) {
            assert_eq!((n.0, &n.1, &n.2), (o.0, &o.1, &o.2), "ciphertext changed");
            assert_ne!(n.3, o.3, "data key not rewrapped");
        }
        assert_eq!(
            store.read(path, Label::Current).unwrap().expose(),
            format!("{path}-1")
        );
    }
    let reopened = EmbeddedStore::open(&secrets_dir(root.path()), &new_kek).unwrap();
    for path in paths {
        assert_eq!(
            reopened.read(path, Label::Pending).unwrap().expose(),
            format!("{path}-2")
        );
    }
    let with_old = EmbeddedStore::open(&secrets_dir(root.path()), &kek_path(root.path())).unwrap();
    let err = with_old.read("a", Label::Current).unwrap_err();
    assert!(matches!(err, StoreError::Kek { .. }), "{err:?}");
    assert!(err.to_string().contains("key id"), "{err}");
    // The same key again is refused, not a silent no-op.
    assert!(reopened.rotate_kek(&new_kek).is_err());
}

#[test]
fn an_interrupted_kek_rotation_can_be_run_again() {
    let (root, store) = embedded_store();
    for path in ["a", "b", "c"] {
        store.put_pending(path, &value(path), None).unwrap();
    }
    let file_b = store.file_for("b").unwrap();
    let old_b = std::fs::read(&file_b).unwrap();
    let new_kek = root.path().join("keys/store-kek-2.key");
    EmbeddedStore::create_kek(&new_kek).unwrap();
    store.rotate_kek(&new_kek).unwrap();
    // As if the rotation had stopped before reaching "b".
    std::fs::write(&file_b, old_b).unwrap();
    let with_new = EmbeddedStore::open(&secrets_dir(root.path()), &new_kek).unwrap();
    let err = with_new.read("b", Label::Pending).unwrap_err();
    assert!(err.to_string().contains("rotate_kek again"), "{err}");

    let with_old = EmbeddedStore::open(&secrets_dir(root.path()), &kek_path(root.path())).unwrap();
    assert_eq!(with_old.rotate_kek(&new_kek).unwrap(), 1);
    for path in ["a", "b", "c"] {
        assert_eq!(with_new.read(path, Label::Pending).unwrap().expose(), path);
    }
}

#[test]
fn a_missing_kek_says_how_to_create_it() {
    let root = tempfile::tempdir().unwrap();
    let err = EmbeddedStore::open(&secrets_dir(root.path()), &kek_path(root.path()))
        .err()
        .unwrap();
    let text = err.to_string();
    assert!(text.contains("store-kek.key"), "{text}");
    assert!(text.contains("is missing"), "{text}");
    assert!(text.contains("create_kek"), "{text}");
    assert!(text.contains("restore"), "{text}");
}

#[test]
fn an_open_kek_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let kek = kek_path(root.path());
    EmbeddedStore::create_kek(&kek).unwrap();
    std::fs::set_permissions(&kek, std::fs::Permissions::from_mode(0o604)).unwrap();
    let err = EmbeddedStore::open(&secrets_dir(root.path()), &kek)
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .contains(&format!("chmod 600 {}", kek.display())),
        "{err}"
    );
}

#[test]
fn a_leftover_temp_file_is_ignored_and_cleaned_on_open() {
    let (root, store) = embedded_store();
    store.put_pending("k", &value("kept"), None).unwrap();
    let file = store.file_for("k").unwrap();
    let original = std::fs::read(&file).unwrap();
    drop(store);
    // An interrupted write: a half-written temp file beside its target.
    let temp = secrets_dir(root.path()).join(".tmp-00c0ffee00c0ffee");
    std::fs::write(&temp, &original[..original.len() / 3]).unwrap();

    let store = EmbeddedStore::open(&secrets_dir(root.path()), &kek_path(root.path())).unwrap();
    assert!(!temp.exists(), "temp file survived open");
    assert_eq!(store.list("").unwrap(), vec!["k"]);
    assert_eq!(store.read("k", Label::Pending).unwrap().expose(), "kept");
    assert_eq!(std::fs::read(&file).unwrap(), original);
    // Nothing but the secret and the lock file remains.
    let names: Vec<_> = store_files(store.dir())
        .into_iter()
        .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        vec![".lock".to_string(), hex::encode("k") + ".secret"]
    );
}

#[test]
fn stray_files_do_not_show_up_as_secrets() {
    let (_root, store) = embedded_store();
    store.put_pending("k", &value("x"), None).unwrap();
    std::fs::write(store.dir().join("README"), "notes").unwrap();
    std::fs::write(store.dir().join("not-hex.secret"), "{}").unwrap();
    assert_eq!(store.list("").unwrap(), vec!["k"]);
}

/// Rough figures, not an assertion:
/// `cargo test --release --test store -- --ignored --nocapture`.
#[test]
#[ignore]
fn embedded_throughput() {
    use std::time::Instant;
    let (root, store) = embedded_store();
    let puts = 2_000;
    let start = Instant::now();
    for i in 0..puts {
        store
            .put_pending(
                &format!("bench/{i:05}"),
                &value("a-secret-value-of-40-bytes-or-so-xxxxxx"),
                None,
            )
            .unwrap();
    }
    let put_secs = start.elapsed().as_secs_f64();
    let gets = 20_000;
    let start = Instant::now();
    for i in 0..gets {
        let path = format!("bench/{:05}", i % puts);
        store.read(&path, Label::Pending).unwrap();
    }
    let get_secs = start.elapsed().as_secs_f64();
    println!(
        "put_pending (new secret, fsync): {:.0}/s; read: {:.0}/s",
        puts as f64 / put_secs,
        gets as f64 / get_secs
    );
    let start = Instant::now();
    for i in puts..10_000 {
        store
            .put_pending(&format!("bench/{i:05}"), &value("v"), None)
            .unwrap();
    }
    println!(
        "filled to 10,000 secrets in {:.1}s",
        start.elapsed().as_secs_f64()
    );
    drop(store);
    let start = Instant::now();
    let store = EmbeddedStore::open(&secrets_dir(root.path()), &kek_path(root.path())).unwrap();
    let open = start.elapsed();
    let start = Instant::now();
    let listed = store.list("bench/").unwrap().len();
    println!(
        "open with 10,000 secrets: {:.2} ms; list of {listed}: {:.2} ms",
        open.as_secs_f64() * 1e3,
        start.elapsed().as_secs_f64() * 1e3
    );
}
