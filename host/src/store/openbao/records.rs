//! KV v2 records outside the secrets' layout, for what is kept beside
//! them: the audit witness's checkpoints (`audit::witness`) and the
//! records hosts coordinate by (`crate::cluster`). Paths are relative to
//! the mount, without the store's prefix; writes are check-and-set.

use super::client::Reply;
use super::{OpenBaoStore, StoreError};
use serde_json::{Map, Value};
use vaultrs::api::kv2::requests::DeleteSecretMetadataRequest;
use vaultrs::api::kv2::responses::ReadSecretResponse;

/// A KV v2 record's latest version and its data.
pub type KvRecord = (u32, Map<String, Value>);

/// A KV v2 record's latest version, its data, and when the server wrote it
/// (RFC 3339, by the server's clock).
#[derive(Clone, Debug)]
pub struct WrittenRecord {
    pub version: u32,
    pub data: Map<String, Value>,
    pub created_time: String,
}

impl OpenBaoStore {
    /// A KV v2 record outside the secrets' layout (the audit witness's):
    /// its latest version and data, or `None` if it has none. `path` is
    /// relative to the mount, without the store's prefix.
    pub fn record(&self, path: &str) -> Result<Option<KvRecord>, StoreError> {
        Ok(self.record_written(path)?.map(|r| (r.version, r.data)))
    }

    /// [`OpenBaoStore::record`] with the time the server wrote it.
    pub fn record_written(&self, path: &str) -> Result<Option<WrittenRecord>, StoreError> {
        match self.read_version(path.to_string(), None)? {
            Ok(ReadSecretResponse { data, metadata }) => Ok(Some(WrittenRecord {
                version: metadata.version as u32,
                data: data.as_object().cloned().unwrap_or_default(),
                created_time: metadata.created_time,
            })),
            Err(reply) if reply.status == 404 => Ok(None),
            Err(reply) => Err(self.fail("read the record", path, &reply)),
        }
    }

    /// The names directly under record directory `dir` (relative to the
    /// mount, ending in `/`); subdirectories end in `/`.
    pub fn record_names(&self, dir: &str) -> Result<Vec<String>, StoreError> {
        self.names_under(dir.to_string(), ("list the records under", dir))
    }

    /// The server's clock, in whole seconds since the epoch: the one clock
    /// every host of a cluster reads alike, for judging TTLs of records it
    /// stamped with `created_time`.
    pub fn server_time(&self) -> Result<u64, StoreError> {
        /// The one field of `sys/health` read here. vaultrs's
        /// `ReadHealthResponse` cannot be used: it requires
        /// `performance_standby`, which OpenBao (no performance standbys)
        /// does not send.
        #[derive(serde::Deserialize)]
        struct Clock {
            server_time_utc: u64,
        }
        let reply = self.send(&vaultrs::api::sys::requests::ReadHealthRequest {
            standbyok: Some(true),
            perfstandbyok: Some(true),
            ..Default::default()
        })?;
        if reply.status != 200 {
            return Err(self.fail("read the clock (sys/health) for", "(server)", &reply));
        }
        let clock: Clock = self.answer(&reply, "sys/health", Reply::unwrapped)?;
        Ok(clock.server_time_utc)
    }

    /// Writes `data` as the next version of the record at `path`, as a
    /// check-and-set on `version` (0: it must not exist yet). `Ok(false)`:
    /// someone else wrote it first.
    pub fn write_record(
        &self,
        path: &str,
        version: u32,
        data: &Map<String, Value>,
    ) -> Result<bool, StoreError> {
        let reply = self.write_version(path.to_string(), version, data.clone())?;
        Self::cas_written(&reply).ok_or_else(|| self.fail("write the record", path, &reply))
    }

    /// Deletes the record at `path` (relative to the mount, without the
    /// store's prefix) with every version it kept; one already gone is no
    /// error.
    pub fn delete_record(&self, path: &str) -> Result<(), StoreError> {
        let reply = self.send(&DeleteSecretMetadataRequest {
            mount: self.mount.clone(),
            path: path.to_string(),
        })?;
        match reply.status {
            200 | 204 | 404 => Ok(()),
            _ => Err(self.fail("delete the record", path, &reply)),
        }
    }
}
