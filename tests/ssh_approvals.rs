//! Approvals signed with SSH keys: keys `ssh-keygen` makes in the test,
//! signatures `ssh-keygen -Y sign` makes, a real rotation of a real npm
//! token (Verdaccio) that waits for them; and OpenSSH's own security-key
//! vector, accepted by agentward exactly as `ssh-keygen` accepts it.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use support::rotation::*;

/// An ed25519 key pair made by `ssh-keygen`: the private key's path and
/// the public key's `TYPE BASE64`.
fn ssh_key(dir: &Path, name: &str) -> (PathBuf, String) {
    let key = dir.join(name);
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&key)
        .output()
        .expect("ssh-keygen (openssh-client; scripts/install-crypto-tools.sh)");
    assert!(out.status.success(), "{out:?}");
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let mut words = public.split_whitespace();
    let public = format!("{} {}", words.next().unwrap(), words.next().unwrap());
    (key, public)
}

/// `ssh-keygen -Y sign -n NAMESPACE` of `message` with `key`: the armored
/// signature's file.
fn ssh_sign(key: &Path, namespace: &str, message: &[u8], name: &str) -> PathBuf {
    let file = key.with_file_name(format!("{name}.msg"));
    std::fs::write(&file, message).unwrap();
    let out = Command::new("ssh-keygen")
        .args(["-Y", "sign", "-n", namespace, "-f"])
        .arg(key)
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    file.with_extension("msg.sig")
}

#[test]
fn a_rotation_waits_for_ssh_signed_approvals_from_the_allowed_signers() {
    let v = registry();
    let bot = bot(&v, "sshapproved");
    let keys = tempfile::tempdir().unwrap();
    let (alice, alice_pub) = ssh_key(keys.path(), "alice");
    let (bob, bob_pub) = ssh_key(keys.path(), "bob");
    let (mallory, _) = ssh_key(keys.path(), "mallory");
    let p = project(&v, &bot, &Setup::default());
    // dave signs with agentward's own approver key: both kinds count.
    let approvers = p.path().join("approvers");
    let out = p.run(&[
        "approver",
        "new",
        "dave",
        "--out",
        approvers.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let dave_pub = std::fs::read_to_string(approvers.join("dave.pub")).unwrap();
    let allowed = format!(
        "# approvers sign with the keys they sign commits with\nalice namespaces=\"git,agentward-approval\" {alice_pub} alice@laptop\nbob namespaces=\"git\" {bob_pub}\n"
    );
    let signers_file = p.path().join("policies/allowed_signers");
    std::fs::write(&signers_file, &allowed).unwrap();
    let workflow_file = p.path().join("policies/workflow.toml");
    let workflow = std::fs::read_to_string(&workflow_file).unwrap()
        + &format!(
            "\n[approvals]\nallowed_signers = \"allowed_signers\"\n\n[approvals.keys]\ndave = \"{}\"\n\n[[approvals.rules]]\npaths = [\"npm/**\"]\nrequired = 2\napprovers = [\"alice\", \"dave\"]\n",
            dave_pub.trim()
        );
    std::fs::write(&workflow_file, workflow).unwrap();

    let out = p.run(&["rotate", "--now", NOW]);
    assert_eq!(out.status.code(), Some(EXIT_WAITING), "{}", text(&out));
    let change = p.change_id();
    let plan_hash = p.manifest(&change)["plan_hash"]
        .as_str()
        .unwrap()
        .to_string();
    let out = p.run(&["approve", &change, "--print-message"]);
    assert!(out.status.success(), "{}", text(&out));
    let message = out.stdout;
    assert_eq!(
        String::from_utf8_lossy(&message),
        format!("agentward-approval-v1\nchange {change}\nplan {plan_hash}\n")
    );
    let approve = |signature: &Path| {
        p.run(&[
            "approve",
            &change,
            "--ssh-signature",
            signature.to_str().unwrap(),
        ])
    };
    let refused = |signature: &Path, expected: &str| {
        let out = approve(signature);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(text(&out).contains(expected), "{}", text(&out));
    };

    // What cannot count is refused, each with its reason.
    refused(
        &ssh_sign(&alice, "git", &message, "alice-git"),
        "is for namespace \"git\", not \"agentward-approval\"",
    );
    refused(
        &ssh_sign(&bob, "agentward-approval", &message, "bob"),
        "is not listed for approvals in",
    );
    refused(
        &ssh_sign(&mallory, "agentward-approval", &message, "mallory"),
        "is not listed for approvals in",
    );
    let mut other_plan = message.clone();
    other_plan.extend_from_slice(b"x");
    refused(
        &ssh_sign(&alice, "agentward-approval", &other_plan, "alice-other"),
        "does not verify over this message",
    );

    let signature = ssh_sign(&alice, "agentward-approval", &message, "alice");
    // OpenSSH agrees it is alice's approval under this allowed_signers.
    let verified = Command::new("ssh-keygen")
        .args([
            "-Y",
            "verify",
            "-n",
            "agentward-approval",
            "-I",
            "alice",
            "-f",
        ])
        .arg(&signers_file)
        .arg("-s")
        .arg(&signature)
        .stdin(std::fs::File::open(signature.with_extension("")).unwrap())
        .output()
        .unwrap();
    assert!(verified.status.success(), "{verified:?}");
    let out = approve(&signature);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("alice approved plan {plan_hash}")),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains("still missing: 1 of 2"),
        "{}",
        text(&out)
    );
    refused(&signature, "already approved");

    let dave = approvers.join("dave.key");
    let out = p.run(&["approve", &change, "--key", dave.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(p.manifest(&change)["state"], "APPROVED");

    // A key withdrawn from allowed_signers no longer counts: alice's line
    // now lists another key, and the change waits again until it is back.
    let (_, alice_new_pub) = ssh_key(keys.path(), "alice-new");
    std::fs::write(&signers_file, allowed.replace(&alice_pub, &alice_new_pub)).unwrap();
    let out = p.run(&["resume", &change, "--now", NOW]);
    assert_eq!(out.status.code(), Some(EXIT_WAITING), "{}", text(&out));
    assert!(text(&out).contains("1 of 2 approvals"), "{}", text(&out));
    assert_eq!(
        live_keys(&v, &bot.token),
        vec![bot.key.clone()],
        "nothing minted"
    );
    std::fs::write(&signers_file, &allowed).unwrap();

    let out = p.run(&["resume", &change, "--now", NOW]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(assert_invariants(&p, &v, &bot, &change), "DONE");
    let timeline = p.timeline(&change);
    assert!(timeline.contains("rotation.approve"), "{timeline}");
    assert!(
        timeline.contains(&alice_pub[..40]),
        "alice's key is on record: {timeline}"
    );
}

#[test]
fn openssh_accepts_the_security_key_vector_that_agentward_accepts() {
    let vectors = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/sshsig");
    for sig in ["ed25519.sig", "ed25519_sk.sig"] {
        let out = Command::new("ssh-keygen")
            .args(["-Y", "check-novalidate", "-n", "unittest", "-s"])
            .arg(vectors.join(sig))
            .stdin(std::fs::File::open(vectors.join("signed-data")).unwrap())
            .stdout(Stdio::piped())
            .output()
            .unwrap();
        assert!(out.status.success(), "{sig}: {out:?}");
        let armored = std::fs::read_to_string(vectors.join(sig)).unwrap();
        let signature = agentward::orchestrator::sshsig::SshSignature::parse(&armored).unwrap();
        let data = std::fs::read(vectors.join("signed-data")).unwrap();
        signature.verify("unittest", &data).unwrap();
        // The same signature over other data: OpenSSH and agentward refuse.
        let out = Command::new("ssh-keygen")
            .args(["-Y", "check-novalidate", "-n", "unittest", "-s"])
            .arg(vectors.join(sig))
            .stdin(std::fs::File::open(vectors.join("README.md")).unwrap())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{sig}");
        assert!(signature.verify("unittest", b"other data").is_err());
    }
}
