//! Per-client-address rate limit for logins and sign-ups (GCRA via `governor`).

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

/// Limits attempts per address: `per_minute` in a burst, refilling evenly over the minute.
pub struct LoginLimiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
    /// Rejections are logged with their address, at most one line a second (an attack must not flood
    /// the log); the metric counts every one.
    pub log: LogSampler,
}

/// Lets through at most one log line per second, and counts the lines it held back meanwhile.
#[derive(Debug, Default)]
pub struct LogSampler {
    /// The second (Unix time) of the last line let through.
    last: AtomicU64,
    held_back: AtomicU64,
}

impl LogSampler {
    /// `Some(lines held back since the last one)` when a line may be written now.
    pub fn sample(&self) -> Option<u64> {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        self.sample_at(now)
    }

    fn sample_at(&self, now_secs: u64) -> Option<u64> {
        let last = self.last.load(Ordering::Relaxed);
        if now_secs > last && self.last.compare_exchange(last, now_secs, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
            Some(self.held_back.swap(0, Ordering::Relaxed))
        } else {
            self.held_back.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

impl LoginLimiter {
    /// A limiter, or `None` when `per_minute` is 0 (disabled).
    pub fn new(per_minute: u32) -> Option<Self> {
        let n = NonZeroU32::new(per_minute)?;
        Some(LoginLimiter {
            limiter: RateLimiter::keyed(Quota::per_minute(n)),
            clock: DefaultClock::default(),
            log: LogSampler::default(),
        })
    }

    /// Counts one attempt; `Err(seconds)` when over the limit, with the wait until the next is allowed.
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        self.limiter.check_key(&limit_key(ip)).map_err(|not_until| {
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

/// The address a limit is counted against. An IPv6 client is usually given a whole /64 and can pick any
/// address in it, so IPv6 addresses count per /64; an IPv4 address mapped into IPv6 (`::ffff:a.b.c.d`, as a
/// dual-stack listener sees IPv4 clients) counts as the IPv4 address.
pub fn limit_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        v4 => v4,
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

    #[test]
    fn log_lines_are_sampled_once_a_second() {
        let s = LogSampler::default();
        assert_eq!(s.sample_at(100), Some(0));
        assert_eq!(s.sample_at(100), None);
        assert_eq!(s.sample_at(100), None);
        assert_eq!(s.sample_at(101), Some(2), "the next second's line says how many were held back");
        assert_eq!(s.sample_at(101), None);
        assert_eq!(s.sample_at(105), Some(1));
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let l = LoginLimiter::new(2).unwrap_or_else(|| unreachable!());
        let ip = |s: &str| s.parse::<IpAddr>().unwrap_or_else(|_| unreachable!());
        assert!(l.check(ip("2001:db8:1:2::1")).is_ok());
        assert!(l.check(ip("2001:db8:1:2:ffff::9")).is_ok());
        assert!(l.check(ip("2001:db8:1:2:abcd::1")).is_err(), "another address of the same /64");
        assert!(l.check(ip("2001:db8:1:3::1")).is_ok(), "the next /64 is another client");
        assert!(l.check(ip("198.51.100.7")).is_ok());
        assert!(l.check(ip("::ffff:198.51.100.7")).is_ok());
        assert!(l.check(ip("198.51.100.7")).is_err(), "the mapped form is the same client");
    }
}
