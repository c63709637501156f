//! `workspace`: files of the repositories under change.
//!
//! Each root the policy names is opened as a cap-std directory, so `..`,
//! absolute paths and symlinks cannot reach outside it, and files are read
//! through [`super::rooted`], which refuses a hard link too. A role with
//! mode "propose" may propose new contents; proposals are collected for the
//! run's report and never written in place by this capability. A proposal
//! for a file that is a link out of the root is refused: the orchestrator
//! shows the file it replaces in the change's diff, and that must not be a
//! file outside.

use super::bindings::agentward::host::{types::Error, workspace};
use super::mediation::{mediate, CallContext, HostCall, RoleBinding};
use super::path_scope::{is_clean_path, toml_list};
use super::rooted::{self, Refusal};
use crate::audit::Args;
use cap_std::fs::Dir;
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorkspaceMode {
    Read,
    Propose,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceGrant {
    /// Directories relative to the project directory.
    pub roots: Vec<String>,
    pub mode: WorkspaceMode,
    #[serde(default = "default_max_file_bytes")]
    pub max_file_bytes: u64,
}

fn default_max_file_bytes() -> u64 {
    1024 * 1024
}

impl WorkspaceGrant {
    fn render(&self, roots: &[&str], mode: WorkspaceMode) -> String {
        let mode = match mode {
            WorkspaceMode::Read => "read",
            WorkspaceMode::Propose => "propose",
        };
        format!(
            "workspace = {{ roots = {}, mode = \"{mode}\", max_file_bytes = {} }}",
            toml_list(roots),
            self.max_file_bytes
        )
    }

    fn roots(&self) -> Vec<&str> {
        self.roots.iter().map(String::as_str).collect()
    }
}

/// New contents a role proposes for one file.
#[derive(Clone, Debug, Serialize)]
pub struct Proposal {
    pub root: String,
    pub path: String,
    /// Exactly as proposed: handles stay tokens until a change lands.
    pub contents: String,
}

enum Op {
    Read,
    List,
    Propose(Vec<u8>),
}

struct FileCall {
    root: String,
    path: String,
    op: Op,
}

impl FileCall {
    fn open_root(&self, ctx: &CallContext) -> Result<Dir, Error> {
        let dir = ctx.binding.project_dir.join(&self.root);
        Dir::open_ambient_dir(&dir, cap_std::ambient_authority()).map_err(|e| {
            Error::NotFound(format!(
                "workspace root `{}` ({}): {e}",
                self.root,
                dir.display()
            ))
        })
    }

    fn io_error(&self, e: std::io::Error) -> Error {
        self.refused(Refusal::Io(e))
    }

    fn refused(&self, refusal: Refusal) -> Error {
        let place = format!("workspace root `{}`", self.root);
        let what = refusal.explain(&self.path, &place, &self.root);
        match refusal {
            Refusal::Io(e) if e.kind() == std::io::ErrorKind::NotFound => Error::NotFound(what),
            _ => Error::Invalid(what),
        }
    }
}

/// `workspace` calls differ only in their effect; scope and audit are shared.
impl HostCall for FileCall {
    type Output = WorkspaceOutput;
    fn call(&self) -> &'static str {
        match self.op {
            Op::Read => "workspace.read-file",
            Op::List => "workspace.list-dir",
            Op::Propose(_) => "workspace.propose-change",
        }
    }

    fn effectful(&self) -> bool {
        matches!(self.op, Op::Propose(_))
    }

    fn audit_args(&mut self, _ctx: &CallContext) -> Args {
        let mut args = Args::new();
        args.insert("root", json!(self.root));
        args.insert("path", json!(self.path));
        if let Op::Propose(contents) = &self.op {
            args.insert("bytes", json!(contents.len()));
        }
        args
    }

    fn check(&self, binding: &RoleBinding) -> Result<(), Error> {
        let grant = binding
            .grants
            .workspace
            .as_ref()
            .expect("workspace is linked only when granted");
        let g = grant.get_ref();
        if !g.roots.contains(&self.root) {
            let mut roots = g.roots();
            roots.push(&self.root);
            return Err(binding.deny(
                grant,
                format!("use workspace root `{}`", self.root),
                g.render(&roots, g.mode),
            ));
        }
        if matches!(self.op, Op::Propose(_)) && g.mode != WorkspaceMode::Propose {
            return Err(binding.deny(
                grant,
                format!("propose changes in workspace root `{}`", self.root),
                g.render(&g.roots(), WorkspaceMode::Propose),
            ));
        }
        let listing_root =
            matches!(self.op, Op::List) && (self.path.is_empty() || self.path == ".");
        if !listing_root && !is_clean_path(&self.path) {
            return Err(Error::Invalid(format!(
                "`{}` is not a clean relative path (no `..`, `.`, empty or leading `/` segments)",
                self.path
            )));
        }
        Ok(())
    }

    fn perform(self, ctx: &mut CallContext, audit: &mut Args) -> Result<WorkspaceOutput, Error> {
        let max = ctx
            .binding
            .grants
            .workspace
            .as_ref()
            .expect("checked")
            .get_ref()
            .max_file_bytes;
        match &self.op {
            Op::Read => {
                let dir = self.open_root(ctx)?;
                let bytes = rooted::read(&dir, &self.path, max, "max_file_bytes")
                    .map_err(|refusal| self.refused(refusal))?;
                audit.insert("returned_bytes", json!(bytes.len()));
                Ok(WorkspaceOutput::Bytes(bytes))
            }
            Op::List => {
                let dir = self.open_root(ctx)?;
                let target = if self.path.is_empty() {
                    "."
                } else {
                    self.path.as_str()
                };
                let mut names = dir
                    .read_dir(target)
                    .map_err(|e| match e.kind() {
                        std::io::ErrorKind::PermissionDenied if rooted::leads_out(&dir, target) => {
                            self.refused(Refusal::LeadsOut)
                        }
                        _ => self.io_error(e),
                    })?
                    .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
                    .collect::<Vec<_>>();
                names.sort();
                Ok(WorkspaceOutput::Names(names))
            }
            Op::Propose(contents) => {
                if contents.len() as u64 > max {
                    return Err(Error::Invalid(format!(
                        "proposed contents are {} bytes; max_file_bytes is {max}",
                        contents.len()
                    )));
                }
                let text = String::from_utf8(contents.clone()).map_err(|_| {
                    Error::Invalid(format!(
                        "proposed contents of `{}` are not UTF-8",
                        self.path
                    ))
                })?;
                // The file replaced may be new; if it exists, it must be one
                // the role could have read.
                match rooted::open(&self.open_root(ctx)?, &self.path) {
                    Ok(_) => {}
                    Err(Refusal::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(refusal) => return Err(self.refused(refusal)),
                }
                if ctx.scrub(&text) != text {
                    return Err(Error::Invalid(format!(
                        "proposed contents of `{}` contain a secret value in plain text; \
                         use a handle or an environment reference such as ${{NPM_TOKEN}}",
                        self.path
                    )));
                }
                ctx.proposals.push(Proposal {
                    root: self.root.clone(),
                    path: self.path.clone(),
                    contents: text,
                });
                Ok(WorkspaceOutput::Proposed)
            }
        }
    }
}

enum WorkspaceOutput {
    Bytes(Vec<u8>),
    Names(Vec<String>),
    Proposed,
}

impl workspace::Host for CallContext {
    fn read_file(&mut self, root: String, path: String) -> Result<Vec<u8>, Error> {
        match mediate(
            self,
            FileCall {
                root,
                path,
                op: Op::Read,
            },
        )? {
            WorkspaceOutput::Bytes(bytes) => Ok(bytes),
            _ => unreachable!("read-file yields bytes"),
        }
    }

    fn list_dir(&mut self, root: String, path: String) -> Result<Vec<String>, Error> {
        match mediate(
            self,
            FileCall {
                root,
                path,
                op: Op::List,
            },
        )? {
            WorkspaceOutput::Names(names) => Ok(names),
            _ => unreachable!("list-dir yields names"),
        }
    }

    fn propose_change(
        &mut self,
        root: String,
        path: String,
        contents: Vec<u8>,
    ) -> Result<(), Error> {
        match mediate(
            self,
            FileCall {
                root,
                path,
                op: Op::Propose(contents),
            },
        )? {
            WorkspaceOutput::Proposed => Ok(()),
            _ => unreachable!("propose-change yields nothing"),
        }
    }
}
