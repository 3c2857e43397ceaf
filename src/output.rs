//! Staged output: files are written into a temporary directory next to
//! their destination and moved into place only when everything succeeded,
//! so a failed command leaves no partial output behind.

use std::io;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// A directory being written. Dropping it without [`StagedDir::commit`]
/// removes everything written so far.
pub struct StagedDir {
    staging: TempDir,
    target: PathBuf,
}

impl StagedDir {
    /// Starts staging output for `target` (created on commit).
    pub fn new(target: &Path) -> io::Result<Self> {
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent)?;
        let staging = tempfile::Builder::new()
            .prefix(".a2qgen-staging-")
            .tempdir_in(&parent)?;
        Ok(StagedDir {
            staging,
            target: target.to_path_buf(),
        })
    }

    /// Where to write the staged files.
    pub fn path(&self) -> &Path {
        self.staging.path()
    }

    /// Moves the staged files into the target directory. A missing target
    /// is created by renaming the staging directory; an existing one keeps
    /// its other files and has the staged ones replaced.
    pub fn commit(self) -> io::Result<PathBuf> {
        if !self.target.exists() {
            let staging = self.staging.keep();
            std::fs::rename(&staging, &self.target)?;
            return Ok(self.target);
        }
        for entry in std::fs::read_dir(self.staging.path())? {
            let entry = entry?;
            let destination = self.target.join(entry.file_name());
            if destination.is_dir() && entry.path().is_dir() {
                std::fs::remove_dir_all(&destination)?;
            }
            std::fs::rename(entry.path(), destination)?;
        }
        Ok(self.target)
    }
}

impl StagedDir {
    /// Replaces the target directory by the staged one as a whole, so that
    /// no file of an earlier run survives (generated designs).
    pub fn replace(self) -> io::Result<PathBuf> {
        if self.target.exists() {
            let parent = self
                .staging
                .path()
                .parent()
                .unwrap_or(Path::new("."))
                .to_path_buf();
            let old = tempfile::Builder::new()
                .prefix(".a2qgen-old-")
                .tempdir_in(parent)?;
            std::fs::rename(&self.target, old.path().join("previous"))?;
            if let Err(e) = std::fs::rename(self.staging.path(), &self.target) {
                // Put the earlier output back rather than leave nothing.
                std::fs::rename(old.path().join("previous"), &self.target)?;
                return Err(e);
            }
            let _ = self.staging.keep();
            return Ok(self.target);
        }
        self.commit()
    }
}

/// Writes one file atomically: a temporary file in the same directory,
/// renamed over `path` once complete.
pub fn write_file_atomically(path: &Path, contents: &[u8]) -> io::Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(parent)?;
    let mut file = tempfile::NamedTempFile::new_in(parent)?;
    io::Write::write_all(&mut file, contents)?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_appears_until_commit() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("out");
        let staged = StagedDir::new(&target).unwrap();
        std::fs::write(staged.path().join("a.txt"), "a").unwrap();
        assert!(!target.exists());
        drop(staged);
        assert!(!target.exists());
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);
    }

    #[test]
    fn replace_removes_stale_files() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("out");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("stale.v"), "old").unwrap();
        let staged = StagedDir::new(&target).unwrap();
        std::fs::write(staged.path().join("new.v"), "new").unwrap();
        staged.replace().unwrap();
        assert!(!target.join("stale.v").exists());
        assert!(target.join("new.v").exists());
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 1);
    }

    #[test]
    fn commit_creates_or_merges() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("out");
        let staged = StagedDir::new(&target).unwrap();
        std::fs::write(staged.path().join("a.txt"), "1").unwrap();
        staged.commit().unwrap();
        std::fs::write(target.join("keep.txt"), "k").unwrap();
        let staged = StagedDir::new(&target).unwrap();
        std::fs::write(staged.path().join("a.txt"), "2").unwrap();
        staged.commit().unwrap();
        assert_eq!(std::fs::read_to_string(target.join("a.txt")).unwrap(), "2");
        assert!(target.join("keep.txt").exists());
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 1);
    }
}
