//! Human approvals: N of M named approvers sign the change's plan hash.
//!
//! An approval is an ed25519 signature, by a key the workflow lists, over
//! the change id and the plan hash: a signed-note key of agentward's own
//! (`agentward approver new`), or an SSH key in the workflow's
//! `allowed_signers` file, signed with `ssh-keygen -Y sign -n
//! agentward-approval` — a FIDO security key among them. Because the hash covers the whole plan,
//! a plan edited after approval no longer matches its signatures, and the
//! change waits again; approvals are re-checked before every effect, not
//! just counted once.

use super::allowed_signers::NAMESPACE;
use super::manifest::{Approval, Manifest, RequiredApproval};
use super::sshsig::{SshKey, SshSigError, SshSignature};
use super::workflow::Workflow;
use crate::audit::keys::{NoteSigner, NoteVerifier};
use base64::{engine::general_purpose::STANDARD as BASE64, Engine};

/// What an approver signs for a change.
pub fn message(change_id: &str, plan_hash: &str) -> Vec<u8> {
    format!("agentward-approval-v1\nchange {change_id}\nplan {plan_hash}\n").into_bytes()
}

/// What approvers sign and what they have signed: a change's plan, or a
/// policy that widens a grant (`agentward policy approve`).
pub struct Ballot<'a> {
    /// The exact bytes a signature covers.
    pub message: Vec<u8>,
    /// The hash an approval names: a plan's, a policy's.
    pub hash: &'a str,
    /// How refusals name it: `change 01J…`, `policy sha256:…`.
    pub subject: String,
    /// The command that prints [`Ballot::message`], for a refusal's fix.
    pub print_message: String,
    pub approvals: &'a [Approval],
    pub rules: &'a [RequiredApproval],
}

impl<'a> Ballot<'a> {
    /// A change's plan: its manifest's approvals against the rules
    /// recorded when it was planned.
    pub fn of_change(manifest: &'a Manifest) -> Ballot<'a> {
        Ballot {
            message: message(&manifest.change_id, &manifest.plan_hash),
            hash: &manifest.plan_hash,
            subject: format!("change {}", manifest.change_id),
            print_message: format!("agentward approve {} --print-message", manifest.change_id),
            approvals: &manifest.approvals,
            rules: &manifest.approval_rules,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    #[error("{approver}'s key is not listed in {workflow}\n  fix: add `{approver} = \"{public}\"` under [approvals.keys] and to the rule's approvers, or sign with a listed key")]
    UnknownKey {
        approver: String,
        public: String,
        workflow: String,
    },
    #[error("{approver} approves {given}, but {subject} is {actual}\n  fix: review it again and approve its current hash")]
    WrongPlan {
        approver: String,
        subject: String,
        given: String,
        actual: String,
    },
    #[error("{approver} has already approved {subject}; a second signature by the same approver does not count twice\n  fix: ask another approver listed in the rule")]
    Duplicate { approver: String, subject: String },
    #[error("{approver} is not an approver for any rule covering {subject}\n  fix: add {approver} to the `approvers` of the rule in {workflow}")]
    NotRequired {
        approver: String,
        subject: String,
        workflow: String,
    },
    #[error("change {change_id} is {state}, not waiting for approval")]
    NotPending { change_id: String, state: String },
    #[error("the SSH approval of {subject} is refused: {reason}\n  fix: sign the message `{print_message}` prints with `ssh-keygen -Y sign -n {NAMESPACE} -f KEY`")]
    SshSignature {
        subject: String,
        print_message: String,
        reason: SshSigError,
    },
    #[error("the key that signed ({key}) is not listed for approvals in {file}\n  fix: add `NAME namespaces=\"{NAMESPACE}\" {key}` to it, NAME an approver of the rule")]
    UnlistedSshKey { key: String, file: String },
    #[error("the key that signed is listed for {principals} in {file}; an approval must name one approver\n  fix: list the key for one approver only")]
    AmbiguousSshKey { principals: String, file: String },
}

/// How an approver signs.
pub enum Signature<'a> {
    /// With an `agentward approver new` key.
    Key(&'a NoteSigner),
    /// The armored output of `ssh-keygen -Y sign` over [`message`].
    Ssh(&'a str),
}

/// Makes the approval of `ballot` that `signature` gives, refusing one
/// that cannot count.
pub fn sign(
    workflow: &Workflow,
    ballot: &Ballot,
    signature: Signature,
    expected_hash: Option<&str>,
) -> Result<Approval, ApprovalError> {
    let approval = match signature {
        Signature::Key(signer) => by_key(workflow, ballot, signer)?,
        Signature::Ssh(armored) => by_ssh(workflow, ballot, armored)?,
    };
    admit(workflow, ballot, &approval.approver, expected_hash)?;
    Ok(approval)
}

fn by_key(
    workflow: &Workflow,
    ballot: &Ballot,
    signer: &NoteSigner,
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
    let signature = signer.sign(&ballot.message);
    Ok(Approval {
        approver,
        key: signer.verifier().encode(),
        plan_hash: ballot.hash.to_string(),
        signature: BASE64.encode(signature),
        ts: crate::time::now_rfc3339(),
    })
}

/// An SSH signature over the ballot's message, by a key the
/// allowed_signers file lists for exactly one approver.
fn by_ssh(workflow: &Workflow, ballot: &Ballot, armored: &str) -> Result<Approval, ApprovalError> {
    let refused = |reason| ApprovalError::SshSignature {
        subject: ballot.subject.clone(),
        print_message: ballot.print_message.clone(),
        reason,
    };
    let signature = SshSignature::parse(armored).map_err(refused)?;
    signature
        .verify(NAMESPACE, &ballot.message)
        .map_err(refused)?;
    let key = signature.key.to_openssh();
    let Some(signers) = &workflow.ssh_signers else {
        return Err(ApprovalError::UnlistedSshKey {
            key,
            file: format!("{} (it names no allowed_signers)", workflow.path.display()),
        });
    };
    let file = signers.path.display().to_string();
    let approver = match signers.principals_of(&signature.key).as_slice() {
        [one] => one.to_string(),
        [] => return Err(ApprovalError::UnlistedSshKey { key, file }),
        many => {
            return Err(ApprovalError::AmbiguousSshKey {
                principals: many.join(", "),
                file,
            })
        }
    };
    Ok(Approval {
        approver,
        key,
        plan_hash: ballot.hash.to_string(),
        signature: armored.trim().to_string(),
        ts: crate::time::now_rfc3339(),
    })
}

/// The checks every approval passes, however it was signed.
fn admit(
    workflow: &Workflow,
    ballot: &Ballot,
    approver: &str,
    expected_hash: Option<&str>,
) -> Result<(), ApprovalError> {
    let approver = approver.to_string();
    if let Some(given) = expected_hash.filter(|given| *given != ballot.hash) {
        return Err(ApprovalError::WrongPlan {
            approver,
            subject: ballot.subject.clone(),
            given: given.to_string(),
            actual: ballot.hash.to_string(),
        });
    }
    if ballot.approvals.iter().any(|a| a.approver == approver) {
        return Err(ApprovalError::Duplicate {
            approver,
            subject: ballot.subject.clone(),
        });
    }
    if !ballot.rules.iter().any(|r| r.approvers.contains(&approver)) {
        return Err(ApprovalError::NotRequired {
            approver,
            subject: ballot.subject.clone(),
            workflow: workflow.path.display().to_string(),
        });
    }
    Ok(())
}

/// Whether `approval` is a valid signature, by the key the workflow lists
/// for its approver, over the ballot's current message.
fn is_valid(workflow: &Workflow, ballot: &Ballot, approval: &Approval) -> bool {
    if approval.plan_hash != ballot.hash {
        return false;
    }
    let signed = &ballot.message;
    if let Ok(ssh) = SshSignature::parse(&approval.signature) {
        // The key the file lists now, for this approver: a key withdrawn
        // from allowed_signers no longer counts.
        return SshKey::parse_openssh(&approval.key).ok().as_ref() == Some(&ssh.key)
            && workflow
                .ssh_signers
                .as_ref()
                .is_some_and(|s| s.allows(&approval.approver, &ssh.key))
            && ssh.verify(NAMESPACE, signed).is_ok();
    }
    let Some(listed) = workflow.approvers.get(&approval.approver) else {
        return false;
    };
    let Ok(recorded) = NoteVerifier::parse(&approval.key) else {
        return false;
    };
    let Some(signature) = BASE64
        .decode(&approval.signature)
        .ok()
        .and_then(|b| ed25519_dalek::Signature::from_slice(&b).ok())
    else {
        return false;
    };
    recorded == *listed && listed.key.verify_strict(signed, &signature).is_ok()
}

/// What is still missing, one line per unmet rule; empty when every rule
/// has its N distinct valid approvals. A change's rules are the ones in
/// force when it was planned (editing the workflow cannot waive them); the
/// keys are the workflow's current ones (a key withdrawn from the workflow
/// no longer counts).
pub fn missing(workflow: &Workflow, ballot: &Ballot) -> Vec<String> {
    let valid: Vec<&Approval> = ballot
        .approvals
        .iter()
        .filter(|a| is_valid(workflow, ballot, a))
        .collect();
    ballot
        .rules
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
