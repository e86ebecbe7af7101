//! Per-client-address rate limit for logins and sign-ups (GCRA via `governor`).

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;

/// Limits attempts per address: `per_minute` in a burst, refilling evenly over the minute.
pub struct LoginLimiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
}

impl LoginLimiter {
    /// A limiter, or `None` when `per_minute` is 0 (disabled).
    pub fn new(per_minute: u32) -> Option<Self> {
        let n = NonZeroU32::new(per_minute)?;
        Some(LoginLimiter { limiter: RateLimiter::keyed(Quota::per_minute(n)), clock: DefaultClock::default() })
    }

    /// Counts one attempt; `Err(seconds)` when over the limit, with the wait until the next is allowed.
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        self.limiter.check_key(&ip).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }

    /// Forgets addresses whose quota has fully refilled (bounds memory).
    pub fn shrink(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    /// Addresses currently tracked.
    pub fn len(&self) -> usize {
        self.limiter.len()
    }

    /// Is no address tracked?
    pub fn is_empty(&self) -> bool {
        self.limiter.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_address() {
        let l = LoginLimiter::new(3).unwrap_or_else(|| unreachable!());
        let a: IpAddr = [192, 0, 2, 1].into();
        let b: IpAddr = [192, 0, 2, 2].into();
        for _ in 0..3 {
            assert!(l.check(a).is_ok());
        }
        let wait = l.check(a).err();
        assert!(matches!(wait, Some(s) if (1..=20).contains(&s)), "{wait:?}");
        assert!(l.check(b).is_ok());
        assert!(LoginLimiter::new(0).is_none());
    }
}
