//! The `ca_files` key of the grants that open TLS connections (`http`,
//! `sql`, `model`): extra trust anchors, PEM, relative to the project, read when
//! the policy loads so that a bad file is a policy error at its line.

use crate::net::tls::load_ca_file;
use crate::policy::error_fix;
use std::path::Path;
use toml::Spanned;
use ureq::tls::Certificate;

/// The certificates of every file in `files`. On failure: the byte offset
/// of the bad entry and a message with its fix.
pub(crate) fn load(
    files: &[Spanned<String>],
    project: &Path,
) -> Result<Vec<Certificate<'static>>, (usize, String)> {
    let mut anchors = Vec::new();
    for file in files {
        let path = project.join(file.get_ref());
        let certs = load_ca_file(&path).map_err(|e| {
            (
                file.span().start,
                error_fix(
                    e.to_string(),
                    &format!(
                        "put the PEM certificate of the CA that signs the server's certificate at {} (paths are relative to the project {}), or remove \"{}\" from ca_files",
                        path.display(),
                        project.display(),
                        file.get_ref()
                    ),
                ),
            )
        })?;
        anchors.extend(certs);
    }
    Ok(anchors)
}

/// A TLS client trusting the public roots plus `files`, or `None` when
/// there are none (the default client already is that).
pub(crate) fn tls_client(
    files: &[Spanned<String>],
    project: &Path,
) -> Result<Option<crate::net::tls::TlsClient>, (usize, String)> {
    let anchors = load(files, project)?;
    Ok((!anchors.is_empty()).then(|| crate::net::tls::TlsClient::new(anchors)))
}

/// The names of `files`, as a grant's `ca_files = [...]` lists them.
pub(crate) fn names(files: &[Spanned<String>]) -> Vec<String> {
    files.iter().map(|f| f.get_ref().clone()).collect()
}
