//! Load shapes: how many virtual users, or how many arrivals per second, at each moment of a scenario.

use serde::{Deserialize, Serialize};

/// One stage of a closed-loop shape: move linearly to `target` users over `secs` seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    /// Length of the stage in seconds.
    pub secs: f64,
    /// Users at the end of the stage.
    pub target: u32,
}

/// How load is applied over time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Shape {
    /// Closed loop: virtual users each run iterations back to back; their number starts at `start` and
    /// follows the stages (linear ramps; a stage whose target equals the current number is a hold).
    Users {
        /// Users at time zero.
        start: u32,
        /// The stages, in order.
        stages: Vec<Stage>,
    },
    /// Open loop: iterations start at `rate` per second for `secs` seconds whatever the server's speed, and
    /// latency is measured from each iteration's intended start (coordinated-omission correction).
    Arrival {
        /// Iterations started per second.
        rate: f64,
        /// Length of the run in seconds.
        secs: f64,
        /// Most iterations in flight at once; later arrivals wait (and their wait counts as latency).
        max_in_flight: u32,
    },
    /// Closed loop: `users` virtual users share `iterations` iterations, stopping after `max_secs` at most.
    Iterations {
        /// Virtual users.
        users: u32,
        /// Iterations shared between them.
        iterations: u64,
        /// Upper bound on the run time in seconds.
        max_secs: f64,
    },
    /// Many idle keep-alive connections: a steady open-loop stream runs for `baseline_secs` alone, then
    /// while `connections` connections are opened and held for `hold_secs`.
    Connections {
        /// Connections to open and hold.
        connections: u32,
        /// Seconds of steady stream before opening the connections.
        baseline_secs: f64,
        /// Seconds to hold the connections open.
        hold_secs: f64,
        /// Requests per second of the steady stream.
        steady_rate: f64,
    },
}

/// Scales a duration, never below one second.
fn secs(s: f64, f: f64) -> f64 {
    (s * f).max(1.0)
}

/// Scales a count of users: zero stays zero (a ramp down to nothing), anything else is at least one.
fn users(u: u32, f: f64) -> u32 {
    if u == 0 { 0 } else { ((f64::from(u) * f).round() as u32).max(1) }
}

impl Shape {
    /// The same shape with durations, users, rates, iterations and connections multiplied by `f`
    /// (never below one second, one user, one request per second or one iteration).
    pub fn scaled(&self, f: f64) -> Shape {
        match self {
            Shape::Users { start, stages } => Shape::Users {
                start: users(*start, f),
                stages: stages.iter().map(|s| Stage { secs: secs(s.secs, f), target: users(s.target, f) }).collect(),
            },
            Shape::Arrival { rate, secs: d, max_in_flight } => {
                Shape::Arrival { rate: (rate * f).max(1.0), secs: secs(*d, f), max_in_flight: *max_in_flight }
            }
            Shape::Iterations { users: u, iterations, max_secs } => Shape::Iterations {
                users: users(*u, f),
                iterations: ((*iterations as f64 * f).round() as u64).max(1),
                max_secs: secs(*max_secs, f),
            },
            Shape::Connections { connections, baseline_secs, hold_secs, steady_rate } => Shape::Connections {
                connections: users(*connections, f),
                baseline_secs: secs(*baseline_secs, f),
                hold_secs: secs(*hold_secs, f),
                steady_rate: (steady_rate * f).max(1.0),
            },
        }
    }

    /// Planned length in seconds (for shared iterations, the upper bound).
    pub fn secs(&self) -> f64 {
        match self {
            Shape::Users { stages, .. } => stages.iter().map(|s| s.secs).sum(),
            Shape::Arrival { secs, .. } => *secs,
            Shape::Iterations { max_secs, .. } => *max_secs,
            Shape::Connections { baseline_secs, hold_secs, .. } => baseline_secs + hold_secs,
        }
    }

    /// Closed-loop users wanted at `t` seconds from the start (zero after the last stage).
    pub fn users_at(&self, t: f64) -> u32 {
        match self {
            Shape::Users { start, stages } => {
                let (mut from, mut t0) = (f64::from(*start), 0.0);
                for s in stages {
                    if t < t0 + s.secs {
                        let frac = ((t - t0) / s.secs).clamp(0.0, 1.0);
                        return (from + (f64::from(s.target) - from) * frac).round() as u32;
                    }
                    from = f64::from(s.target);
                    t0 += s.secs;
                }
                0
            }
            Shape::Iterations { users, max_secs, .. } if t < *max_secs => *users,
            _ => 0,
        }
    }

    /// The most virtual users (or iterations in flight) the shape asks for.
    pub fn peak_users(&self) -> u32 {
        match self {
            Shape::Users { start, stages } => stages.iter().map(|s| s.target).fold(*start, u32::max),
            Shape::Arrival { max_in_flight, .. } => *max_in_flight,
            Shape::Iterations { users, .. } => *users,
            Shape::Connections { connections, .. } => *connections,
        }
    }

    /// A short human description, e.g. `ramp 1→20 users over 30 s, hold 20 users 60 s, ramp 20→0 users over 30 s`.
    pub fn describe(&self) -> String {
        match self {
            Shape::Users { start, stages } => {
                let mut from = *start;
                let parts: Vec<String> = stages
                    .iter()
                    .map(|s| {
                        let text = if s.target == from {
                            format!("hold {} users {} s", s.target, fmt_num(s.secs))
                        } else {
                            format!("ramp {from}→{} users over {} s", s.target, fmt_num(s.secs))
                        };
                        from = s.target;
                        text
                    })
                    .collect();
                parts.join(", ")
            }
            Shape::Arrival { rate, secs, max_in_flight } => format!(
                "constant arrival rate {}/s for {} s (at most {max_in_flight} in flight)",
                fmt_num(*rate),
                fmt_num(*secs)
            ),
            Shape::Iterations { users, iterations, max_secs } => {
                format!("{users} users sharing {iterations} iterations (at most {} s)", fmt_num(*max_secs))
            }
            Shape::Connections { connections, baseline_secs, hold_secs, steady_rate } => format!(
                "steady {}/s for {} s, then open and hold {connections} keep-alive connections for {} s",
                fmt_num(*steady_rate),
                fmt_num(*baseline_secs),
                fmt_num(*hold_secs)
            ),
        }
    }
}

/// Formats a number without a trailing `.0`.
fn fmt_num(v: f64) -> String {
    if v.fract().abs() < 1e-9 { format!("{v:.0}") } else { format!("{v:.1}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp() -> Shape {
        Shape::Users {
            start: 1,
            stages: vec![
                Stage { secs: 30.0, target: 20 },
                Stage { secs: 60.0, target: 20 },
                Stage { secs: 30.0, target: 0 },
            ],
        }
    }

    #[test]
    fn users_follow_the_stages() {
        let s = ramp();
        assert_eq!(s.users_at(0.0), 1);
        assert_eq!(s.users_at(15.0), 11); // halfway from 1 to 20, rounded
        assert_eq!(s.users_at(30.0), 20);
        assert_eq!(s.users_at(89.9), 20);
        assert_eq!(s.users_at(105.0), 10);
        assert_eq!(s.users_at(120.0), 0);
        assert_eq!(s.secs(), 120.0);
        assert_eq!(s.peak_users(), 20);
        assert_eq!(s.describe(), "ramp 1→20 users over 30 s, hold 20 users 60 s, ramp 20→0 users over 30 s");
    }

    #[test]
    fn scaling_multiplies_and_keeps_a_floor() {
        let s = ramp().scaled(0.1);
        assert_eq!(
            s,
            Shape::Users {
                start: 1,
                stages: vec![
                    Stage { secs: 3.0, target: 2 },
                    Stage { secs: 6.0, target: 2 },
                    Stage { secs: 3.0, target: 0 }
                ],
            }
        );
        // Never below one user, one second, one request per second or one iteration.
        let tiny = ramp().scaled(0.001);
        assert_eq!(tiny.peak_users(), 1);
        assert_eq!(tiny.secs(), 3.0);
        let a = Shape::Arrival { rate: 10.0, secs: 60.0, max_in_flight: 100 };
        assert_eq!(a.scaled(0.5), Shape::Arrival { rate: 5.0, secs: 30.0, max_in_flight: 100 });
        assert_eq!(a.scaled(0.01), Shape::Arrival { rate: 1.0, secs: 1.0, max_in_flight: 100 });
        let i = Shape::Iterations { users: 5, iterations: 100, max_secs: 120.0 };
        assert_eq!(i.scaled(0.05), Shape::Iterations { users: 1, iterations: 5, max_secs: 6.0 });
        assert_eq!(i.scaled(0.0001), Shape::Iterations { users: 1, iterations: 1, max_secs: 1.0 });
        assert_eq!(i.scaled(2.0), Shape::Iterations { users: 10, iterations: 200, max_secs: 240.0 });
        let c = Shape::Connections { connections: 10_000, baseline_secs: 10.0, hold_secs: 30.0, steady_rate: 50.0 };
        assert_eq!(
            c.scaled(0.02),
            Shape::Connections { connections: 200, baseline_secs: 1.0, hold_secs: 1.0, steady_rate: 1.0 }
        );
    }

    #[test]
    fn shared_iterations_keep_their_users_until_the_bound() {
        let i = Shape::Iterations { users: 5, iterations: 100, max_secs: 10.0 };
        assert_eq!(i.users_at(9.9), 5);
        assert_eq!(i.users_at(10.0), 0);
    }
}
