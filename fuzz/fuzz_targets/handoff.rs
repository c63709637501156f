//! The handoff decoders (the JSON records roles hand each other, parsed by
//! the orchestrator from a role's report) on arbitrary text: a record or
//! an error, never a panic; a record decoded encodes and decodes back to
//! itself.
//!
//! Input: one byte choosing the record type, then the JSON.
#![no_main]

use agentward_handoff::*;
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;

fn round_trip<T>(json: &str) -> Option<T>
where
    T: DeserializeOwned + Serialize + PartialEq + Debug,
{
    let record: T = serde_json::from_str(json).ok()?;
    let encoded = serde_json::to_string(&record).expect("a decoded record encodes");
    let decoded: T = serde_json::from_str(&encoded).expect("an encoded record decodes");
    assert_eq!(decoded, record, "{encoded}");
    let pretty = serde_json::to_string_pretty(&record).expect("a decoded record encodes");
    assert_eq!(
        serde_json::from_str::<T>(&pretty).ok().as_ref(),
        Some(&record)
    );
    Some(record)
}

fuzz_target!(|data: &[u8]| {
    let Some((&kind, json)) = data.split_first() else {
        return;
    };
    let Ok(json) = std::str::from_utf8(json) else {
        return;
    };
    match kind % 13 {
        0 => drop(round_trip::<ResearchTask>(json)),
        1 => drop(round_trip::<Briefing>(json)),
        2 => drop(round_trip::<MapTask>(json)),
        3 => drop(round_trip::<ScopeMap>(json)),
        4 => drop(round_trip::<PlanTask>(json)),
        5 => drop(round_trip::<Plan>(json)),
        6 => drop(round_trip::<ImplementTask>(json)),
        7 => drop(round_trip::<Changes>(json)),
        8 => drop(round_trip::<ReviewTask>(json)),
        9 => {
            if let Some(sign_off) = round_trip::<SignOff>(json) {
                for finding in &sign_off.findings {
                    assert!(finding.to_string().ends_with(&finding.message));
                }
            }
        }
        10 => drop(round_trip::<TestTask>(json)),
        11 => {
            if let Some(verification) = round_trip::<Verification>(json) {
                let all = verification.checks.iter().all(|c| c.passed);
                assert_eq!(verification.passed(), all);
            }
        }
        _ => drop(round_trip::<Revocation>(json)),
    }
});
