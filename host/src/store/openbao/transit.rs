//! Envelope encryption by OpenBao's transit engine: with a transit key, KV
//! holds only `vault:v1:…` ciphertext, and reading a value needs a grant
//! to decrypt with that key as well as one to read the record.

use super::client::Method;
use super::{OpenBaoStore, TRANSIT_MOUNT};
use crate::store::{SecretValue, StoreError};
use serde_json::{json, Value};

impl OpenBaoStore {
    /// Administrator setup: mounts the transit engine if it is missing and
    /// creates `key` if it does not exist. Needs a token allowed to do both.
    pub fn ensure_transit_key(&self, key: &str) -> Result<(), StoreError> {
        let reply = self.request(Method::Get, &format!("sys/mounts/{TRANSIT_MOUNT}"), None)?;
        if reply.status != 200 {
            let reply = self.request(
                Method::Post,
                &format!("sys/mounts/{TRANSIT_MOUNT}"),
                Some(&json!({ "type": "transit" })),
            )?;
            if !matches!(reply.status, 200 | 204) {
                return Err(self.fail("mount the transit engine for", key, &reply));
            }
        }
        let reply = self.request(
            Method::Post,
            &format!("{TRANSIT_MOUNT}/keys/{key}"),
            Some(&json!({ "type": "aes256-gcm96" })),
        )?;
        if !matches!(reply.status, 200 | 204) {
            return Err(self.fail("create the transit key", key, &reply));
        }
        Ok(())
    }

    /// The transit ciphertext of `value`.
    pub(super) fn transit_encrypt(
        &self,
        key: &str,
        path: &str,
        value: &SecretValue,
    ) -> Result<String, StoreError> {
        use base64::{engine::general_purpose::STANDARD as BASE64, Engine};
        let body = json!({ "plaintext": BASE64.encode(value.expose()) });
        let reply = self.request(
            Method::Post,
            &format!("{TRANSIT_MOUNT}/encrypt/{key}"),
            Some(&body),
        )?;
        drop(body);
        if reply.status != 200 {
            return Err(self.fail("encrypt (transit key) a new version of", path, &reply));
        }
        reply
            .json()
            .pointer("/data/ciphertext")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| {
                StoreError::Unavailable(format!(
                    "OpenBao at {}: transit returned no ciphertext for {path:?}",
                    self.addr()
                ))
            })
    }

    pub(super) fn transit_decrypt(
        &self,
        key: &str,
        path: &str,
        ciphertext: &str,
    ) -> Result<SecretValue, StoreError> {
        use base64::{engine::general_purpose::STANDARD as BASE64, Engine};
        let reply = self.request(
            Method::Post,
            &format!("{TRANSIT_MOUNT}/decrypt/{key}"),
            Some(&json!({ "ciphertext": ciphertext })),
        )?;
        if reply.status != 200 {
            return Err(self.fail("decrypt (transit key) the value of", path, &reply));
        }
        let plaintext = reply
            .json()
            .pointer("/data/plaintext")
            .and_then(Value::as_str)
            .and_then(|b| BASE64.decode(b).ok())
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| {
                StoreError::Unavailable(format!(
                    "OpenBao at {}: transit returned no readable plaintext for {path:?}",
                    self.addr()
                ))
            })?;
        Ok(SecretValue::new(plaintext))
    }
}
