//! Opening input files: only regular files are read. A directory, a FIFO, a
//! device or a symbolic link that cannot be followed is named for what it
//! is, before it is opened (opening a FIFO blocks, and `/dev/zero` never
//! ends).

use std::fs::{File, Metadata};
use std::io;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

/// Why a path cannot be read as an input file; the message does not repeat
/// the path (the caller names it).
pub fn not_a_regular_file(path: &Path) -> Option<String> {
    match std::fs::metadata(path) {
        Ok(metadata) => describe_non_regular(&metadata),
        Err(e) => Some(describe_unreachable(path, &e)),
    }
}

/// Opens `path` for reading if it is a regular file; returns it with its
/// length in bytes.
pub fn open_regular(path: &Path) -> Result<(File, u64), String> {
    if let Some(problem) = not_a_regular_file(path) {
        return Err(problem);
    }
    let file = File::open(path).map_err(|e| format!("cannot be opened: {e}"))?;
    let metadata = file
        .metadata()
        .map_err(|e| format!("cannot be read: {e}"))?;
    if let Some(problem) = describe_non_regular(&metadata) {
        return Err(problem);
    }
    Ok((file, metadata.len()))
}

/// Reads a whole regular file as UTF-8 text.
pub fn read_text(path: &Path) -> Result<String, String> {
    let (mut file, _) = open_regular(path)?;
    let mut text = String::new();
    io::Read::read_to_string(&mut file, &mut text).map_err(|e| format!("cannot be read: {e}"))?;
    Ok(text)
}

fn describe_non_regular(metadata: &Metadata) -> Option<String> {
    let kind = metadata.file_type();
    let what = if kind.is_file() {
        return None;
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO (named pipe)"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "a special file"
    };
    Some(format!("is {what}, not a regular file"))
}

fn describe_unreachable(path: &Path, error: &io::Error) -> String {
    let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    match (is_link, error.kind()) {
        (true, io::ErrorKind::NotFound) => {
            "is a symbolic link to a file that does not exist".to_string()
        }
        (true, _) => format!("is a symbolic link that cannot be followed: {error}"),
        (false, io::ErrorKind::NotFound) => "does not exist".to_string(),
        (false, _) => format!("cannot be read: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_what_a_path_is() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "x").unwrap();
        assert_eq!(not_a_regular_file(&file), None);
        assert!(
            not_a_regular_file(dir.path())
                .unwrap()
                .contains("directory")
        );
        assert_eq!(
            not_a_regular_file(&dir.path().join("missing")).unwrap(),
            "does not exist"
        );
        assert!(
            not_a_regular_file(Path::new("/dev/zero"))
                .unwrap()
                .contains("character device")
        );
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::os::unix::fs::symlink(&a, &b).unwrap();
        std::os::unix::fs::symlink(&b, &a).unwrap();
        assert!(
            not_a_regular_file(&a)
                .unwrap()
                .contains("cannot be followed")
        );
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        assert!(
            not_a_regular_file(&dangling)
                .unwrap()
                .contains("symbolic link")
        );
    }
}
