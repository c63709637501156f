//! `docs`: read-only retrieval over the project's docs directory — the
//! runbooks, scope mappings, registry notes and CI schedules a role should
//! check before it acts.
//!
//! Ranking is BM25 from the `bm25` crate (its tokenizer stems and drops stop
//! words), not a hand-written score. The directory is opened as a cap-std
//! directory, so nothing outside it can be read, and it is indexed on a
//! run's first search: docs directories are small, and an index built per
//! run can never serve a stale document. Every document a role is shown is
//! remembered with its sha256, so the orchestrator records in the change's
//! manifest exactly which version of which document informed it.

use super::bindings::agentward::host::{docs, types::Error};
use super::mediation::{mediate, CallContext, HostCall, RoleBinding};
use super::path_scope::is_clean_path;
use bm25::{Language, SearchEngine, SearchEngineBuilder};
use cap_std::fs::Dir;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
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

/// The docs directory as one run sees it.
pub(crate) struct Corpus {
    docs: Vec<Doc>,
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

/// Every text file under `dir` (hidden entries skipped), sorted by path.
fn walk(dir: &Dir, prefix: &str, max: u64, out: &mut Vec<Doc>) -> std::io::Result<()> {
    let mut entries: Vec<_> = dir.entries()?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = format!("{prefix}{name}");
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(&entry.open_dir()?, &format!("{path}/"), max, out)?;
        } else if kind.is_file() && entry.metadata()?.len() <= max {
            if let Ok(text) = String::from_utf8(dir.read(&name)?) {
                out.push(Doc {
                    title: title_of(&path, &text),
                    digest: digest(&text),
                    path,
                    text,
                });
            }
        }
    }
    Ok(())
}

fn corpus(ctx: &mut CallContext) -> Result<Arc<Corpus>, Error> {
    if let Some(corpus) = &ctx.docs.corpus {
        return Ok(corpus.clone());
    }
    let dir = open(ctx)?;
    let mut docs = Vec::new();
    walk(&dir, "", grant(&ctx.binding).max_doc_bytes, &mut docs)
        .map_err(|e| Error::Unavailable(format!("reading the docs directory: {e}")))?;
    let engine = SearchEngineBuilder::<usize>::with_documents(
        Language::English,
        docs.iter()
            .enumerate()
            .map(|(i, d)| bm25::Document::new(i, format!("{}\n{}", d.path, d.text))),
    )
    .build();
    let corpus = Arc::new(Corpus { docs, engine });
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

    fn audit_args(&self, _ctx: &CallContext) -> Map<String, Value> {
        let mut args = Map::new();
        args.insert("query".into(), json!(self.query));
        args.insert("limit".into(), json!(self.limit));
        args
    }

    fn check(&self, _binding: &RoleBinding) -> Result<(), Error> {
        Ok(())
    }

    fn perform(
        self,
        ctx: &mut CallContext,
        audit: &mut Map<String, Value>,
    ) -> Result<Vec<docs::Hit>, Error> {
        let corpus = corpus(ctx)?;
        let limit = self.limit.min(MAX_HITS) as usize;
        let hits: Vec<docs::Hit> = corpus
            .engine
            .search(&self.query, limit)
            .into_iter()
            .map(|result| {
                let doc = &corpus.docs[result.document.id];
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
            "returned".into(),
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

    fn audit_args(&self, _ctx: &CallContext) -> Map<String, Value> {
        let mut args = Map::new();
        args.insert("path".into(), json!(self.path));
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

    fn perform(
        self,
        ctx: &mut CallContext,
        audit: &mut Map<String, Value>,
    ) -> Result<docs::Document, Error> {
        let corpus = corpus(ctx)?;
        let doc = corpus
            .docs
            .iter()
            .find(|d| d.path == self.path)
            .ok_or_else(|| {
                Error::NotFound(format!("no document `{}` in the docs directory", self.path))
            })?;
        ctx.docs.remember(&doc.path, &doc.digest);
        audit.insert("digest".into(), json!(doc.digest));
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
