//! Many hosts, one OpenBao: leases on changes, claims on secrets and
//! replicated journals (`[cluster]` in the workflow, crate::cluster).
//!
//! Each host is its own project and processes (support::cluster_host),
//! sharing only the OpenBao server or cluster.

mod support;

use serde_json::Value;
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};
use support::bao_cluster::BaoCluster;
use support::cluster_host::{assert_rotated_once, seed, text, HostProject, LEASE_TTL_S, NOW};
use support::openbao::BaoServer;

/// Every item of a `--json` rotation report is DONE.
fn assert_all_done(doc: &Value) {
    let items = doc["items"].as_array().expect("a rotation report");
    assert!(items.iter().all(|i| i["state"] == "DONE"), "{doc}");
}

/// Runs `resume CHANGE` on `host` until the dead holder's lease has run
/// out; the refusals before say whose lease it is and when it ends.
fn resume_after_lease(host: &HostProject, change: &str) -> Output {
    let began = Instant::now();
    loop {
        let out = host.run(&["resume", change, "--now", NOW, "--json"], None);
        if out.status.success() {
            return out;
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("change {change} is being driven by"))
                && stderr.contains("lease runs"),
            "{}",
            text(&out)
        );
        assert!(
            began.elapsed() < Duration::from_secs(LEASE_TTL_S * 6),
            "the lease never ran out: {}",
            text(&out)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn a_change_a_live_host_drives_is_refused_to_another_and_finishes_undisturbed() {
    let server = BaoServer::start();
    let a = HostProject::new("a", "live", &server.addr(), &server.root_token, true);
    let b = HostProject::new("b", "live", &server.addr(), &server.root_token, true);
    let paths = seed(&a, "live", 150);
    let run = a.spawn(&["rotate", "--now", NOW, "--json"]);
    let journal = |h: &HostProject| {
        std::fs::read_dir(h.path().join("manifests"))
            .ok()
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .any(|e| e.file_name().to_string_lossy().ends_with(".journal"))
    };
    let began = Instant::now();
    while !journal(&a) {
        assert!(
            began.elapsed() < Duration::from_secs(60),
            "host a never got going"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let change_a = a.change_id();
    // b may neither take a's change nor start one over a's secrets.
    let out = b.run(&["resume", &change_a, "--now", NOW], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && stderr.contains(&format!("change {change_a} is being driven by"))
            && stderr.contains(&format!("(pid {}", run.id())),
        "{}",
        text(&out)
    );
    assert!(!b.path().join(format!("manifests/{change_a}.json")).exists());
    // Refused at its claims, or (a machine so loaded that a rotated a
    // secret while b planned) already at planning; either way b did
    // nothing, which the versions below prove.
    let out = b.run(&["rotate", "--now", NOW], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && (stderr.contains(&format!("is claimed by change {change_a}, which"))
                || stderr.contains("the secret changed while planning")),
        "{}",
        text(&out)
    );
    let out = run.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_all_done(&doc);
    assert_rotated_once(&server.root_store(), &paths);
}

#[test]
fn a_change_planned_on_one_host_is_approved_on_another_and_finished_by_the_first() {
    let server = BaoServer::start();
    let a = HostProject::new("a", "approved", &server.addr(), &server.root_token, true);
    let b = HostProject::new("b", "approved", &server.addr(), &server.root_token, true);
    let keys = b.path().join("approvers");
    let out = support::cli::agentward(
        b.path(),
        &["approver", "new", "alice", "--out", keys.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out));
    let alice_pub = std::fs::read_to_string(keys.join("alice.pub")).unwrap();
    for host in [&a, &b] {
        let workflow = host.path().join("policies/workflow.toml");
        let mut text = std::fs::read_to_string(&workflow).unwrap();
        text.push_str(&format!(
            "\n[approvals.keys]\nalice = \"{}\"\n\n[[approvals.rules]]\npaths = [\"npm/**\"]\nrequired = 1\napprovers = [\"alice\"]\n",
            alice_pub.trim()
        ));
        std::fs::write(&workflow, text).unwrap();
    }
    let paths = seed(&a, "approved", 3);
    let out = a.run(&["rotate", "--now", NOW], None);
    assert_eq!(
        out.status.code(),
        Some(3),
        "waits for approval: {}",
        text(&out)
    );
    let change = a.change_id();
    let plan_hash = a.manifest(&change)["plan_hash"]
        .as_str()
        .unwrap()
        .to_string();

    // b never planned it: approving takes the change from its replica.
    assert!(b.change_ids().is_empty());
    let alice_key = keys.join("alice.key");
    let out = b.run(
        &[
            "approve",
            &change,
            "--key",
            alice_key.to_str().unwrap(),
            "--plan-hash",
            &plan_hash,
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("approvals complete"), "{}", text(&out));

    // a's own copy still says APPROVAL_PENDING; resuming takes the
    // approval from the replica, and the change runs.
    assert_eq!(a.manifest(&change)["state"], "APPROVAL_PENDING");
    let out = a.run(&["resume", &change, "--now", NOW, "--json"], None);
    assert!(out.status.success(), "{}", text(&out));
    assert_all_done(&serde_json::from_slice(&out.stdout).unwrap());
    assert_rotated_once(&server.root_store(), &paths);
    let approvals = a.manifest(&change)["approvals"].clone();
    assert_eq!(approvals[0]["approver"], "alice", "{approvals}");
    a.verify_log();
    b.verify_log();
}

#[test]
fn a_claimed_secret_and_a_held_change_are_refused_until_their_holder_is_done() {
    let server = BaoServer::start();
    let a = HostProject::new("a", "shared", &server.addr(), &server.root_token, true);
    let b = HostProject::new("b", "shared", &server.addr(), &server.root_token, true);
    let paths = seed(&a, "shared", 6);
    // Host a dies (kill -9) with its change half done: lease and claims
    // stay behind in OpenBao.
    let out = a.run(&["rotate", "--now", NOW], Some("state:PENDING_STORED"));
    assert!(!out.status.success(), "{}", text(&out));
    let change_a = a.change_id();

    // Host b plans the same secrets: refused before any effect, naming
    // the change that holds them and how to go on.
    let out = b.run(&["rotate", "--now", NOW, "--json"], None);
    assert!(!out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is claimed by change ") && stderr.contains(&change_a),
        "{}",
        text(&out)
    );
    let change_b = b.change_id();
    let m = b.manifest(&change_b);
    assert!(
        m["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["state"] == "PLANNED" && i["intent"].is_null()),
        "b did nothing: {m}"
    );

    // b takes a's change over once a's lease has run out, and finishes it
    // from the replica: a's manifests/ never reached b.
    assert!(!b.path().join(format!("manifests/{change_a}.json")).exists());
    let out = resume_after_lease(&b, &change_a);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let items = doc["items"].as_array().unwrap();
    assert_eq!(items.len(), paths.len(), "{doc}");
    assert!(items.iter().all(|i| i["state"] == "DONE"), "{doc}");
    let store = server.root_store();
    assert_rotated_once(&store, &paths);

    // a's claims went with its change: b's own change goes on, and finds
    // its plan overtaken (it planned against version 1): every item aborts
    // before minting, so nothing is rotated twice.
    let out = b.run(&["resume", &change_b, "--now", NOW, "--json"], None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    for item in doc["items"].as_array().unwrap() {
        let reason = item["reason"].as_str().unwrap_or("");
        assert!(
            item["state"] == "ABORTED"
                && reason.contains("current is on version 2, not on version 1"),
            "{item}"
        );
    }
    assert_rotated_once(&store, &paths);
    b.verify_log();
}

#[test]
fn three_hosts_rotate_300_secrets_through_a_killed_host_and_a_killed_leader() {
    let mut cluster = BaoCluster::start();
    let addrs = cluster.addrs();
    // Each host starts at a different node.
    let host_addrs = |k: usize| {
        let mut order: Vec<String> = addrs.clone();
        order.rotate_left(k);
        order.join(",")
    };
    let hosts: Vec<HostProject> = (0..3)
        .map(|k| {
            HostProject::new(
                &format!("h{k}"),
                &format!("h{k}"),
                &host_addrs(k),
                cluster.root_token(),
                true,
            )
        })
        .collect();
    let paths: Vec<Vec<String>> = (0..3)
        .map(|k| seed(&hosts[k], &format!("h{k}"), 100))
        .collect();
    let mut runs: Vec<Child> = hosts
        .iter()
        .map(|h| h.spawn(&["rotate", "--now", NOW, "--json"]))
        .collect();

    // Mid-run: host 0 has journaled some of its work.
    let journal_of = |h: &HostProject| {
        std::fs::read_dir(h.path().join("manifests"))
            .ok()
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .find(|e| e.file_name().to_string_lossy().ends_with(".journal"))
            .and_then(|e| e.metadata().ok())
            .map_or(0, |m| m.len())
    };
    let began = Instant::now();
    while journal_of(&hosts[0]) < 40_000 {
        assert!(
            began.elapsed() < Duration::from_secs(120),
            "host 0 never got going"
        );
        assert!(
            runs[0].try_wait().unwrap().is_none(),
            "host 0 finished too soon"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    runs[0].kill().unwrap(); // SIGKILL
    let _ = runs[0].wait();
    let leader = cluster.kill_leader();
    eprintln!(
        "killed host 0 and OpenBao node {leader} after {:?}",
        began.elapsed()
    );

    // Hosts 1 and 2 go on through the election, or stop and are resumed.
    for (k, run) in runs.iter_mut().enumerate().skip(1) {
        let out = std::mem::replace(run, Command::new("true").spawn().unwrap());
        let out = out.wait_with_output().unwrap();
        if !out.status.success() {
            eprintln!("host {k} stopped: {}", String::from_utf8_lossy(&out.stderr));
            // A host stopped before it planned rotates again; one stopped
            // after releases its lease, unless that write too lost its
            // answer in the election: then the lease runs out.
            let out = match hosts[k].change_ids().pop() {
                None => hosts[k].run(&["rotate", "--now", NOW, "--json"], None),
                Some(change) => resume_after_lease(&hosts[k], &change),
            };
            assert!(out.status.success(), "host {k} finished: {}", text(&out));
            assert_all_done(&serde_json::from_slice(&out.stdout).unwrap());
        }
    }
    let changes: Vec<String> = hosts.iter().map(HostProject::change_id).collect();
    // Host 0's change is finished by host 1, from the replica.
    let change_0 = changes[0].clone();
    let out = resume_after_lease(&hosts[1], &change_0);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_all_done(&doc);

    let store = agentward::store::openbao::OpenBaoStore::new(
        &addrs.join(","),
        cluster.root_token(),
        "secret",
    );
    for group in &paths {
        assert_rotated_once(&store, group);
    }
    // Every change's lease says closed, and every claim was let go.
    for change in &changes {
        let (_, lease) = store
            .record(&format!("agentward-cluster/changes/{change}/lease"))
            .unwrap()
            .expect("a lease record");
        assert_eq!(lease["state"], "closed", "{change}: {lease:?}");
        // Its final snapshot holds the whole journal; the batches are gone.
        let batches = store
            .record_names(&format!("agentward-cluster/changes/{change}/journal/"))
            .unwrap();
        assert!(
            batches.is_empty(),
            "{change}: {} batches left",
            batches.len()
        );
        let (_, snapshot) = store
            .record(&format!("agentward-cluster/changes/{change}/snapshot"))
            .unwrap()
            .expect("a snapshot");
        assert!(snapshot["manifest"].as_str().unwrap().contains("DONE"));
    }
    for (group, change) in paths.iter().zip(&changes) {
        for path in group {
            let (_, claim) = store
                .record(&format!("agentward-cluster/claims/{path}"))
                .unwrap()
                .expect("a claim record");
            assert_eq!(
                claim.get("released_by"),
                Some(&Value::from(change.as_str())),
                "{path}: {claim:?}"
            );
        }
    }
    // Host 1's log says it took host 0's change over from host 0.
    let taken = std::fs::read_dir(hosts[1].path().join("logs"))
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.unwrap().path()).ok())
        .flat_map(|log| log.lines().map(str::to_string).collect::<Vec<_>>())
        .any(|line| {
            line.contains("rotation.hold")
                && line.contains(&changes[0])
                && line.contains("took_over_from")
        });
    assert!(taken, "host 1 recorded taking change {} over", changes[0]);
    for host in &hosts {
        host.verify_log();
    }
}
