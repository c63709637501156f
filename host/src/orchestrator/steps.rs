//! The steps of one secret's rotation: each moves an item from one state
//! to the next by one effect (a role's run or a label move), idempotent
//! under the change id so that a resumed change may repeat it.

use super::*;

impl Orchestrator<'_> {
    /// PLANNED → MINTED: the Implementer mints and stores a pending version
    /// and stages its files. If a pending version of this change already
    /// exists (a crash after the mint), it only stages again.
    pub(super) fn mint(
        &self,
        s: &Shared,
        c: &mut Cursor,
    ) -> Result<(ItemState, String), StepFailure> {
        let retry_since = match c.item.intent {
            Some(Effect::Mint) => c.item.intent_since.clone(),
            _ => None,
        };
        self.begin(s, c, Effect::Mint)?;
        let path = c.item.path.clone();
        let existing = self.pending_of_change(&path, &s.change_id)?;
        if existing.is_none() {
            self.check_still_current(&path, c.item.expected_current)?;
        }
        let files = s
            .plan
            .items
            .iter()
            .find(|p| p.path == path)
            .map(|p| p.files.clone())
            .unwrap_or_default();
        let current_credential_id = c
            .item
            .expected_current
            .and_then(|v| self.credential_id_of(&path, v));
        let step = self.workflow.step(Stage::Implement);
        let task = match existing {
            Some(version) => ImplementTask::Stage {
                path: path.clone(),
                version,
                current_credential_id,
                minted_since: c.item.intent_since.clone(),
                files: files.clone(),
                dry_run: self.dry_run,
                config: step.config.clone(),
            },
            None => ImplementTask::Mint {
                path: path.clone(),
                expected_current: c.item.expected_current,
                current_credential_id,
                retry_since,
                files,
                dry_run: self.dry_run,
                config: step.config.clone(),
            },
        };
        let outcome = self.run_against_provider(step.role, &s.change_id, &task)?;
        let changes: Changes =
            handoff(step.role, Stage::Implement, &outcome).map_err(StepFailure::Abort)?;
        if changes.path != path || existing.is_some_and(|v| v != changes.version) {
            return Err(StepFailure::Abort(format!(
                "the implementer handed off {} version {} for {path}{}",
                changes.path,
                changes.version,
                existing.map_or(String::new(), |v| format!(" version {v}"))
            )));
        }
        let mut listed: Vec<(String, String)> = changes
            .staged
            .iter()
            .map(|s| (s.root.clone(), s.file.clone()))
            .collect();
        let mut proposed: Vec<(String, String)> = outcome
            .proposals
            .iter()
            .map(|p| (p.root.clone(), p.path.clone()))
            .collect();
        listed.sort();
        proposed.sort();
        if listed != proposed {
            return Err(StepFailure::Abort(format!(
                "the implementer lists staged files {listed:?} but proposed {proposed:?}"
            )));
        }
        let item = &mut c.item;
        item.staged = outcome
            .proposals
            .iter()
            .map(|p| StagedChange {
                root: p.root.clone(),
                file: p.path.clone(),
                sha256: hex::encode(Sha256::digest(p.contents.as_bytes())),
                contents: p.contents.clone(),
                diff: String::new(),
                branch: None,
                commit: None,
            })
            .collect();
        let note = format!("{} (version {})", outcome.report.summary, changes.version);
        item.changes = Some(changes);
        Ok((ItemState::Minted, note))
    }

    /// The pending version this change stored, if any: what makes minting
    /// idempotent under the change id.
    fn pending_of_change(&self, path: &str, change_id: &str) -> Result<Option<u32>, StepFailure> {
        let meta = match self.store.describe(path) {
            Ok(meta) => meta,
            Err(StoreError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let labelled = meta.versions.iter().find(|v| {
            v.change_id.as_deref() == Some(change_id) && v.labels.contains(&Label::Pending)
        });
        if let Some(v) = labelled {
            return Ok(Some(v.version));
        }
        // A version this change wrote before its process died, unlabelled.
        match meta.versions.last() {
            Some(latest) if latest.labels.is_empty() && latest.change_id.is_none() => {
                Ok(self.store.recover_pending(path, change_id)?)
            }
            _ => Ok(None),
        }
    }

    /// Before a credential is minted: the version the plan replaces must
    /// still be current. Another change (another host's) that rotated the
    /// secret since this one was planned makes the plan stale, and minting
    /// would only make a credential to revoke again.
    fn check_still_current(&self, path: &str, expected: Option<u32>) -> Result<(), StepFailure> {
        let Some(expected) = expected else {
            return Ok(());
        };
        let current = match self.store.describe(path) {
            Ok(meta) => meta
                .versions
                .iter()
                .find(|v| v.labels.contains(&Label::Current))
                .map(|v| v.version),
            Err(StoreError::NotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        match current {
            Some(v) if v == expected => Ok(()),
            found => Err(StepFailure::Abort(format!(
                "secret {path}: label current is on {}, not on version {expected} as the plan expected: another change rotated it after this one was planned, so nothing was minted\n  fix: plan again (`agentward rotate`)",
                found.map_or("no version".to_string(), |v| format!("version {v}"))
            ))),
        }
    }

    /// MINTED → PENDING_STORED: the store holds the version, labelled
    /// pending, tagged with this change.
    pub(super) fn confirm(
        &self,
        s: &Shared,
        c: &mut Cursor,
    ) -> Result<(ItemState, String), StepFailure> {
        self.begin(s, c, Effect::Confirm)?;
        let path = c.item.path.clone();
        let claimed = c.item.new_version().expect("MINTED has changes");
        match self.pending_of_change(&path, &s.change_id)? {
            Some(v) if v == claimed => Ok((
                ItemState::PendingStored,
                format!("version {v} is pending, tagged {}", s.change_id),
            )),
            other => Err(StepFailure::Abort(format!(
                "the implementer reported version {claimed} of {path}, but the store's pending version of this change is {other:?}"
            ))),
        }
    }

    /// PENDING_STORED → STAGED: each changed file is committed to the
    /// change's branch in its repository (a dry run only records the diff).
    pub(super) fn stage(
        &self,
        s: &Shared,
        c: &mut Cursor,
    ) -> Result<(ItemState, String), StepFailure> {
        self.begin(s, c, Effect::Stage)?;
        let branch = git::branch_for(&s.change_id);
        let message = self.commit_message(s, c);
        let project = self.host.project_dir().to_path_buf();
        let mut notes = Vec::new();
        // The file being replaced may hold the very credential being
        // rotated: the manifest's diff shows that it goes, not what it was.
        let path = c.item.path.clone();
        let known: Vec<SecretValue> = [Label::Current, Label::Previous, Label::Pending]
            .into_iter()
            .filter_map(|label| self.store.read(&path, label).ok())
            .collect();
        let known: Vec<&str> = known.iter().map(SecretValue::expose).collect();
        for staged in &mut c.item.staged {
            let top = project.join(&staged.root);
            let target = top.join(&staged.file);
            let before = std::fs::read_to_string(&target).unwrap_or_default();
            let shown_before = git::redact_credentials(&before, &known);
            staged.diff = similar::TextDiff::from_lines(&shown_before, &staged.contents)
                .unified_diff()
                .header(&format!("a/{}", staged.file), &format!("b/{}", staged.file))
                .to_string();
            let name = format!("{}/{}", staged.root, staged.file);
            if before == staged.contents {
                notes.push(format!("{name} unchanged"));
            } else if self.dry_run {
                notes.push(format!("{name} would be committed to {branch}"));
            } else if let Some((repo, inner)) = git::repository_of(&top, &target) {
                let commit = git::commit_file(&repo, &branch, &inner, &staged.contents, &message)
                    .map_err(|e| StepFailure::Abort(e.to_string()))?;
                notes.push(format!("{name} committed to {branch} ({})", &commit[..12]));
                staged.branch = Some(branch.clone());
                staged.commit = Some(commit);
            } else {
                notes.push(format!(
                    "{name} is not in a git repository: the manifest holds it"
                ));
            }
        }
        Ok((
            ItemState::Staged,
            if notes.is_empty() {
                "no files to stage".into()
            } else {
                notes.join("; ")
            },
        ))
    }

    fn commit_message(&self, s: &Shared, c: &Cursor) -> String {
        let item = &c.item;
        let reason = s
            .plan
            .items
            .iter()
            .find(|p| p.path == item.path)
            .map_or("", |p| p.reason.as_str());
        format!(
            "agentward: take {} from the environment\n\n\
             Rotation of {} to version {} ({reason}). The token itself is never\n\
             committed: the file refers to an environment variable that CI fills\n\
             from the secret store.\n\nChange-Id: {}\n",
            item.path,
            item.path,
            item.new_version().map_or("?".into(), |v| v.to_string()),
            s.change_id
        )
    }

    /// Deletes the change's branches: an aborted or rolled-back change
    /// leaves no proposal behind to be merged by mistake.
    fn withdraw_staged(&self, c: &Cursor) -> Result<(), StepFailure> {
        let project = self.host.project_dir();
        for staged in c.item.staged.iter().filter(|s| s.branch.is_some()) {
            let top = project.join(&staged.root);
            if let Some((repo, _)) = git::repository_of(&top, &top.join(&staged.file)) {
                git::delete_branch(&repo, staged.branch.as_deref().unwrap_or_default()).map_err(
                    |e| StepFailure::Stop {
                        reason: e.to_string(),
                        fix: "delete the branch by hand".into(),
                    },
                )?;
            }
        }
        Ok(())
    }

    /// STAGED → VERIFIED: the Reviewer signs the change off, then the Tester
    /// proves the pending version works with at least `min_checks` checks.
    pub(super) fn verify(
        &self,
        s: &Shared,
        c: &mut Cursor,
    ) -> Result<(ItemState, String), StepFailure> {
        self.begin(s, c, Effect::Verify)?;
        let item = &c.item;
        let changes = item.changes.clone().expect("STAGED has changes");
        let (path, version) = (item.path.clone(), changes.version);
        let review = self.workflow.step(Stage::Review);
        let task = ReviewTask {
            path: path.clone(),
            version,
            proposed: item.staged.iter().map(|s| s.contents.clone()).collect(),
            changes,
            config: review.config.clone(),
        };
        let outcome = self.run_role(review.role, &s.change_id, &task)?;
        let sign_off: SignOff =
            handoff(review.role, Stage::Review, &outcome).map_err(StepFailure::Abort)?;
        check_subject(
            review.role,
            &sign_off.path,
            sign_off.version,
            &path,
            version,
        )?;
        c.item.findings = sign_off.findings.clone();
        c.item.advice = sign_off.advice.clone();
        if !sign_off.approved {
            let findings: Vec<String> = sign_off.findings.iter().map(ToString::to_string).collect();
            return Err(StepFailure::Abort(format!(
                "the reviewer rejected the change: {}",
                findings.join("; ")
            )));
        }
        let verification = self.test(s, c, TestPurpose::Verify, Label::Pending)?;
        let passed = verification.checks.iter().filter(|c| c.passed).count();
        let summary = check_summary(&verification);
        c.item.checks = verification.checks.clone();
        if !verification.passed() {
            return Err(StepFailure::Abort(format!(
                "verification failed: {summary}"
            )));
        }
        if passed < self.workflow.min_checks {
            return Err(StepFailure::Abort(format!(
                "only {passed} checks passed, the workflow requires {} independent checks ({summary})",
                self.workflow.min_checks
            )));
        }
        Ok((
            ItemState::Verified,
            format!("reviewed and verified: {summary}"),
        ))
    }

    fn test(
        &self,
        s: &Shared,
        c: &Cursor,
        purpose: TestPurpose,
        label: Label,
    ) -> Result<Verification, StepFailure> {
        let item = &c.item;
        let version = item.new_version().expect("tests run after the mint");
        let (role, config) = match (purpose, &self.workflow.health) {
            (TestPurpose::Health, Some(h)) => (h.role, h.config.clone()),
            _ => {
                let step = self.workflow.step(Stage::Test);
                (step.role, step.config.clone())
            }
        };
        let task = TestTask {
            purpose,
            path: item.path.clone(),
            version,
            label: label.as_str().to_string(),
            dry_run: self.dry_run,
            config,
        };
        let outcome = self.run_against_provider(role, &s.change_id, &task)?;
        let verification: Verification =
            handoff(role, Stage::Test, &outcome).map_err(StepFailure::Abort)?;
        check_subject(
            role,
            &verification.path,
            verification.version,
            &item.path,
            version,
        )?;
        Ok(verification)
    }

    /// VERIFIED → PROMOTED: check-and-set against the version current at
    /// plan time. A promotion that already happened (a crash after it) is
    /// recognised, not repeated.
    pub(super) fn promote(
        &self,
        s: &Shared,
        c: &mut Cursor,
    ) -> Result<(ItemState, String), StepFailure> {
        self.begin(s, c, Effect::Promote)?;
        let item = &c.item;
        let new = item.new_version().expect("VERIFIED has changes");
        let meta = self.store.describe(&item.path)?;
        if meta.holder(Label::Current) != Some(new) {
            self.store.promote(&item.path, new, item.expected_current)?;
        }
        let expires = item.changes.as_ref().and_then(|c| c.expires.clone());
        if meta.attributes.expires != expires {
            self.store.set_expires(&item.path, expires.as_deref())?;
        }
        Ok((
            ItemState::Promoted,
            format!(
                "version {new} is current{}",
                item.expected_current
                    .map_or(String::new(), |v| format!("; version {v} is previous"))
            ),
        ))
    }

    /// After promotion: the health watch. More failed samples than the
    /// workflow allows roll the change back.
    pub(super) fn health(&self, s: &Shared, c: &mut Cursor) -> Result<(), StepFailure> {
        let Some(health) = self.workflow.health.clone() else {
            return Ok(());
        };
        self.begin(s, c, Effect::Health)?;
        let mut failures = Vec::new();
        let mut samples = Vec::new();
        for sample in 0..health.samples {
            if sample > 0 && !self.dry_run {
                std::thread::sleep(std::time::Duration::from_millis(health.interval_ms));
            }
            match self.test(s, c, TestPurpose::Health, Label::Current) {
                Ok(v) => {
                    if !v.passed() {
                        failures.push(check_summary(&v));
                    }
                    samples.extend(v.checks);
                }
                Err(StepFailure::Abort(reason)) => failures.push(reason),
                Err(stop) => return Err(stop),
            }
        }
        c.item.health = samples;
        if failures.len() as u32 > health.max_failures {
            return Err(StepFailure::Abort(format!(
                "health degraded after promotion: {} of {} samples failed (threshold {}): {}",
                failures.len(),
                health.samples,
                health.max_failures,
                failures.join("; ")
            )));
        }
        // The watch changes no state, so its outcome is recorded here.
        c.item.intent = None;
        let mut args = self.item_args(s, c);
        args.insert("samples".into(), health.samples.into());
        args.insert("failed".into(), failures.len().into());
        self.record(&s.change_id, "rotation.health", args, "ok")?;
        Ok(())
    }

    /// OLD_REVOKED → DONE: nothing left to do but say so.
    pub(super) fn finish(
        &self,
        s: &Shared,
        c: &mut Cursor,
    ) -> Result<(ItemState, String), StepFailure> {
        self.begin(s, c, Effect::Finish)?;
        Ok((
            ItemState::Done,
            "old credential revoked; rotation done".into(),
        ))
    }

    /// PROMOTED → OLD_REVOKED: the Implementer revokes the version that was
    /// current before, now labelled previous.
    pub(super) fn revoke_old(
        &self,
        s: &Shared,
        c: &mut Cursor,
    ) -> Result<(ItemState, String), StepFailure> {
        self.begin(s, c, Effect::RevokeOld)?;
        let Some(old) = c.item.expected_current else {
            return Ok((ItemState::OldRevoked, "no earlier version to revoke".into()));
        };
        let detail = self.revoke(s, c, old)?;
        Ok((
            ItemState::OldRevoked,
            format!("version {old} revoked: {detail}"),
        ))
    }

    /// ABORTING → ABORTED: revoke the new credential and take its pending
    /// label away; the current version was never touched.
    pub(super) fn abort(
        &self,
        s: &Shared,
        c: &mut Cursor,
    ) -> Result<(ItemState, String), StepFailure> {
        self.begin(s, c, Effect::RevokeNew)?;
        let path = c.item.path.clone();
        // The implementer may have stored a version before failing.
        let Some(new) = self.pending_of_change(&path, &s.change_id)? else {
            self.withdraw_staged(c)?;
            return Ok((
                ItemState::Aborted,
                "no pending version of this change remains; current untouched".into(),
            ));
        };
        let detail = self.revoke(s, c, new)?;
        self.store.relabel(&path, &mut |labels| {
            if let Some(l) = labels.get_mut(new as usize - 1) {
                l.retain(|x| *x != Label::Pending);
            }
            Ok(())
        })?;
        self.withdraw_staged(c)?;
        Ok((
            ItemState::Aborted,
            format!("version {new} revoked ({detail}) and unlabelled; current untouched"),
        ))
    }

    /// ROLLING_BACK → ROLLED_BACK: the previous version becomes current
    /// again (check-and-set against the new one), then the new credential
    /// is revoked.
    pub(super) fn roll_back(
        &self,
        s: &Shared,
        c: &mut Cursor,
    ) -> Result<(ItemState, String), StepFailure> {
        self.begin(s, c, Effect::Rollback)?;
        let item = &c.item;
        let (path, new) = (item.path.clone(), item.new_version().expect("promoted"));
        let Some(old) = item.expected_current else {
            return Err(StepFailure::Stop {
                reason: format!(
                    "{path} had no version before {new}, so there is nothing to roll back to"
                ),
                fix: "mint a working credential by hand or fix the service".into(),
            });
        };
        let meta = self.store.describe(&path)?;
        if meta.holder(Label::Current) != Some(old) {
            self.store.promote(&path, old, Some(new))?;
        }
        if meta.attributes.expires != item.previous_expires {
            self.store
                .set_expires(&path, item.previous_expires.as_deref())?;
        }
        let detail = self.revoke(s, c, new)?;
        self.withdraw_staged(c)?;
        Ok((
            ItemState::RolledBack,
            format!("version {old} is current again; version {new} revoked ({detail})"),
        ))
    }

    /// Has the Implementer revoke `version` at its issuer.
    fn revoke(&self, s: &Shared, c: &Cursor, version: u32) -> Result<String, StepFailure> {
        let path = c.item.path.clone();
        let credential_id = if Some(version) == c.item.new_version() {
            c.item
                .changes
                .as_ref()
                .and_then(|c| c.credential_id.clone())
        } else {
            self.credential_id_of(&path, version)
        };
        let step = self.workflow.step(Stage::Implement);
        let task = ImplementTask::Revoke {
            path: path.clone(),
            version,
            credential_id,
            dry_run: self.dry_run,
            config: step.config.clone(),
        };
        let role = step.role;
        let stop = |reason: String| StepFailure::Stop {
            reason,
            fix: format!("check that the issuer is reachable and that the {role} may revoke"),
        };
        let outcome = self
            .run_against_provider(role, &s.change_id, &task)
            .map_err(|e| match StepFailure::from(e) {
                StepFailure::Abort(reason) => stop(reason),
                stop => stop,
            })?;
        let revocation: Revocation = handoff(role, Stage::Implement, &outcome).map_err(stop)?;
        if revocation.path != path || revocation.version != version || !revocation.revoked {
            let reason = format!(
                "version {version} of {path} was not revoked: {}",
                revocation.detail
            );
            if self.revoked_by_hand.contains(&(path.clone(), version)) {
                // The operator says it is done; that claim goes on record.
                let mut args = self.item_args(s, c);
                args.insert("version".into(), version.into());
                args.insert("issuer_said".into(), revocation.detail.into());
                self.record(
                    &s.change_id,
                    "rotation.revoked-by-hand",
                    args,
                    "ok: confirmed by the operator",
                )?;
                return Ok(format!(
                    "revoked by hand, as the operator confirmed ({reason})"
                ));
            }
            return Err(StepFailure::Stop {
                reason,
                fix: format!(
                    "make the issuer reachable; or revoke it yourself and run `agentward resume {} --revoked-by-hand {path}@{version}`",
                    s.change_id
                ),
            });
        }
        Ok(revocation.detail)
    }

    /// The issuer's id of a version minted by an earlier change, from that
    /// change's manifest.
    /// A version imported rather than minted by a change carries its id
    /// in the secret's `credential_id` attribute (`secrets import`).
    fn credential_id_of(&self, path: &str, version: u32) -> Option<String> {
        let meta = self.store.describe(path).ok()?;
        let Some(change) = meta
            .versions
            .iter()
            .find(|v| v.version == version)?
            .change_id
            .clone()
        else {
            return meta
                .attributes
                .custom
                .iter()
                .find(|(k, _)| k == "credential_id")
                .map(|(_, v)| v.clone());
        };
        let manifest = Manifest::load(&self.manifests, &change).ok()?;
        manifest
            .items
            .into_iter()
            .find(|i| i.path == path)?
            .changes?
            .credential_id
    }
}

/// A handoff must be about the secret and version under change.
fn check_subject(
    role: RoleName,
    path: &str,
    version: u32,
    expected_path: &str,
    expected_version: u32,
) -> Result<(), StepFailure> {
    if path != expected_path || version != expected_version {
        return Err(StepFailure::Abort(format!(
            "role {role} handed off a record for {path} version {version}, not {expected_path} version {expected_version}"
        )));
    }
    Ok(())
}

fn check_summary(v: &Verification) -> String {
    v.checks
        .iter()
        .map(|c| {
            format!(
                "{} {} ({})",
                c.name,
                if c.passed { "passed" } else { "FAILED" },
                c.detail
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}
