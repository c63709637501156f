//! An OpenBao (or Vault) [`SecretStore`] over the KV v2 HTTP API, each
//! call one of vaultrs's endpoint types (sent by `client`).
//!
//! Layout, for store path `p` under mount `secret` and prefix `pre`:
//!
//! * versions are KV v2 versions of `secret/data/pre/p`; the value is the
//!   data field `value`;
//! * labels and change ids live in a separate KV v2 record, the *labels
//!   record* `secret/data/agentward-labels/pre/p`, whose data is
//!   `{"current": 3, "pending": 4, "changes": {"4": "chg-12"}}`. The first
//!   segment `agentward-labels` is therefore reserved (no secret path may
//!   start with it), and listing skips it.
//!
//! Secrets whose labels still sit in the older layout (`custom_metadata`
//! keys `label.current`, `change.4`) are read from there until their first
//! label change, which creates the labels record.
//!
//! # Concurrency
//!
//! Every write is a server-side check-and-set, so two clients (threads,
//! processes or hosts, with no lock shared between them) cannot silently
//! overwrite each other:
//!
//! * a new version is written with `options.cas` set to the latest version
//!   we saw; `cas_required = true` is set on the secret's metadata *before*
//!   its first version is written, so the server refuses any data write to
//!   it that does not name the version it replaces, from any client;
//! * a label move (`move_label`, `promote`, the `pending` label of
//!   `put_pending`) reads the labels record, checks the caller's
//!   expectation, and writes the new labels with `options.cas` = the
//!   version of the labels record it read (the labels record has
//!   `cas_required = true` too). If anyone changed the labels in between,
//!   the server refuses the write; the store then re-reads and re-checks:
//!   if the label the caller named moved, that is a
//!   [`StoreError::CasConflict`] naming the expected and the found version
//!   and the other client's move stands; if only another label moved, the
//!   check still holds and the write is retried against the new record.
//!
//! No in-process lock is needed or kept: the server is the only arbiter.
//!
//! `put_pending` is two writes (new version, then the labels record). If
//! the second fails, the new version exists unlabelled: no label points at
//! it, so nothing reads it, and the error says so and names the version.
//! [`OpenBaoStore::resume_pending`] finishes the labelling; it is
//! idempotent, so it can be retried until it succeeds. If a *newer* version
//! was labelled pending meanwhile, the older one is left unlabelled and the
//! answer is a [`StoreError::CasConflict`] on `pending`.
//!
//! What is not atomic: labels and versions are two KV records, so a reader
//! can see a new version before its `pending` label (harmless: nothing
//! reads an unlabelled version). A client with raw `update` on the labels
//! record can still write it (with the right `cas`); role tokens get that
//! only for their write scopes. Write scopes also hold `update` on the
//! labels record's KV metadata (to set `cas_required` on a new one), so a
//! misbehaving writer in scope could switch `cas_required` off and write
//! blindly; the store's own writes always carry `cas`, whatever the flag.
//!
//! # Per-role tokens
//!
//! [`OpenBaoStore::token_for_role`] turns a role's secret path globs into an
//! OpenBao ACL policy and a child token holding only that policy, so the
//! server itself refuses what the role may not do.
//!
//! KV v2 keeps `max_versions` versions (10 by default on a mount); older
//! versions disappear from [`SecretStore::describe`].

mod client;
mod labels;
mod records;
mod tokens;
mod transit;

pub use records::{KvRecord, WrittenRecord};

pub use tokens::glob_to_policy_path;

use super::{
    labels::holder, Label, LabelChange, RoleRunStore, RoleScopes, SecretAttributes, SecretMeta,
    SecretStore, SecretValue, StoreError, VersionMeta,
};
use crate::net::tls::TlsClient;
use client::Reply;
use labels::LabelsRecord;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vaultrs::api::kv2::requests::{
    ListSecretsRequest, ReadSecretMetadataRequest, ReadSecretRequest, SetSecretMetadataRequest,
    SetSecretRequest, SetSecretRequestOptions,
};
use vaultrs::api::kv2::responses::{
    ListSecretsResponse, ReadSecretMetadataResponse, ReadSecretResponse, SecretVersionMetadata,
};
use zeroize::Zeroizing;

/// How long one request to the server may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The first path segment, inside the mount, of the labels records.
const LABELS_DIR: &str = "agentward-labels";

/// The first path segment of the records hosts coordinate by (leases,
/// claims, replicated journals: `crate::cluster`); reserved like
/// [`LABELS_DIR`].
pub const CLUSTER_DIR: &str = "agentward-cluster";

/// A KV v2 store on an OpenBao server, over HTTPS (certificates verified
/// as [`crate::net::tls`] says) or plain HTTP on loopback.
#[derive(Clone)]
pub struct OpenBaoStore {
    nodes: Arc<client::Nodes>,
    token: Arc<Zeroizing<String>>,
    mount: String,
    prefix: String,
    agent: ureq::Agent,
    /// Test hook: runs in `put_pending` between the metadata read and the
    /// check-and-set data write.
    before_write: Option<Hook>,
    /// Test hook: runs between every read of a labels record and the
    /// check-and-set write of it.
    before_label_write: Option<Hook>,
    /// The accessor of a role token: names it in the audit log and lets an
    /// operator look it up or revoke it, without being able to use it.
    accessor: Option<Arc<str>>,
    /// With a transit key, values are encrypted by OpenBao's transit engine
    /// before they are stored in KV (envelope encryption: KV holds only
    /// `vault:v1:…` ciphertext, and decrypting needs a separate grant).
    transit_key: Option<Arc<str>>,
    /// A role run's store ends with the run: no request to the server
    /// outlasts its deadline. The call it fails is recorded as cut off by
    /// the deadline, and the epoch stops the guest at its next check.
    deadline: Option<Instant>,
}

/// The transit engine's mount.
const TRANSIT_MOUNT: &str = "transit";

type Hook = Arc<dyn Fn() + Send + Sync>;

impl std::fmt::Debug for OpenBaoStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenBaoStore")
            .field("nodes", &self.nodes.all())
            .field("mount", &self.mount)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl OpenBaoStore {
    /// A store at `addr` (e.g. `http://127.0.0.1:8200`) using `token`, with
    /// secrets under KV v2 mount `mount` (the dev server's is `secret`).
    pub fn new(addr: &str, token: &str, mount: &str) -> Self {
        let agent = TlsClient::default().agent(REQUEST_TIMEOUT);
        OpenBaoStore {
            nodes: Arc::new(client::Nodes::parse(addr)),
            token: Arc::new(Zeroizing::new(token.to_string())),
            mount: mount.trim_matches('/').to_string(),
            prefix: String::new(),
            agent,
            before_write: None,
            before_label_write: None,
            accessor: None,
            transit_key: None,
            deadline: None,
        }
    }

    /// Runs `hook` inside every `put_pending`, after the metadata read and
    /// before the check-and-set write: lets a test put a concurrent writer
    /// exactly in that window.
    #[doc(hidden)]
    pub fn with_before_write_hook(mut self, hook: impl Fn() + Send + Sync + 'static) -> Self {
        self.before_write = Some(Arc::new(hook));
        self
    }

    /// Runs `hook` before every check-and-set write of a labels record,
    /// after the labels were read and checked: lets a test put another
    /// client's label move exactly in that window.
    #[doc(hidden)]
    pub fn with_before_label_write_hook(mut self, hook: impl Fn() + Send + Sync + 'static) -> Self {
        self.before_label_write = Some(Arc::new(hook));
        self
    }

    /// Keeps every secret under `prefix/` inside the mount: several stores
    /// (or test cases) can share one server without seeing each other.
    pub fn with_prefix(mut self, prefix: &str) -> Self {
        let prefix = prefix.trim_matches('/');
        self.prefix = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}/")
        };
        self
    }

    /// The node requests go to now (of the addresses given to [`OpenBaoStore::new`]).
    pub fn addr(&self) -> String {
        self.nodes.current().to_string()
    }

    /// Verifies the server's certificate with `tls` (the public roots plus
    /// the CA of `--openbao-ca-cert` / `BAO_CACERT`).
    pub fn with_tls(mut self, tls: &TlsClient) -> Self {
        self.agent = tls.agent(REQUEST_TIMEOUT);
        self
    }

    /// Encrypts new values with transit key `key` (see
    /// [`OpenBaoStore::ensure_transit_key`]) before they reach KV.
    pub fn with_transit(mut self, key: &str) -> Self {
        self.transit_key = Some(Arc::from(key));
        self
    }

    fn kv(&self, path: &str) -> String {
        format!("{}{}", self.prefix, path)
    }

    /// The secret's KV v2 metadata, or `None` if it does not exist.
    fn metadata(&self, path: &str) -> Result<Option<Meta>, StoreError> {
        let reply = self.send(&ReadSecretMetadataRequest {
            mount: self.mount.clone(),
            path: self.kv(path),
        })?;
        match reply.status {
            200 => {
                let what = format!("the metadata read of {path:?}");
                let meta: ReadSecretMetadataResponse = self.answer(&reply, &what, Reply::data)?;
                Ok(Some(Meta::from(meta)))
            }
            404 => Ok(None),
            _ => Err(self.fail("read the metadata of", path, &reply)),
        }
    }

    /// Version `version` (the latest: `None`) of the KV v2 record at
    /// `kv_path` (inside the mount), or `None` with the server's answer if
    /// it has none.
    fn read_version(
        &self,
        kv_path: String,
        version: Option<u64>,
    ) -> Result<Result<ReadSecretResponse, Reply>, StoreError> {
        let what = format!("the read of {kv_path:?}");
        let reply = self.send(&ReadSecretRequest {
            mount: self.mount.clone(),
            path: kv_path,
            version,
        })?;
        if reply.status != 200 {
            return Ok(Err(reply));
        }
        self.answer(&reply, &what, Reply::data).map(Ok)
    }

    fn existing_metadata(&self, path: &str) -> Result<Meta, StoreError> {
        self.metadata(path)?.ok_or_else(|| StoreError::NotFound {
            path: path.to_string(),
        })
    }

    /// Sets `cas_required` on the KV v2 metadata of `kv_path` (creating
    /// the metadata if need be; other metadata fields are kept).
    fn require_cas(&self, kv_path: String, what: &str, path: &str) -> Result<(), StoreError> {
        let reply = self.send(&SetSecretMetadataRequest {
            mount: self.mount.clone(),
            path: kv_path,
            cas_required: Some(true),
            ..SetSecretMetadataRequest::default()
        })?;
        match reply.status {
            200 | 204 => Ok(()),
            _ => Err(self.fail(what, path, &reply)),
        }
    }

    /// Writes `data` as the next version of the KV v2 record at `kv_path`
    /// (inside the mount), as a check-and-set on `version`.
    fn write_version(
        &self,
        kv_path: String,
        version: u32,
        data: Map<String, Value>,
    ) -> Result<Reply, StoreError> {
        self.send(&SetSecretRequest {
            mount: self.mount.clone(),
            path: kv_path,
            data: Value::Object(data),
            options: Some(SetSecretRequestOptions { cas: version }),
        })
    }

    /// Whether a check-and-set write was taken (`Some(false)`: the record
    /// is no longer at the version it named; `None`: another refusal).
    fn cas_written(reply: &Reply) -> Option<bool> {
        match reply.status {
            200 | 204 => Some(true),
            400 if reply.errors().contains("check-and-set") => Some(false),
            _ => None,
        }
    }

    /// The names directly under `dir` (inside the mount; "" or ending in
    /// `/`); subdirectories end in `/`. `what` names the listing in an
    /// error: (the action, the path).
    fn names_under(&self, dir: String, what: (&str, &str)) -> Result<Vec<String>, StoreError> {
        let reply = self.send(&ListSecretsRequest {
            mount: self.mount.clone(),
            path: dir,
        })?;
        match reply.status {
            200 => {
                let listing = format!("the listing of {:?}", what.1);
                let names: ListSecretsResponse = self.answer(&reply, &listing, Reply::data)?;
                Ok(names.keys)
            }
            404 => Ok(Vec::new()),
            _ => Err(self.fail(what.0, what.1, &reply)),
        }
    }

    fn list_dir(&self, dir: &str, out: &mut Vec<String>) -> Result<(), StoreError> {
        for key in self.names_under(self.kv(dir), ("list", dir))? {
            let full = format!("{dir}{key}");
            if self.prefix.is_empty()
                && [LABELS_DIR, CLUSTER_DIR]
                    .map(|d| format!("{d}/"))
                    .contains(&full)
            {
                continue; // the labels and cluster records, not secrets
            }
            if key.ends_with('/') {
                self.list_dir(&full, out)?;
            } else {
                out.push(full);
            }
        }
        Ok(())
    }
}

fn check_path(path: &str) -> Result<(), StoreError> {
    let bad = |reason: &str| {
        Err(StoreError::InvalidPath {
            path: path.to_string(),
            reason: reason.to_string(),
        })
    };
    if path.is_empty() || path.starts_with('/') || path.ends_with('/') {
        return bad("a path is relative, non-empty and does not end in /");
    }
    if path
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return bad("empty, . and .. segments are not allowed");
    }
    if path.contains(['?', '#', '%', ' ']) || path.chars().any(char::is_control) {
        return bad("?, #, %, spaces and control characters are not allowed");
    }
    if path.split('/').next() == Some(LABELS_DIR) {
        return bad("the first segment agentward-labels is reserved for the labels records");
    }
    if path.split('/').next() == Some(CLUSTER_DIR) {
        return bad(
            "the first segment agentward-cluster is reserved for the records hosts coordinate by",
        );
    }
    Ok(())
}

/// A secret's KV v2 metadata.
struct Meta {
    /// The latest version number (0: none).
    current_version: u32,
    /// version → created_time, for the versions the server still keeps.
    created: BTreeMap<u32, String>,
    custom: BTreeMap<String, String>,
}

impl From<ReadSecretMetadataResponse> for Meta {
    fn from(meta: ReadSecretMetadataResponse) -> Meta {
        Meta {
            current_version: meta.current_version as u32,
            created: meta
                .versions
                .into_iter()
                .filter_map(|(number, v)| Some((number.parse().ok()?, v.created_time)))
                .collect(),
            custom: meta
                .custom_metadata
                .unwrap_or_default()
                .into_iter()
                .collect(),
        }
    }
}

impl Meta {
    fn attributes(&self) -> SecretAttributes {
        let mut attributes = SecretAttributes::default();
        for (key, value) in &self.custom {
            match key.strip_prefix("attr.") {
                Some("owner") => attributes.owner = Some(value.clone()),
                Some("expires") => attributes.expires = Some(value.clone()),
                Some("scopes") => {
                    attributes.scopes = value.split(',').map(str::to_string).collect()
                }
                Some("origins") => {
                    attributes.origins = value.split(' ').map(str::to_string).collect()
                }
                Some(other) => attributes.custom.push((other.to_string(), value.clone())),
                None => {}
            }
        }
        attributes
    }
}

/// Host calls one role run may make through its token: generous for a
/// rotation step, small enough that a stolen token is soon spent.
pub const ROLE_RUN_TOKEN_USES: u32 = 1_000;

impl SecretStore for OpenBaoStore {
    /// A child token for the run whose policy is generated from the role's
    /// grants, expiring with the step's deadline, revoked when it ends.
    fn for_role_run(
        &self,
        role: &str,
        scopes: &RoleScopes,
        deadline: Duration,
    ) -> Result<Option<RoleRunStore>, StoreError> {
        let ends = Instant::now() + deadline;
        let ttl = Duration::from_secs(deadline.as_secs_f64().ceil().max(1.0) as u64);
        let mut child = self.token_for_role(role, scopes, ttl, ROLE_RUN_TOKEN_USES)?;
        let description = format!(
            "OpenBao token at {} (accessor {}), policy agentward-role-{role}, ttl {}s, at most {ROLE_RUN_TOKEN_USES} uses",
            self.addr(),
            child.accessor().unwrap_or("unknown"),
            ttl.as_secs()
        );
        // Revoking comes after the run's end, so it is not held to it.
        let revoker = child.clone();
        let minter = self.clone();
        child.deadline = Some(ends);
        Ok(Some(RoleRunStore::new(
            Arc::new(child),
            description,
            move || minter.end_run_token(&revoker),
        )))
    }

    fn revoke_role_credentials(&self, role: &str) -> Result<usize, StoreError> {
        self.revoke_role_tokens(role)
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        if prefix.starts_with('/')
            || prefix.contains(['?', '#', '%'])
            || prefix.chars().any(char::is_control)
            || prefix.split('/').any(|s| s == "." || s == "..")
        {
            return Err(StoreError::InvalidPath {
                path: prefix.to_string(),
                reason: "a list prefix is relative, without ?, #, %, . or .. segments".into(),
            });
        }
        let dir = match prefix.rfind('/') {
            Some(i) => &prefix[..=i],
            None => "",
        };
        let mut out = Vec::new();
        self.list_dir(dir, &mut out)?;
        out.retain(|p| p.starts_with(prefix));
        out.sort();
        Ok(out)
    }

    fn describe(&self, path: &str) -> Result<SecretMeta, StoreError> {
        check_path(path)?;
        let meta = self.existing_metadata(path)?;
        let record = self.labels_or_legacy(path, &meta)?;
        let labels = record.labels(meta.current_version);
        let versions = meta
            .created
            .iter()
            .filter(|(v, _)| **v >= 1 && **v <= meta.current_version)
            .map(|(&version, created)| VersionMeta {
                version,
                labels: labels[version as usize - 1].clone(),
                created: created.clone(),
                change_id: record.changes.get(&version).cloned(),
            })
            .collect();
        Ok(SecretMeta {
            path: path.to_string(),
            versions,
            attributes: meta.attributes(),
        })
    }

    fn read(&self, path: &str, label: Label) -> Result<SecretValue, StoreError> {
        check_path(path)?;
        // Two requests when the labels record exists: labels, then value.
        let record = match self.labels_record(path)? {
            Some(record) => record,
            None => LabelsRecord::legacy(&self.existing_metadata(path)?),
        };
        let version = record
            .holder(label)
            .ok_or_else(|| StoreError::NoSuchLabel {
                path: path.to_string(),
                label,
            })?;
        // The parsed copy is not zeroized (serde_json values cannot be); the
        // raw answer is.
        let record = match self.read_version(self.kv(path), Some(version.into()))? {
            Ok(record) => record.data,
            Err(reply) if reply.status == 404 => {
                return Err(StoreError::NoSuchVersion {
                    path: path.to_string(),
                    version,
                })
            }
            Err(reply) => return Err(self.fail("read", path, &reply)),
        };
        let field = |name: &str| record.get(name).and_then(Value::as_str);
        if let (Some(ciphertext), Some(key)) = (field("ciphertext"), field("transit_key")) {
            return self.transit_decrypt(key, path, ciphertext);
        }
        let value = field("value").ok_or_else(|| {
            StoreError::Unavailable(format!(
                "OpenBao at {}: version {version} of secret {path:?} has no `value` field\n  \
                     fix: write secrets through agentward, or add a `value` key",
                self.addr()
            ))
        })?;
        Ok(SecretValue::new(value))
    }

    fn put_pending(
        &self,
        path: &str,
        value: &SecretValue,
        change_id: Option<&str>,
    ) -> Result<u32, StoreError> {
        check_path(path)?;
        let seen = self.metadata(path)?;
        let expected = seen.as_ref().map_or(0, |m| m.current_version);
        if seen.is_none() {
            // Before the first version: from then on the server refuses any
            // data write that does not name the version it replaces.
            self.require_cas(self.kv(path), "protect", path)?;
        }
        if let Some(hook) = &self.before_write {
            hook();
        }
        let mut data = Map::new();
        match &self.transit_key {
            Some(key) => {
                let ciphertext = self.transit_encrypt(key, path, value)?;
                data.insert("ciphertext".into(), Value::String(ciphertext));
                data.insert("transit_key".into(), Value::String(key.to_string()));
            }
            None => {
                data.insert("value".into(), Value::String(value.expose().to_string()));
            }
        }
        // The version names its change itself, so a retry finds it even
        // if the labels record never did (see `recover_pending`).
        if let Some(id) = change_id {
            data.insert("change_id".into(), Value::String(id.to_string()));
        }
        let reply = self.write_version(self.kv(path), expected, data)?;
        let version = match Self::cas_written(&reply) {
            Some(true) => {
                let what = format!("the new version of {path:?}");
                let written: SecretVersionMetadata = self.answer(&reply, &what, Reply::data)?;
                written.version as u32
            }
            Some(false) => {
                // Another writer added a version after our metadata read.
                let found = self.metadata(path)?.map(|m| m.current_version);
                return Err(StoreError::CasConflict {
                    path: path.to_string(),
                    label: Label::Pending,
                    expected: (expected > 0).then_some(expected),
                    found: found.filter(|v| *v > 0),
                });
            }
            _ => return Err(self.fail("write a new version of", path, &reply)),
        };
        match self.resume_pending(path, version, change_id) {
            Ok(()) => Ok(version),
            // A newer version is already pending: ours stays unlabelled.
            Err(e @ StoreError::CasConflict { .. }) => Err(e),
            Err(e) => Err(StoreError::Unavailable(format!(
                "{e}\n  note: version {version} of {path:?} was written but is not labelled \
                 pending; no label points at it, so nothing will read it\n  \
                 fix: finish it with resume_pending({path:?}, {version}, ..) (safe to retry), \
                 or write a new version"
            ))),
        }
    }

    /// Only the latest version can be one a change wrote and did not label
    /// (every write names the version it follows), and only if no label or
    /// change id points at it; its data names the change that wrote it.
    fn recover_pending(&self, path: &str, change_id: &str) -> Result<Option<u32>, StoreError> {
        check_path(path)?;
        let Some(meta) = self.metadata(path)? else {
            return Ok(None);
        };
        let latest = meta.current_version;
        if latest == 0 {
            return Ok(None);
        }
        let record = self.labels_or_legacy(path, &meta)?;
        let unlabelled = record.labels(latest)[latest as usize - 1].is_empty()
            && !record.changes.contains_key(&latest);
        if !unlabelled {
            return Ok(None);
        }
        let written_by = match self.read_version(self.kv(path), Some(latest.into()))? {
            Ok(record) => record.data,
            Err(reply) => {
                return Err(self.fail("read the unlabelled latest version of", path, &reply))
            }
        };
        if written_by.get("change_id").and_then(Value::as_str) != Some(change_id) {
            return Ok(None);
        }
        self.resume_pending(path, latest, Some(change_id))?;
        Ok(Some(latest))
    }

    fn relabel(&self, path: &str, change: &mut LabelChange<'_>) -> Result<(), StoreError> {
        check_path(path)?;
        self.update_labels(path, |l, _| change(l))
    }

    /// Attributes live in `custom_metadata` as `attr.*` keys. KV v2
    /// replaces that map as a whole, so the keys that are not attributes
    /// are read and written back with it.
    fn set_attributes(&self, path: &str, attributes: &SecretAttributes) -> Result<(), StoreError> {
        check_path(path)?;
        let mut custom = self.existing_metadata(path)?.custom;
        custom.retain(|k, _| !k.starts_with("attr."));
        let fixed = [
            ("owner", attributes.owner.clone()),
            ("expires", attributes.expires.clone()),
            (
                "scopes",
                (!attributes.scopes.is_empty()).then(|| attributes.scopes.join(",")),
            ),
            (
                "origins",
                (!attributes.origins.is_empty()).then(|| attributes.origins.join(" ")),
            ),
        ];
        for (key, value) in fixed {
            if let Some(value) = value {
                custom.insert(format!("attr.{key}"), value);
            }
        }
        for (key, value) in &attributes.custom {
            custom.insert(format!("attr.{key}"), value.clone());
        }
        let reply = self.send(&SetSecretMetadataRequest {
            mount: self.mount.clone(),
            path: self.kv(path),
            custom_metadata: Some(custom.into_iter().collect::<HashMap<_, _>>()),
            ..SetSecretMetadataRequest::default()
        })?;
        match reply.status {
            200 | 204 => Ok(()),
            _ => Err(self.fail("set the attributes of", path, &reply)),
        }
    }
}
