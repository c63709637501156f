//! Planning a change: the context stages (the Researcher's briefing, the
//! Domain specialist's map), the Planner's plan checked against the
//! workflow and the store, and the change's first snapshot.

use super::*;

impl Orchestrator<'_> {
    /// Mints a change id, runs the Planner and records the plan. `None`:
    /// nothing is due (the Planner's run is still in the audit log).
    pub fn plan(
        &mut self,
        breach: Option<&str>,
        now: &str,
    ) -> Result<Option<Manifest>, OrchestratorError> {
        let trigger = if breach.is_some() {
            Trigger::Breach
        } else {
            Trigger::Cadence
        };
        if let Some(path) = breach {
            if !self.workflow.secrets.allows(path) {
                return Err(OrchestratorError::Refused(format!(
                    "{path} is outside the secrets {} rotates ({})\n  fix: name a path it covers, or add it to `secrets` in [rotation]",
                    self.workflow.path.display(),
                    self.workflow.secrets.patterns().join(", ")
                )));
            }
        }
        let change_id = change_id::mint();
        let (plan, items, briefing, usages) = self.run_planner(trigger, breach, now, &change_id)?;
        let mut event = serde_json::Map::new();
        event.insert(
            "trigger".into(),
            serde_json::to_value(trigger).expect("json"),
        );
        event.insert("items".into(), items.len().into());
        if items.is_empty() {
            self.record(&change_id, "rotation.plan", event, "ok: nothing due")?;
            return Ok(None);
        }
        let paths: Vec<String> = items.iter().map(|i| i.path.clone()).collect();
        let approval_rules = approvals::required(self.workflow, &paths);
        let state = if approval_rules.is_empty() || self.dry_run {
            ChangeState::Planned
        } else {
            ChangeState::ApprovalPending
        };
        let mut manifest = Manifest {
            format: manifest::FORMAT,
            change_id: change_id.clone(),
            created: crate::time::now_rfc3339(),
            dry_run: self.dry_run,
            trigger,
            breach: breach.map(str::to_string),
            workflow: FileDigest {
                path: self.workflow.path.display().to_string(),
                sha256: self.workflow.digest.clone(),
            },
            policy: FileDigest {
                path: self.policy.path.display().to_string(),
                sha256: hex::encode(Sha256::digest(self.policy.source.as_bytes())),
            },
            state,
            plan_hash: manifest::plan_hash(&plan),
            plan,
            approval_rules,
            approvals: Vec::new(),
            items,
            notices: Vec::new(),
            docs: Vec::new(),
            briefing,
            usages,
            journal_seq: 0,
        };
        self.record_docs(&mut manifest);
        event.insert("plan_hash".into(), manifest.plan_hash.clone().into());
        if let Some(path) = breach {
            event.insert("breach".into(), path.into());
        }
        manifest.save(&self.manifests)?;
        self.record(&change_id, "rotation.plan", event, "ok")?;
        self.log.checkpoint(self.keys)?;
        if trigger == Trigger::Breach {
            self.notify(
                &mut manifest,
                "breach",
                format!(
                    "suspected breach of {}: rotating now, outside the window",
                    paths.join(", ")
                ),
            )?;
        }
        if state == ChangeState::ApprovalPending {
            let message = format!(
                "change {change_id} waits for approval of plan {}: {}",
                manifest.plan_hash,
                manifest
                    .approval_rules
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            self.notify(&mut manifest, "approval-pending", message)?;
        }
        Ok(Some(manifest))
    }

    /// The optional context stages: the Researcher's briefing from the
    /// docs, then the Domain specialist's map of where each secret is used.
    fn context(&mut self, change_id: &str) -> Result<(Briefing, Vec<Usage>), String> {
        let mut briefing = Briefing::default();
        if let Some(step) = self.workflow.optional_step(Stage::Research).cloned() {
            let task = ResearchTask {
                topics: DEFAULT_TOPICS.iter().map(|t| t.to_string()).collect(),
                config: step.config,
            };
            let outcome = self
                .run_role(step.role, change_id, &task)
                .map_err(|e| e.to_string())?;
            briefing = handoff(step.role, Stage::Research, &outcome)?;
            // A briefing may only cite documents the role was really shown.
            if let Some(cited) = briefing.documents.iter().find(|d| {
                !outcome
                    .docs_consulted
                    .iter()
                    .any(|c| c.path == d.path && c.digest == d.digest)
            }) {
                return Err(format!(
                    "role {} cites {} ({}), which it did not read through `docs`",
                    step.role, cited.path, cited.digest
                ));
            }
        }
        let mut usages = Vec::new();
        if let Some(step) = self.workflow.optional_step(Stage::Map).cloned() {
            let task = MapTask {
                prefixes: self.workflow.secrets.prefixes(),
                briefing: briefing.clone(),
                config: step.config,
            };
            let outcome = self
                .run_role(step.role, change_id, &task)
                .map_err(|e| e.to_string())?;
            let map: ScopeMap = handoff(step.role, Stage::Map, &outcome)?;
            usages = map.usages;
        }
        Ok((briefing, usages))
    }

    /// The Planner's plan, with the workflow's narrowing and schedule
    /// applied, and the items it names as the store holds them.
    fn run_planner(
        &mut self,
        trigger: Trigger,
        breach: Option<&str>,
        now: &str,
        change_id: &str,
    ) -> Result<(Plan, Vec<Item>, Briefing, Vec<Usage>), OrchestratorError> {
        let change_id = change_id.to_string();
        let (briefing, usages) = self.context(&change_id).map_err(OrchestratorError::Plan)?;
        let step = self.workflow.step(Stage::Plan);
        let task = PlanTask {
            now: now.to_string(),
            trigger,
            breach: breach.map(str::to_string),
            prefixes: self.workflow.secrets.prefixes(),
            cadence_days: self.workflow.cadence_days,
            lead_days: self.workflow.lead_days,
            window: self.workflow.window.clone(),
            failures: self.recent_failures(),
            briefing: briefing.clone(),
            usages: usages.clone(),
            config: step.config.clone(),
        };
        let outcome = self
            .run_role(step.role, &change_id, &task)
            .map_err(|e| OrchestratorError::Plan(e.to_string()))?;
        let mut plan: Plan =
            handoff(step.role, Stage::Plan, &outcome).map_err(OrchestratorError::Plan)?;
        // The Planner lists by prefix; a narrower glob (`npm/*` under
        // `npm/`) is the workflow's to apply, and the plan says what it left out.
        let (inside, outside): (Vec<_>, Vec<_>) = std::mem::take(&mut plan.items)
            .into_iter()
            .partition(|i| self.workflow.secrets.allows(&i.path));
        plan.items = inside;
        if !outside.is_empty() {
            let left: Vec<&str> = outside.iter().map(|i| i.path.as_str()).collect();
            plan.notes.push(format!(
                "left out {}: outside the workflow's secrets ({})",
                left.join(", "),
                self.workflow.secrets.patterns().join(", ")
            ));
        }
        let items = self
            .validate_plan(&plan, breach)
            .map_err(OrchestratorError::Plan)?;
        if trigger == Trigger::Cadence && !items.is_empty() {
            if let Some(schedule) = &self.workflow.schedule {
                let start = schedule
                    .start_for(now, plan.not_before.as_deref())
                    .map_err(OrchestratorError::Plan)?;
                if start != plan.not_before {
                    if let Some(at) = &start {
                        plan.notes.push(format!(
                            "waits for the schedule `{}`: its next window opens at {at}",
                            schedule.expression
                        ));
                    }
                    plan.not_before = start;
                }
            }
        }
        Ok((plan, items, briefing, usages))
    }

    /// What is due now and when its change would start, without making a
    /// change: the Planner runs (and is on record), nothing else does.
    pub fn due(&mut self, now: &str) -> Result<Plan, OrchestratorError> {
        let change_id = change_id::mint();
        let (plan, _, _, _) = self.run_planner(Trigger::Cadence, None, now, &change_id)?;
        Ok(plan)
    }

    /// Checks the Planner's handoff against the workflow and the store; the
    /// versions seen here are what promotion later checks against.
    fn validate_plan(&self, plan: &Plan, breach: Option<&str>) -> Result<Vec<Item>, String> {
        let fix = "the plan stage must return a Plan (docs/orchestrator.md)";
        let mut seen = std::collections::BTreeSet::new();
        if let Some(path) = breach {
            let paths: Vec<&str> = plan.items.iter().map(|i| i.path.as_str()).collect();
            if paths != [path] || plan.not_before.is_some() {
                return Err(format!(
                    "the breach plan must rotate exactly {path}, now; it planned {paths:?} not before {:?}\n  fix: {fix}",
                    plan.not_before
                ));
            }
        }
        if let Some(t) = &plan.not_before {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                .map_err(|e| {
                    format!("the plan's not_before {t:?} is not RFC 3339: {e}\n  fix: {fix}")
                })?;
        }
        let mut items = Vec::new();
        for planned in &plan.items {
            if !seen.insert(planned.path.as_str()) {
                return Err(format!(
                    "the plan lists {} twice\n  fix: {fix}",
                    planned.path
                ));
            }
            let meta = self
                .store
                .describe(&planned.path)
                .map_err(|e| e.to_string())?;
            let current = meta.holder(Label::Current);
            if current != planned.current_version {
                return Err(format!(
                    "the plan says {} is current at version {:?}, the store says {current:?}\n  fix: plan again; the secret changed while planning",
                    planned.path, planned.current_version
                ));
            }
            let mut item = Item::new(planned.path.clone(), current);
            item.previous_expires = meta.attributes.expires.clone();
            items.push(item);
        }
        Ok(items)
    }

    /// Failed earlier changes of the workflow's secrets, newest first: the
    /// Tester → Planner handoff.
    fn recent_failures(&self) -> Vec<Failure> {
        const RECENT: usize = 20;
        let Ok(entries) = std::fs::read_dir(&self.manifests) else {
            return Vec::new();
        };
        let mut ids: Vec<String> = entries
            .filter_map(|e| {
                e.ok()?
                    .file_name()
                    .to_str()?
                    .strip_suffix(".json")
                    .map(str::to_string)
            })
            .filter(|id| change_id::is_valid(id))
            .collect();
        ids.sort_unstable_by(|a, b| b.cmp(a));
        ids.into_iter()
            .take(RECENT)
            .filter_map(|id| Manifest::load(&self.manifests, &id).ok())
            .filter(|m| !m.dry_run)
            .flat_map(|m| {
                m.items
                    .into_iter()
                    .filter(|i| matches!(i.state, ItemState::Aborted | ItemState::RolledBack))
                    .map(move |i| Failure {
                        path: i.path,
                        change_id: m.change_id.clone(),
                        outcome: i.state.to_string(),
                        reason: i.reason.unwrap_or_default(),
                    })
            })
            .collect()
    }
}
