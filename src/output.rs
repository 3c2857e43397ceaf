//! Command outputs: every file and folder a command writes goes through
//! [`Outputs`], so that one rule holds for all of them.
//!
//! A command first *claims* each output path, which validates it before
//! anything is computed; it then writes into the staging location each claim
//! gives (a folder beside the destination, so the final rename stays on one
//! file system), and [`Outputs::commit`] moves everything into place only
//! when the command succeeded. Dropping the [`Outputs`] instead removes every
//! staged file: a failed command leaves nothing behind.
//!
//! What an output may replace:
//! - a file output replaces a regular file of that name, never a folder;
//! - a folder output (a generated design, a dump, a sweep) is created, or
//!   reuses an empty folder, or a folder the tool wrote before: one holding
//!   [`MANIFEST`], which lists the files the tool put there. Only those are
//!   replaced or removed; any other file is left alone, and a new file that
//!   would overwrite one of them is refused;
//! - a model output (`OUT.toml` and its arrays folder `OUT/`) follows both
//!   rules;
//! - nothing may replace or lie inside an input of the command (its model
//!   TOML, the model's arrays and arrays folder, its data files).
//!
//! Anything else in the way is refused with [`OutputError`] (exit 2) naming
//! the path. Work folders (Verilator builds, Yosys runs) are not staged but
//! carry the same manifest, so they too are never made in a user's folder.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The file that marks a folder as written by the tool and lists what it
/// wrote there.
pub const MANIFEST: &str = ".a2qgen-manifest";

/// Longest file name most file systems accept, in bytes.
const NAME_MAX: usize = 255;

/// Longest name (of a model, a sweep) the tool builds paths from: room is
/// left for the suffixes it appends (`_top.v`, `.synth`, `.toml`).
pub const MAX_NAME_BYTES: usize = 200;

/// An output path that cannot be written, or a write that failed.
#[derive(Debug, thiserror::Error)]
#[error("{what} {}: {reason}", path.display())]
pub struct OutputError {
    /// The option (or role) the path was given for, e.g. `--json`.
    pub what: String,
    pub path: PathBuf,
    pub reason: String,
}

impl OutputError {
    fn new(what: &str, path: &Path, reason: impl Into<String>) -> Self {
        OutputError {
            what: what.to_string(),
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }

    fn io(what: &str, path: &Path, error: io::Error) -> Self {
        OutputError::new(what, path, format!("cannot write: {error}"))
    }
}

/// A claimed output, as returned by the claiming methods of [`Outputs`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot(usize);

#[derive(Debug)]
enum Kind {
    File,
    Dir,
    /// `<stem>.toml` and its arrays folder `<stem>/`, side by side.
    Model {
        stem: String,
    },
}

#[derive(Debug)]
struct Claim {
    what: String,
    target: PathBuf,
    kind: Kind,
    staging: Staging,
}

impl Claim {
    /// Where the command writes this output before it is committed.
    fn staged(&self) -> PathBuf {
        match &self.kind {
            Kind::File | Kind::Dir => self.staging.path.join("output"),
            Kind::Model { .. } => self.staging.path.clone(),
        }
    }
}

/// A staging folder, removed with everything in it when dropped.
#[derive(Debug)]
struct Staging {
    path: PathBuf,
}

impl Staging {
    /// A new folder inside `parent`, created with the ordinary mode (so
    /// that what is renamed out of it keeps the umask's permissions).
    fn new_in(parent: &Path) -> io::Result<Self> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let name = format!(".a2qgen-staging-{}-{nanos:08x}-{n}", std::process::id());
            let path = parent.join(name);
            match fs::create_dir(&path) {
                Ok(()) => return Ok(Staging { path }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Every output of one command: claimed (validated) first, staged, then
/// committed together.
#[derive(Debug, Default)]
pub struct Outputs {
    /// Inputs, resolved: no output may replace them or lie inside them.
    protected: Vec<PathBuf>,
    claims: Vec<Claim>,
}

impl Outputs {
    pub fn new() -> Self {
        Outputs::default()
    }

    /// Marks an input file or folder: no output may replace it, lie inside
    /// it, or be a folder holding it.
    pub fn protect(&mut self, input: &Path) {
        self.protected.push(resolved(input));
    }

    /// Marks a model as an input: its TOML, the arrays it names and its
    /// arrays folder `<stem>/` beside it.
    pub fn protect_model(&mut self, toml: &Path) {
        self.protect(toml);
        if let Some(stem) = toml.file_stem() {
            self.protect(&toml.with_file_name(stem));
        }
        for array in crate::model::array_files(toml) {
            self.protect(&array);
        }
    }

    /// Claims a file output: `path` may be a regular file (replaced on
    /// commit) or nothing yet; its missing folders are created on commit.
    pub fn file(&mut self, what: &str, path: &Path) -> Result<Slot, OutputError> {
        let text = path.as_os_str().to_string_lossy();
        if path.file_name().is_none() || text.ends_with('/') {
            return Err(OutputError::new(what, path, "names a folder, not a file"));
        }
        self.check_target(what, path, false)?;
        check_not_a_dir(what, path)?;
        self.stage(what, path, Kind::File)
    }

    /// Claims a folder output (see the module's rules). The command writes
    /// plain files (or folders) into [`Outputs::path`].
    pub fn dir(&mut self, what: &str, path: &Path) -> Result<Slot, OutputError> {
        self.check_target(what, path, true)?;
        check_owned_dir(what, path)?;
        let slot = self.stage(what, path, Kind::Dir)?;
        let staged = self.claims[slot.0].staged();
        fs::create_dir(&staged).map_err(|e| OutputError::io(what, &staged, e))?;
        Ok(slot)
    }

    /// Claims a file output given by an optional flag.
    pub fn optional_file(
        &mut self,
        what: &str,
        path: Option<&Path>,
    ) -> Result<Option<Slot>, OutputError> {
        path.map(|path| self.file(what, path)).transpose()
    }

    /// Claims a folder output given by an optional flag.
    pub fn optional_dir(
        &mut self,
        what: &str,
        path: Option<&Path>,
    ) -> Result<Option<Slot>, OutputError> {
        path.map(|path| self.dir(what, path)).transpose()
    }

    /// Claims a model output `OUT.toml` with its arrays folder `OUT/`. The
    /// command writes the model into [`Outputs::model_location`].
    pub fn model(&mut self, what: &str, toml: &Path) -> Result<Slot, OutputError> {
        let stem = toml
            .file_stem()
            .and_then(|s| s.to_str())
            .filter(|_| toml.extension().is_some_and(|e| e == "toml"))
            .ok_or_else(|| OutputError::new(what, toml, "expected a path ending in .toml"))?;
        check_name(what, stem)?;
        let arrays = toml.with_file_name(stem);
        self.check_target(what, toml, false)?;
        self.check_target(what, &arrays, true)?;
        check_not_a_dir(what, toml)?;
        check_owned_dir(what, &arrays)?;
        let stem = stem.to_string();
        self.stage(what, toml, Kind::Model { stem })
    }

    /// Claims a work folder (builds, synthesis runs): created now if
    /// missing and marked with [`MANIFEST`]; an existing one must be empty
    /// or carry the manifest. Work folders are kept for reuse, not staged.
    pub fn work_dir(&mut self, what: &str, path: &Path) -> Result<PathBuf, OutputError> {
        self.check_target(what, path, true)?;
        check_owned_dir(what, path)?;
        fs::create_dir_all(path).map_err(|e| OutputError::io(what, path, e))?;
        if !path.join(MANIFEST).exists() {
            write_manifest(path, &[]).map_err(|e| OutputError::io(what, path, e))?;
        }
        Ok(path.to_path_buf())
    }

    /// Where the command writes a file or folder output before commit.
    pub fn path(&self, slot: Slot) -> PathBuf {
        self.claims[slot.0].staged()
    }

    /// The staging folder and stem to write a model output with.
    pub fn model_location(&self, slot: Slot) -> (PathBuf, String) {
        let claim = &self.claims[slot.0];
        match &claim.kind {
            Kind::Model { stem } => (claim.staged(), stem.clone()),
            _ => panic!("slot {slot:?} is not a model output"),
        }
    }

    /// Where an output goes once committed.
    pub fn target(&self, slot: Slot) -> &Path {
        &self.claims[slot.0].target
    }

    /// Moves every staged output into place: first checks all of them
    /// again (nothing is moved if one fails), then renames each.
    pub fn commit(self) -> Result<Vec<PathBuf>, OutputError> {
        for claim in &self.claims {
            precheck(claim)?;
        }
        let mut written = Vec::new();
        for claim in &self.claims {
            publish(claim)?;
            written.push(claim.target.clone());
        }
        Ok(written)
    }

    /// Validates a target path against the inputs and the other claims.
    fn check_target(&self, what: &str, path: &Path, is_dir: bool) -> Result<(), OutputError> {
        check_path_length(what, path)?;
        let target = resolved(path);
        if let Some(input) = self
            .protected
            .iter()
            .find(|input| target.starts_with(input) || (is_dir && input.starts_with(&target)))
        {
            let reason = if target == *input {
                "is an input of this command; it is never overwritten".to_string()
            } else if target.starts_with(input) {
                format!(
                    "lies inside `{}`, an input of this command",
                    input.display()
                )
            } else {
                format!("holds `{}`, an input of this command", input.display())
            };
            return Err(OutputError::new(what, path, reason));
        }
        for other in &self.claims {
            let theirs = resolved(&other.target);
            if theirs.starts_with(&target) || target.starts_with(&theirs) {
                return Err(OutputError::new(
                    what,
                    path,
                    format!("overlaps {} {}", other.what, other.target.display()),
                ));
            }
            if let Kind::Model { stem } = &other.kind {
                let arrays = resolved(&other.target.with_file_name(stem));
                if arrays.starts_with(&target) || target.starts_with(&arrays) {
                    return Err(OutputError::new(
                        what,
                        path,
                        format!("overlaps {} {}", other.what, arrays.display()),
                    ));
                }
            }
        }
        Ok(())
    }

    fn stage(&mut self, what: &str, path: &Path, kind: Kind) -> Result<Slot, OutputError> {
        let ancestor = existing_ancestor(what, path)?;
        let staging =
            Staging::new_in(&ancestor).map_err(|e| OutputError::io(what, &ancestor, e))?;
        self.claims.push(Claim {
            what: what.to_string(),
            target: path.to_path_buf(),
            kind,
            staging,
        });
        Ok(Slot(self.claims.len() - 1))
    }
}

/// A name the tool makes a file or folder of (a sweep's, a model's): one
/// plain path component of at most [`MAX_NAME_BYTES`].
pub fn check_name(what: &str, name: &str) -> Result<(), OutputError> {
    let refuse = |reason: &str| OutputError::new(what, Path::new(name), reason);
    if name.is_empty() {
        return Err(refuse("a name must not be empty"));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(refuse(&format!(
            "a name is at most {MAX_NAME_BYTES} bytes, this one has {}",
            name.len()
        )));
    }
    let mut components = Path::new(name).components();
    let plain = matches!(
        (components.next(), components.next()),
        (Some(Component::Normal(n)), None) if n == name
    );
    if !plain || name.contains(['/', '\\', '\0']) || name.starts_with('.') {
        return Err(refuse(
            "a name must be one plain file name (no `/`, no leading `.`, not absolute)",
        ));
    }
    Ok(())
}

/// Names of the entries the manifest of `dir` lists (only plain names are
/// honoured, so a manifest can never point outside its folder).
pub fn read_manifest(dir: &Path) -> Vec<String> {
    let Ok(text) = fs::read_to_string(dir.join(MANIFEST)) else {
        return Vec::new();
    };
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter(|l| check_name("manifest entry", l).is_ok())
        .map(str::to_string)
        .collect()
}

/// Writes the manifest of `dir`, listing `names`.
pub fn write_manifest(dir: &Path, names: &[String]) -> io::Result<()> {
    let mut text =
        String::from("# Written by a2qgen: it replaces or removes only the files listed here.\n");
    for name in names {
        text.push_str(name);
        text.push('\n');
    }
    let staged = dir.join(format!("{MANIFEST}.new"));
    fs::write(&staged, text)?;
    fs::rename(&staged, dir.join(MANIFEST))
}

/// `path` made absolute with its existing part canonical and the rest
/// normalized (it holds no symbolic link yet, so `..` there only removes
/// the name before it), so that two spellings of one place compare equal.
fn resolved(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let components: Vec<Component> = absolute.components().collect();
    for split in (1..=components.len()).rev() {
        let prefix: PathBuf = components[..split].iter().collect();
        let Ok(mut out) = prefix.canonicalize() else {
            continue;
        };
        for component in &components[split..] {
            match component {
                Component::ParentDir => {
                    out.pop();
                }
                Component::CurDir => {}
                other => out.push(other),
            }
        }
        return out;
    }
    absolute
}

/// Every component fits a file system's name limit.
fn check_path_length(what: &str, path: &Path) -> Result<(), OutputError> {
    if path.as_os_str().is_empty() {
        return Err(OutputError::new(what, path, "the path is empty"));
    }
    match path.components().find(|c| c.as_os_str().len() > NAME_MAX) {
        Some(long) => Err(OutputError::new(
            what,
            path,
            format!(
                "a path component of {} bytes is longer than {NAME_MAX}",
                long.as_os_str().len()
            ),
        )),
        None => Ok(()),
    }
}

/// The nearest folder of `path` that exists (where its staging goes).
fn existing_ancestor(what: &str, path: &Path) -> Result<PathBuf, OutputError> {
    let absolute = std::path::absolute(path).map_err(|e| OutputError::io(what, path, e))?;
    let mut current = absolute.parent();
    while let Some(dir) = current {
        match fs::metadata(dir) {
            Ok(meta) if meta.is_dir() => return Ok(dir.to_path_buf()),
            Ok(_) => {
                return Err(OutputError::new(
                    what,
                    path,
                    format!("`{}` is not a folder", dir.display()),
                ));
            }
            Err(_) => current = dir.parent(),
        }
    }
    Err(OutputError::new(what, path, "no existing folder above it"))
}

fn check_not_a_dir(what: &str, path: &Path) -> Result<(), OutputError> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => Err(OutputError::new(
            what,
            path,
            "is a folder; a file output never replaces a folder",
        )),
        _ => Ok(()),
    }
}

/// A folder output's target: missing, empty, or written by the tool.
fn check_owned_dir(what: &str, path: &Path) -> Result<(), OutputError> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(OutputError::io(what, path, e)),
    };
    if !meta.is_dir() {
        return Err(OutputError::new(
            what,
            path,
            "exists and is not a folder; it is never replaced",
        ));
    }
    if path.join(MANIFEST).is_file() {
        return Ok(());
    }
    let mut entries = fs::read_dir(path).map_err(|e| OutputError::io(what, path, e))?;
    if entries.next().is_some() {
        return Err(OutputError::new(
            what,
            path,
            format!(
                "exists, is not empty and was not written by a2qgen (no {MANIFEST}); \
                 nothing in it is replaced: choose another folder"
            ),
        ));
    }
    Ok(())
}

/// Entry names of a staged folder, sorted.
fn entry_names(dir: &Path) -> io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir)? {
        names.push(entry?.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

/// Checks a staged output against its target once more, just before the
/// renames: the target may have changed while the command computed.
fn precheck(claim: &Claim) -> Result<(), OutputError> {
    let what = &claim.what;
    let staged = claim.staged();
    match &claim.kind {
        Kind::File => {
            if !staged.is_file() {
                return Err(OutputError::new(what, &claim.target, "nothing was written"));
            }
            check_not_a_dir(what, &claim.target)
        }
        Kind::Dir => check_dir_entries(what, &staged, &claim.target),
        Kind::Model { stem } => {
            check_not_a_dir(what, &claim.target)?;
            check_dir_entries(what, &staged.join(stem), &claim.target.with_file_name(stem))
        }
    }
}

/// A folder output may go into `target` when that is missing, empty, or
/// written by the tool and no new file would overwrite one it did not list.
fn check_dir_entries(what: &str, staged: &Path, target: &Path) -> Result<(), OutputError> {
    check_owned_dir(what, target)?;
    if !target.exists() {
        return Ok(());
    }
    let listed = read_manifest(target);
    for name in entry_names(staged).map_err(|e| OutputError::io(what, staged, e))? {
        let existing = target.join(&name);
        if (name == MANIFEST || fs::symlink_metadata(&existing).is_ok()) && !listed.contains(&name)
        {
            return Err(OutputError::new(
                what,
                &existing,
                "exists and was not written by a2qgen; it is never replaced",
            ));
        }
    }
    Ok(())
}

fn publish(claim: &Claim) -> Result<(), OutputError> {
    let what = &claim.what;
    let staged = claim.staged();
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |e| OutputError::io(what, &path, e)
    };
    if let Some(parent) = claim.target.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(io(parent))?;
    }
    match &claim.kind {
        Kind::File => fs::rename(&staged, &claim.target).map_err(io(&claim.target)),
        Kind::Dir => {
            publish_dir(&staged, &claim.target, &claim.staging.path).map_err(io(&claim.target))
        }
        Kind::Model { stem } => {
            let arrays = claim.target.with_file_name(stem);
            publish_dir(&staged.join(stem), &arrays, &claim.staging.path).map_err(io(&arrays))?;
            let toml = staged.join(format!("{stem}.toml"));
            fs::rename(&toml, &claim.target).map_err(io(&claim.target))
        }
    }
}

/// Moves the staged folder's entries into `target` with a new manifest,
/// after moving the entries the old manifest lists into `trash` (removed
/// with the staging folder).
fn publish_dir(staged: &Path, target: &Path, trash: &Path) -> io::Result<()> {
    let names = entry_names(staged)?;
    if !target.exists() {
        write_manifest(staged, &names)?;
        return fs::rename(staged, target);
    }
    let old = trash.join("replaced");
    fs::create_dir_all(&old)?;
    for name in read_manifest(target) {
        let path = target.join(&name);
        if fs::symlink_metadata(&path).is_ok() {
            fs::rename(&path, old.join(&name))?;
        }
    }
    for name in &names {
        fs::rename(staged.join(name), target.join(name))?;
    }
    write_manifest(target, &names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(dir: &Path) -> Vec<String> {
        entry_names(dir).unwrap()
    }

    #[test]
    fn nothing_appears_until_commit() {
        let root = tempfile::tempdir().unwrap();
        let mut outputs = Outputs::new();
        let file = outputs
            .file("--out", &root.path().join("a/b/x.txt"))
            .unwrap();
        let dir = outputs.dir("--dir", &root.path().join("d")).unwrap();
        fs::write(outputs.path(file), "x").unwrap();
        fs::write(outputs.path(dir).join("y.txt"), "y").unwrap();
        assert!(
            listing(root.path())
                .iter()
                .all(|n| n.starts_with(".a2qgen-staging-")),
            "only staging folders"
        );
        drop(outputs);
        assert!(listing(root.path()).is_empty());
    }

    #[test]
    fn a_folder_is_replaced_only_in_what_its_manifest_lists() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("out");
        let write = |files: &[&str]| {
            let mut outputs = Outputs::new();
            let slot = outputs.dir("--dir", &target).unwrap();
            for f in files {
                fs::write(outputs.path(slot).join(f), "new").unwrap();
            }
            outputs.commit()
        };
        write(&["a.v", "b.v"]).unwrap();
        fs::write(target.join("notes.txt"), "mine").unwrap();
        write(&["a.v", "c.v"]).unwrap();
        assert_eq!(listing(&target), [MANIFEST, "a.v", "c.v", "notes.txt"]);
        assert_eq!(read_manifest(&target), ["a.v", "c.v"]);
        let error = write(&["notes.txt"]).unwrap_err();
        assert!(error.to_string().contains("notes.txt"), "{error}");
        assert_eq!(
            fs::read_to_string(target.join("notes.txt")).unwrap(),
            "mine"
        );
        assert_eq!(listing(root.path()), ["out"]);
    }

    #[test]
    fn a_folder_not_written_by_the_tool_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("mine");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("data.npy"), "x").unwrap();
        let error = Outputs::new().dir("-o", &target).unwrap_err();
        assert!(
            error.to_string().contains("was not written by a2qgen"),
            "{error}"
        );
        fs::remove_file(target.join("data.npy")).unwrap();
        assert!(Outputs::new().dir("-o", &target).is_ok(), "empty is fine");
    }

    #[test]
    fn inputs_and_overlaps_are_refused() {
        let root = tempfile::tempdir().unwrap();
        let input = root.path().join("in.npy");
        fs::write(&input, "x").unwrap();
        let mut outputs = Outputs::new();
        outputs.protect(&input);
        for spelled in ["./in.npy", "new/../in.npy", "new/./../in.npy"] {
            assert!(outputs.file("--out", &root.path().join(spelled)).is_err());
        }
        assert!(outputs.dir("--dump", root.path()).is_err());
        outputs.dir("--dump", &root.path().join("d")).unwrap();
        assert!(outputs.file("--out", &root.path().join("d/x.npy")).is_err());
    }

    #[test]
    fn names_must_be_plain() {
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "/abs",
            "a/b",
            ".hidden",
            &"n".repeat(201),
        ] {
            assert!(check_name("--name", bad).is_err(), "{bad:?}");
        }
        assert!(check_name("--name", "digits_p12").is_ok());
    }

    #[test]
    fn manifests_cannot_point_outside_their_folder() {
        let root = tempfile::tempdir().unwrap();
        fs::write(root.path().join(MANIFEST), "# x\n../escape\n/abs\nok.v\n").unwrap();
        assert_eq!(read_manifest(root.path()), ["ok.v"]);
    }
}
