//! `pitchey`: parses the command line and configuration, then hands over to the library.

fn main() -> std::process::ExitCode {
    pitchey_server::cli::main()
}
