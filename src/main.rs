fn main() -> std::process::ExitCode {
    a2qgen::cli::main()
}
