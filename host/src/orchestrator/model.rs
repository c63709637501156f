//! Property: one item's rotation, killed at any boundary any number of
//! times, with roles failing anywhere, resumes to a final state with
//! exactly one live credential, the one the store calls current; and the
//! credential the store calls current is live at every boundary.
//!
//! The steps are those of `advance` and steps.rs, one for one (what each
//! effect does and what it looks at again when repeated), over the real
//! [`MemoryStore`] (pending versions tagged with the change, promotion by
//! check-and-set) and a model of the issuer (which credentials are live,
//! when each was minted). The roles cannot run here without their wasm
//! components and an issuer; tests/rotation.rs kills the real binary at
//! the same boundaries against a real registry, once per boundary. This
//! model tries sequences of kills and failures that test cannot afford.
//!
//! Between mint and revoke the old and the new credential are both live
//! by design (consumers move over during the health watch); two live
//! ones are wrong only once the item is final.

use super::manifest::{Effect, ItemState};
use crate::store::{Label, MemoryStore, SecretAttributes, SecretStore, SecretValue};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// Each case is a few dozen store calls: cheap.
const CASES: u32 = 10_000;

const PATH: &str = "npm/token";
const CHANGE: &str = "01JMODEL";

/// What the item's journal record holds: all that survives a kill.
#[derive(Clone, Debug)]
struct Record {
    state: ItemState,
    intent: Option<Effect>,
    /// Model time of the first attempt of `intent`.
    intent_since: Option<u64>,
    expected_current: Option<u32>,
    new_version: Option<u32>,
}

/// Why a drive ended short of a final state.
#[derive(Debug)]
enum Cut {
    /// SIGKILL: the process state is lost, the journal and the world stay.
    Killed,
    /// The change stopped (a revocation failed): resume retries.
    Stopped,
}

/// A role failure or a kill, scheduled by the count of boundaries passed.
#[derive(Clone, Debug)]
struct Script {
    kills: BTreeSet<u32>,
    /// Role runs (counted from 0) that fail.
    failures: BTreeSet<u32>,
    /// Whether the issuer is reachable when a retried mint first asks it
    /// (its sweep of orphans); see [`the_issuer_down_during_a_retried_mint`].
    sweep_fails: bool,
}

struct World {
    store: MemoryStore,
    /// The issuer: live credential ids, and when each was minted.
    live: BTreeSet<u32>,
    minted: BTreeMap<u32, u64>,
    /// Version → credential id: what the manifests record as `credential_id`.
    credentials: BTreeMap<u32, u32>,
    next_credential: u32,
    clock: u64,
    journal: Record,
    item: Record,
    boundaries: u32,
    role_runs: u32,
    script: Script,
}

fn credential_of(value: &SecretValue) -> u32 {
    value.expose()["cred-".len()..].parse().unwrap()
}

impl World {
    fn new(script: Script) -> World {
        let store = MemoryStore::new();
        store.insert_current(
            PATH,
            SecretValue::new("cred-1"),
            SecretAttributes::default(),
        );
        let record = Record {
            state: ItemState::Planned,
            intent: None,
            intent_since: None,
            expected_current: Some(1),
            new_version: None,
        };
        World {
            store,
            live: BTreeSet::from([1]),
            minted: BTreeMap::from([(1, 0)]),
            credentials: BTreeMap::from([(1, 1)]),
            next_credential: 2,
            clock: 1,
            journal: record.clone(),
            item: record,
            boundaries: 0,
            role_runs: 0,
            script,
        }
    }

    /// A failpoint: checks the invariant that holds at every boundary,
    /// then dies if the script says so.
    fn boundary(&mut self) -> Result<(), Cut> {
        self.clock += 1;
        let current = self.store.read(PATH, Label::Current).unwrap();
        assert!(
            self.live.contains(&credential_of(&current)),
            "the current credential is dead at {:?}",
            self.item
        );
        self.boundaries += 1;
        if self.script.kills.contains(&self.boundaries) {
            return Err(Cut::Killed);
        }
        Ok(())
    }

    /// Whether the next role run succeeds.
    fn role_succeeds(&mut self) -> bool {
        self.role_runs += 1;
        !self.script.failures.contains(&(self.role_runs - 1))
    }

    fn begin(&mut self, effect: Effect) -> Result<(), Cut> {
        if self.item.intent != Some(effect) || self.item.intent_since.is_none() {
            self.item.intent_since = Some(self.clock);
        }
        self.item.intent = Some(effect);
        self.journal = self.item.clone();
        self.boundary()
    }

    fn transition(&mut self, to: ItemState) -> Result<(), Cut> {
        self.item.state = to;
        self.item.intent = None;
        self.item.intent_since = None;
        self.journal = self.item.clone();
        self.boundary()
    }

    fn pending_of_change(&self) -> Option<u32> {
        let meta = self.store.describe(PATH).unwrap();
        meta.versions
            .iter()
            .find(|v| v.change_id.as_deref() == Some(CHANGE) && v.labels.contains(&Label::Pending))
            .map(|v| v.version)
    }

    fn credential_of_version(&self, version: u32) -> u32 {
        self.credentials[&version]
    }

    /// The Implementer's revoke task: revoking a revoked credential succeeds.
    fn revoke(&mut self, credential: u32) -> Result<(), Cut> {
        if !self.role_succeeds() {
            return Err(Cut::Stopped);
        }
        self.live.remove(&credential);
        Ok(())
    }

    /// The Implementer's mint task (the npm-registry provider's order).
    fn mint_role(&mut self, retry_since: Option<u64>) -> Result<Option<u32>, Cut> {
        if let Some(since) = retry_since {
            if self.script.sweep_fails {
                return Ok(None);
            }
            // Nothing minted since the first attempt reached the store.
            let orphans: Vec<u32> = self
                .minted
                .iter()
                .filter(|(_, &at)| at >= since)
                .map(|(&c, _)| c)
                .collect();
            orphans.iter().for_each(|c| {
                self.live.remove(c);
            });
        }
        if !self.role_succeeds() {
            return Ok(None);
        }
        let credential = self.next_credential;
        self.next_credential += 1;
        self.live.insert(credential);
        self.minted.insert(credential, self.clock);
        self.boundary()?; // call:http.send
        let value = SecretValue::new(format!("cred-{credential}"));
        let version = self.store.put_pending(PATH, &value, Some(CHANGE)).unwrap();
        self.credentials.insert(version, credential);
        self.boundary()?; // call:secrets-write.put-pending
        Ok(Some(version))
    }

    /// One pass of `advance`: Ok when the item is final.
    fn drive(&mut self) -> Result<(), Cut> {
        loop {
            let state = self.item.state;
            let result = match state {
                s if s.is_terminal() => return Ok(()),
                ItemState::Planned => self.mint()?,
                ItemState::Minted => self.step(Effect::Confirm, ItemState::PendingStored, false)?,
                ItemState::PendingStored => self.step(Effect::Stage, ItemState::Staged, false)?,
                ItemState::Staged => self.step(Effect::Verify, ItemState::Verified, true)?,
                ItemState::Verified => self.promote()?,
                ItemState::Promoted => self.health_and_revoke_old()?,
                ItemState::OldRevoked => self.step(Effect::Finish, ItemState::Done, false)?,
                ItemState::Aborting => self.abort()?,
                ItemState::RollingBack => self.roll_back()?,
                _ => unreachable!("terminal states return above"),
            };
            self.boundary()?; // effect:…
            match result {
                Some(to) => self.transition(to)?,
                None => {
                    let to = match state {
                        ItemState::Promoted => ItemState::RollingBack,
                        _ => ItemState::Aborting,
                    };
                    self.transition(to)?;
                }
            }
        }
    }

    /// An effect with nothing outside the record but perhaps a role that
    /// may fail (`None`: the item aborts).
    fn step(
        &mut self,
        effect: Effect,
        to: ItemState,
        role: bool,
    ) -> Result<Option<ItemState>, Cut> {
        self.begin(effect)?;
        if role && !self.role_succeeds() {
            return Ok(None);
        }
        if effect == Effect::Confirm && self.pending_of_change() != self.item.new_version {
            return Ok(None);
        }
        Ok(Some(to))
    }

    fn mint(&mut self) -> Result<Option<ItemState>, Cut> {
        let retry_since = match self.item.intent {
            Some(Effect::Mint) => self.item.intent_since,
            _ => None,
        };
        self.begin(Effect::Mint)?;
        let version = match self.pending_of_change() {
            // A kill after the store took it: stage only, no second mint.
            Some(v) => self.role_succeeds().then_some(v),
            None => self.mint_role(retry_since)?,
        };
        self.item.new_version = version;
        Ok(version.map(|_| ItemState::Minted))
    }

    fn promote(&mut self) -> Result<Option<ItemState>, Cut> {
        self.begin(Effect::Promote)?;
        let new = self.item.new_version.unwrap();
        let meta = self.store.describe(PATH).unwrap();
        if meta.holder(Label::Current) != Some(new) {
            self.store
                .promote(PATH, new, self.item.expected_current)
                .unwrap();
        }
        Ok(Some(ItemState::Promoted))
    }

    fn health_and_revoke_old(&mut self) -> Result<Option<ItemState>, Cut> {
        // As `advance`: a resumed revocation is not watched again.
        if self.item.intent != Some(Effect::RevokeOld) {
            self.begin(Effect::Health)?;
            if !self.role_succeeds() {
                return Ok(None);
            }
            self.item.intent = None;
        }
        self.begin(Effect::RevokeOld)?;
        let old = self.item.expected_current.unwrap();
        let credential = self.credential_of_version(old);
        self.revoke(credential)?;
        Ok(Some(ItemState::OldRevoked))
    }

    fn abort(&mut self) -> Result<Option<ItemState>, Cut> {
        self.begin(Effect::RevokeNew)?;
        let Some(new) = self.pending_of_change() else {
            return Ok(Some(ItemState::Aborted));
        };
        let credential = self.credential_of_version(new);
        self.revoke(credential)?;
        self.store
            .relabel(PATH, &mut |labels| {
                labels[new as usize - 1].retain(|l| *l != Label::Pending);
                Ok(())
            })
            .unwrap();
        Ok(Some(ItemState::Aborted))
    }

    fn roll_back(&mut self) -> Result<Option<ItemState>, Cut> {
        self.begin(Effect::Rollback)?;
        let (old, new) = (
            self.item.expected_current.unwrap(),
            self.item.new_version.unwrap(),
        );
        let meta = self.store.describe(PATH).unwrap();
        if meta.holder(Label::Current) != Some(old) {
            self.store.promote(PATH, old, Some(new)).unwrap();
        }
        let credential = self.credential_of_version(new);
        self.revoke(credential)?;
        Ok(Some(ItemState::RolledBack))
    }
}

/// Drives the item until it is final, resuming from its journal after
/// every kill and stop; the final state.
fn rotate(script: Script) -> (ItemState, World) {
    let mut world = World::new(script);
    for _ in 0..64 {
        match world.drive() {
            Ok(()) => return (world.item.state, world),
            Err(Cut::Killed | Cut::Stopped) => world.item = world.journal.clone(),
        }
    }
    panic!("no final state after 64 resumes: {:?}", world.item);
}

fn assert_one_live(state: ItemState, world: &World) {
    let current = credential_of(&world.store.read(PATH, Label::Current).unwrap());
    assert_eq!(
        world.live,
        BTreeSet::from([current]),
        "{state:?}: live {:?}, current {current}",
        world.live
    );
    let expected = if state == ItemState::Done {
        current != 1
    } else {
        current == 1
    };
    assert!(expected, "{state:?} with credential {current} current");
}

fn script(sweep_fails: bool) -> impl Strategy<Value = Script> {
    (
        prop::collection::btree_set(1u32..40, 0..5),
        prop::collection::btree_set(0u32..12, 0..3),
    )
        .prop_map(move |(kills, failures)| Script {
            kills,
            failures,
            sweep_fails,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn killed_and_failing_anywhere_an_item_ends_with_one_live_credential(script in script(false)) {
        let (state, world) = rotate(script);
        assert_one_live(state, &world);
    }
}

/// Found by the property: killed after revoke-old began (the old token
/// revoked, the state not yet written), the resumed item ran the health
/// watch again; its failure rolled back to the revoked credential, leaving
/// consumers on a dead one. A resumed revocation is now finished, not
/// watched again (`advance`).
#[test]
fn a_resumed_revoke_old_never_rolls_back_to_the_revoked_credential() {
    let script = Script {
        // Boundary 20 is right after the issuer revoked the old token; role
        // run 4 is the health watch the resume would run again.
        kills: BTreeSet::from([20]),
        failures: BTreeSet::from([4]),
        sweep_fails: false,
    };
    let (state, world) = rotate(script);
    assert_eq!(state, ItemState::Done);
    assert_one_live(state, &world);
}

/// A kill between the issuer minting and the store taking the value, then
/// a resume whose mint fails before it sweeps the orphan (the issuer
/// briefly down): the item aborts, nothing pending of the change is found,
/// and the orphan stays live beside the current credential.
#[test]
#[ignore = "known gap: the abort after an interrupted mint does not sweep orphans (docs/assurance.md)"]
fn the_issuer_down_during_a_retried_mint() {
    let script = Script {
        // Boundaries: intent:mint is 1, call:http.send 2.
        kills: BTreeSet::from([2]),
        failures: BTreeSet::new(),
        sweep_fails: true,
    };
    let (state, world) = rotate(script);
    assert_one_live(state, &world);
}
