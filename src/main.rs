//! The `a2qgen` binary: the command line of [`a2qgen::cli`].

fn main() -> std::process::ExitCode {
    a2qgen::cli::main()
}
