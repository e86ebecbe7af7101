//! Process limits.

/// Raises the open-files soft limit to the hard limit, so the server can hold many keep-alive
/// connections (each is a file descriptor). Failure is logged, not fatal.
pub fn raise_fd_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => tracing::info!(limit = n, "open files limit"),
        Err(e) => tracing::warn!(error = %e, "could not raise the open files limit"),
    }
}
