//! A change's lease: `agentward-cluster/changes/CHANGE/lease`, whose data
//! names the host driving the change (`holder`), its `ttl_ms`, and a
//! `state`: `held` while a host drives it, `released` when that host
//! stopped cleanly (anyone may take it at once), `closed` when the change
//! is finished.
//!
//! Taking and renewing are check-and-set writes on the version read, so of
//! two hosts that race, the server lets one win. A lease held by another
//! host is taken over only when its last renewal is older than its TTL
//! *by the server's clock* (the version's `created_time` against
//! `sys/health`'s `server_time_utc`, with a second's margin for the
//! latter's resolution), so hosts with skewed clocks agree on it.
//!
//! The holder keeps its own deadline on its monotonic clock: a renewal sent
//! at instant `t` keeps the lease until `t + ttl`, which is no later than
//! the server can judge it expired. Past that deadline (renewals failing,
//! the network gone) [`HeldChange::check`] refuses, and the orchestrator
//! starts no further effect: by then another host may have taken over.

use super::{text, Cluster, ClusterError};
use serde_json::{json, Map};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// How many renewals a lease gets per TTL: a renewal may fail twice in a
/// row before the lease lapses.
const RENEWALS_PER_TTL: u32 = 3;

/// The lease of one change, held by this host until dropped or closed.
pub struct HeldChange {
    state: Arc<Lease>,
    keeper: Option<JoinHandle<()>>,
    /// The holder whose expired lease this host took over, if it did.
    pub took_over_from: Option<String>,
}

struct Lease {
    cluster: Cluster,
    change_id: String,
    held: Mutex<Held>,
    wake: Condvar,
}

struct Held {
    version: u32,
    /// Effects may begin until then.
    valid_until: Instant,
    /// Why the lease is gone, once it is.
    lost: Option<String>,
    stopping: bool,
}

fn lease_path(change_id: &str) -> String {
    format!("changes/{change_id}/lease")
}

impl Cluster {
    /// Takes change `change_id`'s lease: a new one, one released or
    /// expired, or (after a restart of this very process) its own. Renews
    /// it in the background until the [`HeldChange`] is closed or dropped.
    pub fn hold(&self, change_id: &str) -> Result<HeldChange, ClusterError> {
        let path = lease_path(change_id);
        for _ in 0..3 {
            let current = self.read(&path)?;
            let mut took_over_from = None;
            if let Some(lease) = &current {
                let holder = text(lease, "holder").unwrap_or("an unknown host");
                if text(lease, "state") == Some("held") && holder != self.holder {
                    let ttl_ms = lease.data.get("ttl_ms").and_then(|v| v.as_u64());
                    let until = renewed_at(&lease.created_time).map(|at| {
                        at + Duration::from_millis(ttl_ms.unwrap_or(0)) + Duration::from_secs(1)
                    });
                    let now = OffsetDateTime::from_unix_timestamp(self.store.server_time()? as i64)
                        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
                    match until {
                        Some(until) if now < until => {
                            return Err(ClusterError::LeaseHeld {
                                change_id: change_id.to_string(),
                                holder: holder.to_string(),
                                left_s: (until - now).whole_seconds().max(1) as u64,
                                until: until.format(&Rfc3339).unwrap_or_default(),
                            })
                        }
                        _ => took_over_from = Some(holder.to_string()),
                    }
                }
            }
            let version = current.map_or(0, |l| l.version);
            let sent = Instant::now();
            if self.write(&path, version, self.lease_data("held"))? {
                let state = Arc::new(Lease {
                    cluster: self.clone(),
                    change_id: change_id.to_string(),
                    held: Mutex::new(Held {
                        version: version + 1,
                        valid_until: sent + self.ttl,
                        lost: None,
                        stopping: false,
                    }),
                    wake: Condvar::new(),
                });
                let keeper = {
                    let state = state.clone();
                    std::thread::Builder::new()
                        .name(format!("lease {change_id}"))
                        .spawn(move || state.keep())
                        .map_err(|e| ClusterError::LeaseLost {
                            change_id: change_id.to_string(),
                            reason: format!("no thread to renew it: {e}"),
                        })?
                };
                return Ok(HeldChange {
                    state,
                    keeper: Some(keeper),
                    took_over_from,
                });
            }
        }
        Err(ClusterError::LeaseLost {
            change_id: change_id.to_string(),
            reason:
                "other hosts kept taking it while this one tried (check-and-set lost three times)"
                    .into(),
        })
    }

    fn lease_data(&self, state: &str) -> Map<String, serde_json::Value> {
        let mut data = Map::new();
        data.insert("holder".into(), json!(self.holder));
        data.insert("ttl_ms".into(), json!(self.ttl.as_millis() as u64));
        data.insert("state".into(), json!(state));
        data
    }

    /// The state of change `change_id`'s lease (`held`, `released`,
    /// `closed`) and its holder, if it has one.
    pub(super) fn lease_of(
        &self,
        change_id: &str,
    ) -> Result<Option<(String, String)>, ClusterError> {
        Ok(self.read(&lease_path(change_id))?.map(|lease| {
            (
                text(&lease, "state").unwrap_or("held").to_string(),
                text(&lease, "holder")
                    .unwrap_or("an unknown host")
                    .to_string(),
            )
        }))
    }
}

/// When the server wrote a lease's version.
fn renewed_at(created_time: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(created_time, &Rfc3339).ok()
}

impl Lease {
    fn lock(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The keeper thread: renews every TTL / [`RENEWALS_PER_TTL`] until
    /// told to stop or the lease is lost.
    fn keep(&self) {
        let every = self.cluster.ttl / RENEWALS_PER_TTL;
        loop {
            let version = {
                let mut held = self.lock();
                let deadline = Instant::now() + every;
                while !held.stopping && Instant::now() < deadline {
                    let left = deadline.saturating_duration_since(Instant::now());
                    held = self
                        .wake
                        .wait_timeout(held, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
                if held.stopping || held.lost.is_some() {
                    return;
                }
                held.version
            };
            let sent = Instant::now();
            let path = lease_path(&self.change_id);
            let renewed = self
                .cluster
                .write(&path, version, self.cluster.lease_data("held"));
            let mut held = self.lock();
            match renewed {
                Ok(true) => {
                    held.version = version + 1;
                    held.valid_until = sent + self.cluster.ttl;
                }
                Ok(false) => {
                    held.lost =
                        Some("another host took it over (its lease record moved on)".into());
                    return;
                }
                Err(e) if Instant::now() >= held.valid_until => {
                    held.lost = Some(format!(
                        "not renewed within its TTL of {} s: {e}",
                        self.cluster.ttl.as_secs()
                    ));
                    return;
                }
                Err(e) => {
                    tracing::warn!(change = %self.change_id, "renewing the lease failed, will retry: {e}")
                }
            }
        }
    }

    fn stop(&self) {
        self.lock().stopping = true;
        self.wake.notify_all();
    }
}

impl HeldChange {
    pub fn change_id(&self) -> &str {
        &self.state.change_id
    }

    /// Whether this host may still begin an effect of the change.
    pub fn check(&self) -> Result<(), ClusterError> {
        let held = self.state.lock();
        let reason = match &held.lost {
            Some(reason) => reason.clone(),
            None if Instant::now() >= held.valid_until => format!(
                "not renewed within its TTL of {} s",
                self.state.cluster.ttl.as_secs()
            ),
            None => return Ok(()),
        };
        Err(ClusterError::LeaseLost {
            change_id: self.state.change_id.clone(),
            reason,
        })
    }

    /// The change is finished: its lease says so, and nobody needs to wait
    /// for it or take it over.
    pub fn close(mut self) -> Result<(), ClusterError> {
        self.finish("closed")
    }

    fn finish(&mut self, state: &str) -> Result<(), ClusterError> {
        self.state.stop();
        if let Some(keeper) = self.keeper.take() {
            let _ = keeper.join();
        }
        // No check of the deadline here: the write is a check-and-set on
        // the version this host last wrote, so it fails if another host
        // took the change over, and otherwise says what really happened.
        let version = self.state.lock().version;
        let cluster = &self.state.cluster;
        if cluster.write(
            &lease_path(&self.state.change_id),
            version,
            cluster.lease_data(state),
        )? {
            self.state.lock().lost = Some(format!("{state} by this host"));
            Ok(())
        } else {
            Err(ClusterError::LeaseLost {
                change_id: self.state.change_id.clone(),
                reason: "another host took it over before it was released".into(),
            })
        }
    }
}

/// A change this host stops driving without closing it (it stopped, or is
/// waiting for approvals) is released, so another host need not wait out
/// the TTL to resume it.
impl Drop for HeldChange {
    fn drop(&mut self) {
        if self.keeper.is_some() {
            if let Err(e) = self.finish("released") {
                tracing::warn!(change = %self.state.change_id, "releasing the lease: {e}");
            }
        }
    }
}
