//! Reading a file under a granted directory (a workspace root, the docs
//! directory) so that no link in it leads to a file outside.
//!
//! The directory is a cap-std [`Dir`]: every path is resolved inside it, and
//! a symbolic link whose target leaves it fails to open. A hard link cannot
//! be caught that way — it is the file itself, and its other names may be
//! anywhere on the same filesystem — so a regular file with more than one
//! link is refused: the host cannot tell that none of its names is outside.
//! Every check is made on the opened file, so a name swapped between a check
//! and the read cannot slip past it.

use cap_std::fs::{Dir, File, MetadataExt, OpenOptions, OpenOptionsExt};
use std::io::Read;

/// Why a file under the directory was not read.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The path, or a directory on it, is a symbolic link out of the directory.
    LeadsOut,
    /// A directory, a device, a FIFO or a socket: only regular files are read.
    NotAFile,
    /// The file has `links` names, some of which may be outside.
    HardLinked {
        links: u64,
    },
    /// Over the grant's `limit` (its key, e.g. `max_file_bytes`) of `max`.
    TooLarge {
        size: u64,
        max: u64,
        limit: &'static str,
    },
    Io(std::io::Error),
}

impl Refusal {
    /// The refusal as a sentence about `path` in `place` (e.g. "workspace
    /// root `repos`"), with the fix where there is one. `dir` is the
    /// directory as the operator finds it, relative to the project.
    pub(crate) fn explain(&self, path: &str, place: &str, dir: &str) -> String {
        match self {
            Refusal::LeadsOut => format!(
                "`{path}` in {place} leads outside it through a symbolic link, which is not followed; \
                 fix: put the file itself (or a copy) under {dir}/ in place of the link"
            ),
            Refusal::NotAFile => format!("`{path}` in {place} is not a regular file"),
            Refusal::HardLinked { links } => format!(
                "`{path}` in {place} has {links} hard links, and another of its names may be outside it, \
                 so it is not read; fix: give it a name of its own with \
                 `cp {dir}/{path} {dir}/{path}.copy && mv {dir}/{path}.copy {dir}/{path}`"
            ),
            Refusal::TooLarge { size, max, limit } => {
                format!("`{path}` in {place} is {size} bytes; {limit} is {max}")
            }
            Refusal::Io(e) => format!("`{path}` in {place}: {e}"),
        }
    }
}

/// Opens `path` for reading: a regular file with one name, inside `dir`.
pub(crate) fn open(dir: &Dir, path: &str) -> Result<File, Refusal> {
    let mut options = OpenOptions::new();
    // Non-blocking, so a FIFO left in the directory cannot hang the host
    // before it is seen not to be a file.
    options.read(true).custom_flags(libc::O_NONBLOCK);
    let file = dir.open_with(path, &options).map_err(|e| {
        if e.kind() == std::io::ErrorKind::PermissionDenied && leads_out(dir, path) {
            Refusal::LeadsOut
        } else {
            Refusal::Io(e)
        }
    })?;
    let meta = file.metadata().map_err(Refusal::Io)?;
    if !meta.is_file() {
        return Err(Refusal::NotAFile);
    }
    if meta.nlink() > 1 {
        return Err(Refusal::HardLinked {
            links: meta.nlink(),
        });
    }
    Ok(file)
}

/// Reads `path` whole, if it passes [`open`] and is at most `max` bytes
/// (the grant's `limit`).
pub(crate) fn read(
    dir: &Dir,
    path: &str,
    max: u64,
    limit: &'static str,
) -> Result<Vec<u8>, Refusal> {
    let file = open(dir, path)?;
    let too_large = |size| Refusal::TooLarge { size, max, limit };
    let size = file.metadata().map_err(Refusal::Io)?.len();
    if size > max {
        return Err(too_large(size));
    }
    // Read one byte past the limit: a file growing under us is caught too.
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(Refusal::Io)?;
    if bytes.len() as u64 > max {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// Whether a component of `path` is a symbolic link cap-std would not
/// follow: what tells an escape apart from a file the host may not read.
pub(crate) fn leads_out(dir: &Dir, path: &str) -> bool {
    let mut prefix = String::new();
    for segment in path.split('/') {
        if !prefix.is_empty() {
            prefix.push('/');
        }
        prefix.push_str(segment);
        match dir.symlink_metadata(&prefix) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return dir
                    .metadata(&prefix)
                    .is_err_and(|e| e.kind() == std::io::ErrorKind::PermissionDenied);
            }
            Ok(_) => {}
            Err(_) => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> (tempfile::TempDir, tempfile::TempDir, Dir) {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let dir = Dir::open_ambient_dir(root.path(), cap_std::ambient_authority()).unwrap();
        (root, outside, dir)
    }

    #[test]
    fn a_symlink_inside_is_followed_and_one_out_is_refused() {
        let (root, outside, dir) = dir();
        std::fs::write(root.path().join("a.md"), "inside").unwrap();
        std::fs::write(outside.path().join("b.md"), "outside").unwrap();
        std::os::unix::fs::symlink("a.md", root.path().join("in")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("b.md"), root.path().join("out")).unwrap();
        assert_eq!(read(&dir, "in", 100, "max").unwrap(), b"inside");
        assert!(matches!(
            read(&dir, "out", 100, "max"),
            Err(Refusal::LeadsOut)
        ));
    }

    #[test]
    fn a_second_name_refuses_the_file() {
        let (root, outside, dir) = dir();
        std::fs::write(outside.path().join("b.md"), "outside").unwrap();
        std::fs::hard_link(outside.path().join("b.md"), root.path().join("b.md")).unwrap();
        assert!(matches!(
            read(&dir, "b.md", 100, "max"),
            Err(Refusal::HardLinked { links: 2 })
        ));
    }

    #[test]
    fn a_fifo_is_not_a_file_and_does_not_block() {
        let (root, _outside, dir) = dir();
        let fifo = std::ffi::CString::new(root.path().join("pipe").to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        assert!(matches!(
            read(&dir, "pipe", 100, "max"),
            Err(Refusal::NotAFile)
        ));
    }

    #[test]
    fn a_file_over_the_limit_is_refused() {
        let (root, _outside, dir) = dir();
        std::fs::write(root.path().join("big"), "0123456789").unwrap();
        assert!(matches!(
            read(&dir, "big", 9, "max"),
            Err(Refusal::TooLarge {
                size: 10,
                max: 9,
                ..
            })
        ));
    }
}
