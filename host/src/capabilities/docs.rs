//! `docs`: read-only retrieval over the project's docs directory — the
//! runbooks, scope mappings, registry notes and CI schedules a role should
//! check before it acts.
//!
//! Ranking is BM25 from the `bm25` crate (its tokenizer stems and drops stop
//! words), not a hand-written score. The directory is opened as a cap-std
//! directory and each file read through [`super::rooted`], so nothing
//! outside it can be read, not through a symbolic link nor a hard link; it
//! is indexed on a run's first search: docs directories are small, and an
//! index built per run can never serve a stale document. Every document a
//! role is shown is remembered with its sha256, so the orchestrator records
//! in the change's manifest exactly which version of which document
//! informed it.

use super::bindings::agentward::host::{docs, types::Error};
use super::mediation::{mediate, CallContext, HostCall, RoleBinding};
use super::path_scope::is_clean_path;
use super::rooted;
use crate::audit::Args;
use bm25::{Language, SearchEngine, SearchEngineBuilder};
use cap_std::fs::Dir;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::Arc;

#[derive(Clone, Debug, Deserialize)]
#[serde(try_from = "RawDocsGrant")]
pub struct DocsGrant {
    /// The docs directory, relative to the project directory.
    pub dir: String,
    /// Files larger than this are not indexed or read.
    pub max_doc_bytes: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDocsGrant {
    dir: String,
    #[serde(default = "default_max_doc_bytes")]
    max_doc_bytes: u64,
}

impl TryFrom<RawDocsGrant> for DocsGrant {
    type Error = String;

    /// The directory stays inside the project: a grant names a docs
    /// directory, not a way out of the project.
    fn try_from(raw: RawDocsGrant) -> Result<Self, String> {
        if !is_clean_path(&raw.dir) {
            return Err(crate::policy::error_fix(
                format!(
                    "docs dir `{}` must be a relative path inside the project, without `..`",
                    raw.dir
                ),
                "write it as `docs = { dir = \"docs\" }`",
            ));
        }
        Ok(DocsGrant {
            dir: raw.dir,
            max_doc_bytes: raw.max_doc_bytes,
        })
    }
}

fn default_max_doc_bytes() -> u64 {
    1024 * 1024
}

/// The most hits one search returns, whatever the guest asks for.
const MAX_HITS: u32 = 50;

/// A document a role was shown: what the manifest records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consulted {
    pub path: String,
    pub digest: String,
}

struct Doc {
    path: String,
    title: String,
    text: String,
    digest: String,
}

/// What a walk of the docs directory found.
#[derive(Default)]
struct Found {
    docs: Vec<Doc>,
    /// Files that are not served, each with why: what `read` answers for
    /// them and what the operator is told on the call that indexed them.
    refused: Vec<(String, String)>,
}

/// The docs directory as one run sees it.
pub(crate) struct Corpus {
    found: Found,
    engine: SearchEngine<usize>,
}

/// The run's docs state: the index once built, and what was consulted.
#[derive(Default)]
pub(crate) struct DocsState {
    corpus: Option<Arc<Corpus>>,
    pub(crate) consulted: Vec<Consulted>,
}

impl DocsState {
    fn remember(&mut self, path: &str, digest: &str) {
        if !self
            .consulted
            .iter()
            .any(|c| c.path == path && c.digest == digest)
        {
            self.consulted.push(Consulted {
                path: path.to_string(),
                digest: digest.to_string(),
            });
        }
    }
}

fn grant(binding: &RoleBinding) -> &DocsGrant {
    binding
        .grants
        .docs
        .as_ref()
        .expect("docs is linked only when granted")
        .get_ref()
}

fn open(ctx: &CallContext) -> Result<Dir, Error> {
    let g = grant(&ctx.binding);
    let dir = ctx.binding.project_dir.join(&g.dir);
    Dir::open_ambient_dir(&dir, cap_std::ambient_authority()).map_err(|e| {
        Error::Unavailable(format!(
            "docs directory `{}` ({}): {e}",
            g.dir,
            dir.display()
        ))
    })
}

fn title_of(path: &str, text: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix("# "))
        .map(|t| t.trim().to_string())
        .unwrap_or_else(|| path.rsplit('/').next().unwrap_or(path).to_string())
}

fn digest(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Every text file under `prefix` of the docs directory `root` (the grant's
/// `dir`), hidden entries skipped, sorted by path; a file that may not be
/// read goes to `refused`.
fn walk(root: &Dir, dir: &str, prefix: &str, max: u64, found: &mut Found) -> std::io::Result<()> {
    let listing = if prefix.is_empty() {
        root.entries()?
    } else {
        root.read_dir(prefix)?
    };
    let mut entries: Vec<_> = listing.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = format!("{prefix}{name}");
        // A symbolic link to a directory is not descended: it is read (and
        // refused) as a file, so no link leads the walk out or round a cycle.
        if entry.file_type()?.is_dir() {
            walk(root, dir, &format!("{path}/"), max, found)?;
            continue;
        }
        match rooted::read(root, &path, max, "max_doc_bytes") {
            Ok(bytes) => {
                // Binary files (images beside a runbook) are not documents.
                if let Ok(text) = String::from_utf8(bytes) {
                    found.docs.push(Doc {
                        title: title_of(&path, &text),
                        digest: digest(&text),
                        path,
                        text,
                    });
                }
            }
            Err(refusal) => {
                let why = refusal.explain(&path, "the docs directory", dir);
                found.refused.push((path, why));
            }
        }
    }
    Ok(())
}

fn corpus(ctx: &mut CallContext, audit: &mut Args) -> Result<Arc<Corpus>, Error> {
    if let Some(corpus) = &ctx.docs.corpus {
        return Ok(corpus.clone());
    }
    let dir = open(ctx)?;
    let g = grant(&ctx.binding);
    let mut found = Found::default();
    walk(&dir, &g.dir, "", g.max_doc_bytes, &mut found)
        .map_err(|e| Error::Unavailable(format!("reading the docs directory: {e}")))?;
    let engine = SearchEngineBuilder::<usize>::with_documents(
        Language::English,
        found
            .docs
            .iter()
            .enumerate()
            .map(|(i, d)| bm25::Document::new(i, format!("{}\n{}", d.path, d.text))),
    )
    .build();
    if !found.refused.is_empty() {
        // Said once per run, on the call that indexed the directory.
        audit.insert(
            "not_served",
            json!(found.refused.iter().map(|(_, why)| why).collect::<Vec<_>>()),
        );
    }
    let corpus = Corpus { found, engine };
    let corpus = Arc::new(corpus);
    ctx.docs.corpus = Some(corpus.clone());
    Ok(corpus)
}

struct Search {
    query: String,
    limit: u32,
}

impl HostCall for Search {
    type Output = Vec<docs::Hit>;
    fn call(&self) -> &'static str {
        "docs.search"
    }

    fn audit_args(&mut self, _ctx: &CallContext) -> Args {
        let mut args = Args::new();
        args.insert("query", json!(self.query));
        args.insert("limit", json!(self.limit));
        args
    }

    fn check(&self, _binding: &RoleBinding) -> Result<(), Error> {
        Ok(())
    }

    fn perform(self, ctx: &mut CallContext, audit: &mut Args) -> Result<Vec<docs::Hit>, Error> {
        let corpus = corpus(ctx, audit)?;
        let limit = self.limit.min(MAX_HITS) as usize;
        let hits: Vec<docs::Hit> = corpus
            .engine
            .search(&self.query, limit)
            .into_iter()
            .map(|result| {
                let doc = &corpus.found.docs[result.document.id];
                docs::Hit {
                    path: doc.path.clone(),
                    title: doc.title.clone(),
                    score: result.score,
                    digest: doc.digest.clone(),
                }
            })
            .collect();
        for hit in &hits {
            ctx.docs.remember(&hit.path, &hit.digest);
        }
        audit.insert(
            "returned",
            json!(hits
                .iter()
                .map(|h| format!("{}@{}", h.path, &h.digest[..12]))
                .collect::<Vec<_>>()),
        );
        Ok(hits)
    }
}

struct Read {
    path: String,
}

impl HostCall for Read {
    type Output = docs::Document;
    fn call(&self) -> &'static str {
        "docs.read"
    }

    fn audit_args(&mut self, _ctx: &CallContext) -> Args {
        let mut args = Args::new();
        args.insert("path", json!(self.path));
        args
    }

    fn check(&self, _binding: &RoleBinding) -> Result<(), Error> {
        if !is_clean_path(&self.path) {
            return Err(Error::Invalid(format!(
                "`{}` is not a clean relative path inside the docs directory",
                self.path
            )));
        }
        Ok(())
    }

    fn perform(self, ctx: &mut CallContext, audit: &mut Args) -> Result<docs::Document, Error> {
        let corpus = corpus(ctx, audit)?;
        let doc = corpus.found.docs.iter().find(|d| d.path == self.path);
        let Some(doc) = doc else {
            // A file under a refused link is refused as the link is.
            let under = |p: &str| {
                self.path == p
                    || self
                        .path
                        .strip_prefix(p)
                        .is_some_and(|r| r.starts_with('/'))
            };
            return Err(match corpus.found.refused.iter().find(|(p, _)| under(p)) {
                Some((_, why)) => Error::Invalid(why.clone()),
                None => {
                    Error::NotFound(format!("no document `{}` in the docs directory", self.path))
                }
            });
        };
        ctx.docs.remember(&doc.path, &doc.digest);
        audit.insert("digest", json!(doc.digest));
        Ok(docs::Document {
            path: doc.path.clone(),
            title: doc.title.clone(),
            text: doc.text.clone(),
            digest: doc.digest.clone(),
        })
    }
}

impl docs::Host for CallContext {
    fn search(&mut self, query: String, limit: u32) -> Result<Vec<docs::Hit>, Error> {
        mediate(self, Search { query, limit })
    }

    fn read(&mut self, path: String) -> Result<docs::Document, Error> {
        mediate(self, Read { path })
    }
}
