//! Background work: each task has a name, an interval from config, and stops on shutdown.

use crate::state::AppState;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Running background tasks.
pub struct Background {
    cancel: CancellationToken,
    tasks: JoinSet<()>,
}

impl Background {
    /// Signals every task to stop and waits for them.
    pub async fn stop(mut self) {
        self.cancel.cancel();
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Runs `f` every `every` until cancelled (the first run after one interval).
fn every<F, Fut>(set: &mut JoinSet<()>, cancel: &CancellationToken, name: &'static str, every: Duration, f: F)
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let cancel = cancel.clone();
    set.spawn(async move {
        let mut tick = tokio::time::interval(every.max(Duration::from_millis(10)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                _ = tick.tick() => {
                    tracing::debug!(task = name, "background task run");
                    f().await;
                }
            }
        }
    });
}

/// Starts every background task.
pub fn spawn_all(state: &AppState) -> Background {
    let cancel = CancellationToken::new();
    let mut tasks = JoinSet::new();
    let s = state.clone();
    every(
        &mut tasks,
        &cancel,
        "session_cleanup",
        Duration::from_secs(state.settings.session_cleanup_interval_secs),
        move || {
            let s = s.clone();
            async move {
                match s.store.delete_expired_sessions().await {
                    Ok(n) if n > 0 => tracing::info!(deleted = n, "expired sessions removed"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "session cleanup failed"),
                }
                if let Some(l) = &s.login_limiter {
                    l.shrink();
                }
            }
        },
    );
    let s = state.clone();
    every(&mut tasks, &cancel, "nda_expiry", Duration::from_secs(state.settings.nda_expiry_interval_secs), move || {
        let s = s.clone();
        async move {
            match s.store.expire_ndas().await {
                Ok(n) if n > 0 => tracing::info!(expired = n, "NDAs past their expiry marked expired"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "NDA expiry sweep failed"),
            }
        }
    });
    let s = state.clone();
    every(&mut tasks, &cancel, "health", Duration::from_secs(state.settings.health_interval_secs.max(1)), move || {
        let s = s.clone();
        async move { crate::health::refresh(&s).await }
    });
    let s = state.clone();
    every(&mut tasks, &cancel, "gauges", Duration::from_secs(5), move || {
        let s = s.clone();
        async move {
            s.store.db().record_gauges();
            s.cache.record_gauges();
            crate::observability::record_process(s.started);
            if let Some(h) = crate::observability::prometheus() {
                h.run_upkeep();
            }
        }
    });
    if state.settings.cache_enabled && state.settings.cache_warm_interval_secs > 0 {
        let s = state.clone();
        every(
            &mut tasks,
            &cancel,
            "cache_warm",
            Duration::from_secs(state.settings.cache_warm_interval_secs),
            move || {
                let s = s.clone();
                async move {
                    if s.phase() == crate::state::Phase::Ready {
                        crate::caching::warm(&s).await;
                    }
                }
            },
        );
    }
    Background { cancel, tasks }
}
