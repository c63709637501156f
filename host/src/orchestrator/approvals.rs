//! Human approvals: N of M named approvers sign the change's plan hash.
//!
//! An approval is an ed25519 signature, by a key the workflow lists, over
//! the change id and the plan hash. Because the hash covers the whole plan,
//! a plan edited after approval no longer matches its signatures, and the
//! change waits again; approvals are re-checked before every effect, not
//! just counted once.

use super::manifest::{Approval, Manifest, RequiredApproval};
use super::workflow::Workflow;
use crate::audit::keys::{NoteSigner, NoteVerifier};
use base64::{engine::general_purpose::STANDARD as BASE64, Engine};
use ed25519_dalek::Signature;

/// What an approver signs.
pub fn message(change_id: &str, plan_hash: &str) -> Vec<u8> {
    format!("agentward-approval-v1\nchange {change_id}\nplan {plan_hash}\n").into_bytes()
}

#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    #[error("{approver}'s key is not listed in {workflow}\n  fix: add `{approver} = \"{public}\"` under [approvals.keys] and to the rule's approvers, or sign with a listed key")]
    UnknownKey {
        approver: String,
        public: String,
        workflow: String,
    },
    #[error("{approver} approves plan {given}, but change {change_id}'s plan is {actual}\n  fix: review the plan again (`agentward show {change_id}` prints it) and approve its current hash")]
    WrongPlan {
        approver: String,
        change_id: String,
        given: String,
        actual: String,
    },
    #[error("{approver} has already approved change {change_id}; a second signature by the same approver does not count twice\n  fix: ask another approver listed in the rule")]
    Duplicate { approver: String, change_id: String },
    #[error("{approver} is not an approver for any rule covering change {change_id}'s secrets\n  fix: add {approver} to the `approvers` of the rule in {workflow}")]
    NotRequired {
        approver: String,
        change_id: String,
        workflow: String,
    },
    #[error("change {change_id} is {state}, not waiting for approval")]
    NotPending { change_id: String, state: String },
}

/// Signs `manifest`'s plan as `signer`, refusing an approval that cannot count.
pub fn sign(
    workflow: &Workflow,
    manifest: &Manifest,
    signer: &NoteSigner,
    expected_plan_hash: Option<&str>,
) -> Result<Approval, ApprovalError> {
    let approver = signer.name().to_string();
    let listed = workflow.approvers.get(&approver);
    if listed != Some(&signer.verifier()) {
        return Err(ApprovalError::UnknownKey {
            approver,
            public: signer.verifier().encode(),
            workflow: workflow.path.display().to_string(),
        });
    }
    if let Some(given) = expected_plan_hash {
        if given != manifest.plan_hash {
            return Err(ApprovalError::WrongPlan {
                approver,
                change_id: manifest.change_id.clone(),
                given: given.to_string(),
                actual: manifest.plan_hash.clone(),
            });
        }
    }
    if manifest.approvals.iter().any(|a| a.approver == approver) {
        return Err(ApprovalError::Duplicate {
            approver,
            change_id: manifest.change_id.clone(),
        });
    }
    if !manifest
        .approval_rules
        .iter()
        .any(|r| r.approvers.contains(&approver))
    {
        return Err(ApprovalError::NotRequired {
            approver,
            change_id: manifest.change_id.clone(),
            workflow: workflow.path.display().to_string(),
        });
    }
    let signature = signer.sign(&message(&manifest.change_id, &manifest.plan_hash));
    Ok(Approval {
        approver,
        key: signer.verifier().encode(),
        plan_hash: manifest.plan_hash.clone(),
        signature: BASE64.encode(signature),
        ts: crate::time::now_rfc3339(),
    })
}

/// Whether `approval` is a valid signature, by the key the workflow lists
/// for its approver, over this change's current plan.
fn is_valid(workflow: &Workflow, manifest: &Manifest, approval: &Approval) -> bool {
    let Some(listed) = workflow.approvers.get(&approval.approver) else {
        return false;
    };
    let Ok(recorded) = NoteVerifier::parse(&approval.key) else {
        return false;
    };
    let Some(signature) = BASE64
        .decode(&approval.signature)
        .ok()
        .and_then(|b| Signature::from_slice(&b).ok())
    else {
        return false;
    };
    recorded == *listed
        && approval.plan_hash == manifest.plan_hash
        && listed
            .key
            .verify_strict(
                &message(&manifest.change_id, &manifest.plan_hash),
                &signature,
            )
            .is_ok()
}

/// What is still missing, one line per unmet rule; empty when every rule
/// recorded at plan time has its N distinct valid approvals. The rules are
/// the ones in force when the change was planned (editing the workflow
/// cannot waive them); the keys are the workflow's current ones (a key
/// withdrawn from the workflow no longer counts).
pub fn missing(workflow: &Workflow, manifest: &Manifest) -> Vec<String> {
    let valid: Vec<&Approval> = manifest
        .approvals
        .iter()
        .filter(|a| is_valid(workflow, manifest, a))
        .collect();
    manifest
        .approval_rules
        .iter()
        .filter_map(|rule| {
            let mut signed: Vec<&str> = valid
                .iter()
                .filter(|a| rule.approvers.contains(&a.approver))
                .map(|a| a.approver.as_str())
                .collect();
            signed.sort();
            signed.dedup();
            (signed.len() < rule.required).then(|| {
                format!(
                    "{} of {} approvals from {} for {}; valid so far: {}",
                    rule.required - signed.len(),
                    rule.required,
                    rule.approvers.join(", "),
                    rule.paths.join(", "),
                    if signed.is_empty() {
                        "none".to_string()
                    } else {
                        signed.join(", ")
                    }
                )
            })
        })
        .collect()
}

/// The rules a plan of `paths` must satisfy, recorded in its manifest.
pub fn required(workflow: &Workflow, paths: &[String]) -> Vec<RequiredApproval> {
    workflow
        .rules_for(paths)
        .map(|r| RequiredApproval {
            paths: r.paths.patterns().to_vec(),
            required: r.required,
            approvers: r.approvers.clone(),
        })
        .collect()
}
