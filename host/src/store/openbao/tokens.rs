//! Per-role tokens: a role's secret path globs become an OpenBao ACL
//! policy and a child token holding only it, so the server itself refuses
//! what the role may not do, and a narrowed policy revokes what is out.

use super::client::Reply;
use super::{OpenBaoStore, LABELS_DIR, TRANSIT_MOUNT};
use crate::store::{RoleScopes, StoreError};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use vaultrs::api::sys::requests::{CreatePolicyRequest, DeletePolicyRequest, ReadPolicyRequest};
use vaultrs::api::sys::responses::ReadPolicyResponse;
use vaultrs::api::token::requests::{
    CreateTokenRequest, ListAccessorRequest, LookupTokenAccessorRequest,
    RevokeTokenAccessorRequest, RevokeTokenSelfRequest,
};
use vaultrs::api::token::responses::{ListAccessorResponse, LookupTokenResponse};
use zeroize::Zeroizing;

impl OpenBaoStore {
    /// Creates ACL policy `agentward-role-<role>` from `scopes` and a child
    /// token holding only it (no `default` policy), valid for `ttl` and at
    /// most `num_uses` requests (0: unlimited). Returns a store using it.
    pub fn token_for_role(
        &self,
        role: &str,
        scopes: &RoleScopes,
        ttl: Duration,
        num_uses: u32,
    ) -> Result<OpenBaoStore, StoreError> {
        if role.is_empty()
            || !role
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(StoreError::InvalidPath {
                path: role.to_string(),
                reason: "a role name for an OpenBao policy is letters, digits, - and _".into(),
            });
        }
        let name = format!("agentward-role-{role}");
        let policy = self.role_policy(scopes);
        // A policy that already says this is not written again: a read is
        // answered by the active node alone, a write is a Raft commit on
        // every node, and each role run would make one. (A token that may
        // not read policies writes it every time.)
        let written = self.send(&ReadPolicyRequest { name: name.clone() })?;
        let unchanged = written.status == 200
            && written
                .data::<ReadPolicyResponse>()
                .is_ok_and(|p| p.rules == policy);
        if !unchanged {
            let reply = self.send(&CreatePolicyRequest {
                name: name.clone(),
                policy,
            })?;
            if !matches!(reply.status, 200 | 204) {
                return Err(self.fail("create the policy for", &name, &reply));
            }
        }
        let ttl = format!("{}s", ttl.as_secs().max(1));
        let reply = self.send(&CreateTokenRequest {
            policies: Some(vec![name]),
            no_default_policy: Some(true),
            ttl: Some(ttl.clone()),
            explicit_max_ttl: Some(ttl),
            num_uses: Some(num_uses.into()),
            renewable: Some(false),
            display_name: Some(format!("agentward-{role}")),
            meta: Some(HashMap::from([("agentward-role".into(), role.into())])),
            ..CreateTokenRequest::default()
        })?;
        if reply.status != 200 {
            return Err(self.fail("create a token for role", role, &reply));
        }
        let what = format!("the token created for role {role}");
        let auth = self.answer(&reply, &what, Reply::auth)?;
        let mut store = self.clone();
        store.token = Arc::new(Zeroizing::new(auth.client_token));
        store.before_write = None;
        store.before_label_write = None;
        store.accessor = Some(Arc::from(auth.accessor));
        Ok(store)
    }

    /// The accessor of a token made by [`OpenBaoStore::token_for_role`].
    pub fn accessor(&self) -> Option<&str> {
        self.accessor.as_deref()
    }

    /// The token this store uses, for tests and for handing to a sandbox
    /// that talks to OpenBao itself.
    pub fn token(&self) -> &str {
        self.token.as_str()
    }

    /// Ends `run`, a token this store minted with
    /// [`OpenBaoStore::token_for_role`] (and its children). The run's own
    /// revoke-self comes first. When the server no longer honours the
    /// token (it expired with a run that outlived its deadline, or its
    /// uses are spent), this store revokes it by its accessor instead,
    /// which the server answers with success, or says no token stands
    /// behind it: either way none is left, on the server's word rather
    /// than a guess from a 403.
    pub fn end_run_token(&self, run: &OpenBaoStore) -> Result<(), StoreError> {
        let reply = run.send(&RevokeTokenSelfRequest {})?;
        match (reply.status, run.accessor.as_deref()) {
            (200 | 204, _) => Ok(()),
            (401 | 403, Some(accessor)) => self
                .revoke_accessor(accessor, "revoke the run token with accessor", accessor)
                .map(|_| ()),
            _ => Err(run.fail("revoke the token of", "(token)", &reply)),
        }
    }

    /// Revokes the token with `accessor`; an error says it could not
    /// `what` `whose`. `Ok(false)`: the server holds no token behind the
    /// accessor any more (it expired, perhaps while being revoked).
    fn revoke_accessor(&self, accessor: &str, what: &str, whose: &str) -> Result<bool, StoreError> {
        let reply = self.send(&RevokeTokenAccessorRequest {
            accessor: accessor.to_string(),
        })?;
        let gone = |errors: String| {
            errors.contains("token not found") || errors.contains("invalid accessor")
        };
        match reply.status {
            200 | 204 => Ok(true),
            400 if gone(reply.errors()) => Ok(false),
            _ => Err(self.fail(what, whose, &reply)),
        }
    }

    /// Revokes every outstanding token minted for `role`'s runs (found by
    /// their `agentward-role` metadata) and deletes the role's generated
    /// ACL policy, so that a narrowed policy holds at once: a run still
    /// going, or one whose process died before revoking its token, keeps
    /// nothing the role may no longer do. Needs `sudo` on
    /// `auth/token/accessors`. Returns how many tokens were revoked.
    pub fn revoke_role_tokens(&self, role: &str) -> Result<usize, StoreError> {
        let reply = self.send(&ListAccessorRequest {})?;
        let accessors: Vec<String> = match reply.status {
            200 => {
                self.answer::<ListAccessorResponse>(&reply, "the token accessors", Reply::data)?
                    .keys
            }
            404 => Vec::new(),
            _ => {
                return Err(self.fail(
                    "list the token accessors (the token needs sudo on auth/token/accessors) to revoke the tokens of role",
                    role,
                    &reply,
                ))
            }
        };
        let mut revoked = 0;
        for accessor in accessors {
            let reply = self.send(&LookupTokenAccessorRequest {
                accessor: accessor.clone(),
            })?;
            // A token that expired between the list and the lookup is gone.
            let minted_for = (reply.status == 200)
                .then(|| reply.data::<LookupTokenResponse>().ok())
                .flatten()
                .and_then(|token| token.meta?.remove("agentward-role"));
            if minted_for.as_deref() != Some(role) {
                continue;
            }
            if self.revoke_accessor(&accessor, "revoke a token of role", role)? {
                revoked += 1;
            }
        }
        let name = format!("agentward-role-{role}");
        let reply = self.send(&DeletePolicyRequest { name: name.clone() })?;
        if !matches!(reply.status, 200 | 204 | 404) {
            return Err(self.fail("delete the policy", &name, &reply));
        }
        Ok(revoked)
    }

    /// The HCL policy for `scopes`; see [`glob_to_policy_path`].
    pub fn role_policy(&self, scopes: &RoleScopes) -> String {
        let mut rules: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        let mut add = |path: String, caps: &[&'static str]| {
            let entry = rules.entry(path).or_default();
            for c in caps {
                if !entry.contains(c) {
                    entry.push(c);
                }
            }
        };
        for glob in &scopes.read {
            let p = glob_to_policy_path(&format!("{}{}", self.prefix, glob));
            add(format!("{}/data/{p}", self.mount), &["read"]);
            add(format!("{}/data/{LABELS_DIR}/{p}", self.mount), &["read"]);
            add(format!("{}/metadata/{p}", self.mount), &["read", "list"]);
            add(
                format!("{}/metadata/{}", self.mount, list_dir_of(&p)),
                &["list"],
            );
        }
        for glob in &scopes.meta {
            let p = glob_to_policy_path(&format!("{}{}", self.prefix, glob));
            add(format!("{}/metadata/{p}", self.mount), &["read", "list"]);
            // Labels are metadata: no value is in the labels record.
            add(format!("{}/data/{LABELS_DIR}/{p}", self.mount), &["read"]);
            add(
                format!("{}/metadata/{}", self.mount, list_dir_of(&p)),
                &["list"],
            );
        }
        for glob in &scopes.write {
            let p = glob_to_policy_path(&format!("{}{}", self.prefix, glob));
            add(format!("{}/data/{p}", self.mount), &["create", "update"]);
            // `read` for the latest version number (the `cas` of the next
            // write), `create`/`update` to set `cas_required` on a new secret.
            add(
                format!("{}/metadata/{p}", self.mount),
                &["read", "create", "update"],
            );
            // Writing a version moves `pending`: the labels record is read
            // and written (always with `cas`), and `cas_required` is set on
            // a new one. Read-only and metadata-only scopes get `read` alone,
            // so the server refuses their label moves.
            add(
                format!("{}/data/{LABELS_DIR}/{p}", self.mount),
                &["read", "create", "update"],
            );
            add(
                format!("{}/metadata/{LABELS_DIR}/{p}", self.mount),
                &["create", "update"],
            );
        }
        // Values sealed by transit: readers decrypt, writers encrypt, and
        // a metadata-only role does neither.
        if let Some(key) = &self.transit_key {
            if !scopes.read.is_empty() {
                add(format!("{TRANSIT_MOUNT}/decrypt/{key}"), &["update"]);
            }
            if !scopes.write.is_empty() {
                add(format!("{TRANSIT_MOUNT}/encrypt/{key}"), &["update"]);
            }
        }
        let mut hcl = String::new();
        for (path, caps) in rules {
            let caps: Vec<String> = caps.iter().map(|c| format!("\"{c}\"")).collect();
            hcl.push_str(&format!(
                "path \"{path}\" {{\n  capabilities = [{}]\n}}\n",
                caps.join(", ")
            ));
        }
        hcl.push_str("path \"auth/token/revoke-self\" {\n  capabilities = [\"update\"]\n}\n");
        hcl.push_str("path \"auth/token/lookup-self\" {\n  capabilities = [\"read\"]\n}\n");
        hcl
    }
}

/// The directory an OpenBao policy path lists from: `npm/+` → `npm/`.
fn list_dir_of(policy_path: &str) -> String {
    match policy_path.rfind('/') {
        Some(i) => policy_path[..=i].to_string(),
        None => String::new(),
    }
}

/// Translates a `PathScope` glob to an OpenBao policy path.
///
/// * a literal segment stays;
/// * `*` (one whole segment) becomes `+` (exactly one segment);
/// * `**` becomes a trailing `*` (any suffix) — exact when `**` is the last
///   segment (`npm/**` → `npm/*`), a **widening** otherwise: `a/**/b` grants
///   everything under `a/`, since OpenBao allows `*` only at the end;
/// * a segment mixing literals and wildcards (`npm-*`, `tok?`, `{a,b}`,
///   `[ab]`) becomes `+`: a **widening** to the whole segment, since `+`
///   cannot match part of one.
///
/// Widening never narrows: the store grants at least what the role's scope
/// does, and the host's own `PathScope` check still applies the exact glob.
pub fn glob_to_policy_path(glob: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    for segment in glob.split('/') {
        if segment.contains("**") {
            out.push("*".to_string());
            return out.join("/");
        }
        if segment.contains(['*', '?', '[', '{']) {
            out.push("+".to_string());
        } else {
            out.push(segment.to_string());
        }
    }
    out.join("/")
}

#[cfg(test)]
mod tests {
    use super::glob_to_policy_path;

    #[test]
    fn globs_translate_to_policy_paths() {
        assert_eq!(glob_to_policy_path("npm/**"), "npm/*");
        assert_eq!(glob_to_policy_path("npm/*"), "npm/+");
        assert_eq!(glob_to_policy_path("npm/token"), "npm/token");
        assert_eq!(glob_to_policy_path("a/*/b"), "a/+/b");
        assert_eq!(glob_to_policy_path("a/**/b"), "a/*");
        assert_eq!(glob_to_policy_path("npm/tok-*"), "npm/+");
        assert_eq!(glob_to_policy_path("**"), "*");
    }
}
