//! `pitchey`: parses the command line and configuration, then hands over to the library.

/// mimalloc instead of the C library's allocator: under many threads glibc's per-thread arenas fragment
/// (a server that had served the load suite held 1.9 GiB) and its allocation paths showed high in profiles.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    pitchey_server::cli::main()
}
