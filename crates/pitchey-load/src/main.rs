//! `pitchey-load`: parses the command line and hands over to the library.

fn main() -> std::process::ExitCode {
    pitchey_load::cli::main()
}
