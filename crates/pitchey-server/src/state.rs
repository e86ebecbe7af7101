//! The application state shared by every handler.

use crate::config::Settings;
use crate::ratelimit::LoginLimiter;
use ipnet::IpNet;
use pitchey_store::Store;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Cloneable handle to everything a request may need.
#[derive(Clone)]
pub struct AppState {
    /// Storage.
    pub store: Store,
    /// Settings in effect.
    pub settings: Arc<Settings>,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Arc<Vec<IpNet>>,
    /// Per-address limiter for logins and sign-ups (absent when disabled).
    pub login_limiter: Option<Arc<LoginLimiter>>,
    /// An argon2id hash verified when an email is unknown, so a miss costs as much as a wrong password.
    pub dummy_hash: Arc<str>,
    /// Process readiness: false until start-up finishes and again while draining for shutdown.
    pub ready: Arc<AtomicBool>,
    /// When the process started.
    pub started: Instant,
}

impl AppState {
    /// Is the process accepting traffic (not starting, not draining)?
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }
}
