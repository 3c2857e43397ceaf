//! Output into a closed pipe (`a2qgen info m.toml | head -1`): the standard
//! library reports it as a panic of `println!`. Such a run ends quietly with
//! exit 141, the code a shell gives a process ended by SIGPIPE, after
//! unwinding has dropped every staged output, so nothing partial is left.

use std::any::Any;
use std::panic::{self, PanicHookInfo};

/// The exit code of a run whose standard output or error was closed.
pub const CLOSED_PIPE_EXIT: u8 = 141;

/// Keeps the default panic message for every panic but a closed pipe's.
pub fn install_quiet_hook() {
    let default_hook = panic::take_hook();
    panic::set_hook(Box::new(move |info: &PanicHookInfo| {
        if !is_closed_pipe(info.payload()) {
            default_hook(info);
        }
    }));
}

/// Whether a panic's payload is the standard library's report of writing
/// to a closed standard output or error.
pub fn is_closed_pipe(payload: &(dyn Any + Send)) -> bool {
    let message = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("");
    message.starts_with("failed printing to std") && message.contains("Broken pipe")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_closed_pipe_report_is_recognized() {
        let closed: Box<dyn Any + Send> =
            Box::new("failed printing to stdout: Broken pipe (os error 32)".to_string());
        assert!(is_closed_pipe(closed.as_ref()));
        let other: Box<dyn Any + Send> = Box::new("index out of bounds".to_string());
        assert!(!is_closed_pipe(other.as_ref()));
        let full_disk: Box<dyn Any + Send> =
            Box::new("failed printing to stdout: No space left on device (os error 28)");
        assert!(!is_closed_pipe(full_disk.as_ref()));
    }
}
