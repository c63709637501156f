//! Envelope encryption by OpenBao's transit engine: with a transit key, KV
//! holds only `vault:v1:…` ciphertext, and reading a value needs a grant
//! to decrypt with that key as well as one to read the record.

use super::client::Reply;
use super::{OpenBaoStore, TRANSIT_MOUNT};
use crate::store::{SecretValue, StoreError};
use vaultrs::api::sys::requests::{EnableEngineRequest, GetConfigurationOfTheSecretEngineRequest};
use vaultrs::api::transit::requests::{CreateKeyRequest, DecryptDataRequest, EncryptDataRequest};
use vaultrs::api::transit::responses::{DecryptDataResponse, EncryptDataResponse};
use vaultrs::api::transit::KeyType;

impl OpenBaoStore {
    /// Administrator setup: mounts the transit engine if it is missing and
    /// creates `key` if it does not exist. Needs a token allowed to do both.
    pub fn ensure_transit_key(&self, key: &str) -> Result<(), StoreError> {
        let reply = self.send(&GetConfigurationOfTheSecretEngineRequest {
            path: TRANSIT_MOUNT.into(),
        })?;
        if reply.status != 200 {
            let reply = self.send(&EnableEngineRequest {
                path: TRANSIT_MOUNT.into(),
                engine_type: Some("transit".into()),
                ..EnableEngineRequest::default()
            })?;
            if !matches!(reply.status, 200 | 204) {
                return Err(self.fail("mount the transit engine for", key, &reply));
            }
        }
        let reply = self.send(&CreateKeyRequest {
            mount: TRANSIT_MOUNT.into(),
            name: key.into(),
            key_type: Some(KeyType::Aes256Gcm96),
            ..CreateKeyRequest::default()
        })?;
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
        let mut request = EncryptDataRequest {
            mount: TRANSIT_MOUNT.into(),
            name: key.into(),
            plaintext: BASE64.encode(value.expose()),
            ..EncryptDataRequest::default()
        };
        let reply = self.send(&request);
        zeroize::Zeroize::zeroize(&mut request.plaintext);
        let reply = reply?;
        if reply.status != 200 {
            return Err(self.fail("encrypt (transit key) a new version of", path, &reply));
        }
        let what = format!("the transit encryption of {path:?}");
        let encrypted: EncryptDataResponse = self.answer(&reply, &what, Reply::data)?;
        Ok(encrypted.ciphertext)
    }

    pub(super) fn transit_decrypt(
        &self,
        key: &str,
        path: &str,
        ciphertext: &str,
    ) -> Result<SecretValue, StoreError> {
        use base64::{engine::general_purpose::STANDARD as BASE64, Engine};
        let reply = self.send(&DecryptDataRequest {
            mount: TRANSIT_MOUNT.into(),
            name: key.into(),
            ciphertext: ciphertext.into(),
            ..DecryptDataRequest::default()
        })?;
        if reply.status != 200 {
            return Err(self.fail("decrypt (transit key) the value of", path, &reply));
        }
        let plaintext = reply
            .data::<DecryptDataResponse>()
            .ok()
            .and_then(|d| BASE64.decode(d.plaintext).ok())
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
