//! Pass/fail limits per scenario (p95, p99, error rate), overrides from the command line, and their
//! evaluation at the end of a scenario.

use crate::scenarios::ScenarioName;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Limits a scenario must meet; `None` means not checked.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Highest acceptable 95th-percentile latency in milliseconds.
    pub p95_ms: Option<f64>,
    /// Highest acceptable 99th-percentile latency in milliseconds.
    pub p99_ms: Option<f64>,
    /// Highest acceptable share of failed requests (0.01 = 1 %).
    pub max_error_rate: Option<f64>,
}

/// A metric that can carry a threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Metric {
    /// 95th-percentile latency.
    P95,
    /// 99th-percentile latency.
    P99,
    /// Failed requests over all requests.
    ErrorRate,
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Metric::P95 => "p95",
            Metric::P99 => "p99",
            Metric::ErrorRate => "error-rate",
        })
    }
}

/// A command-line change to a threshold: `SCENARIO.METRIC=VALUE`, e.g. `browse.p95=400ms`,
/// `auth.p99=1.5s`, `*.error-rate=2%` or `spike.p99=off`.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// The scenario, or `None` for every scenario (`*`).
    pub scenario: Option<ScenarioName>,
    /// The metric.
    pub metric: Metric,
    /// The new limit (milliseconds or a fraction), or `None` to switch the check off.
    pub value: Option<f64>,
}

impl FromStr for Override {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let usage = || format!("{s:?}: expected SCENARIO.METRIC=VALUE, e.g. browse.p95=400ms or *.error-rate=1%");
        let (key, value) = s.split_once('=').ok_or_else(usage)?;
        let (scenario, metric) = key.trim().split_once('.').ok_or_else(usage)?;
        let scenario = match scenario {
            "*" | "all" => None,
            name => Some(name.parse::<ScenarioName>()?),
        };
        let metric = match metric.to_ascii_lowercase().as_str() {
            "p95" => Metric::P95,
            "p99" => Metric::P99,
            "error-rate" | "error_rate" | "errors" => Metric::ErrorRate,
            other => return Err(format!("unknown metric {other:?} (use p95, p99 or error-rate)")),
        };
        let value = value.trim().to_ascii_lowercase();
        let value = if value == "off" || value == "none" {
            None
        } else {
            Some(
                match metric {
                    Metric::P95 | Metric::P99 => parse_ms(&value),
                    Metric::ErrorRate => parse_rate(&value),
                }
                .ok_or_else(|| format!("{s:?}: bad value {value:?}"))?,
            )
        };
        Ok(Override { scenario, metric, value })
    }
}

/// `250`, `250ms`, `1.5s` → milliseconds.
fn parse_ms(v: &str) -> Option<f64> {
    let n = if let Some(ms) = v.strip_suffix("ms") {
        ms.trim().parse::<f64>().ok()?
    } else if let Some(s) = v.strip_suffix('s') {
        s.trim().parse::<f64>().ok()? * 1000.0
    } else {
        v.parse::<f64>().ok()?
    };
    (n.is_finite() && n >= 0.0).then_some(n)
}

/// `1%` or `0.01` → 0.01.
fn parse_rate(v: &str) -> Option<f64> {
    let n = match v.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().ok()? / 100.0,
        None => v.parse::<f64>().ok()?,
    };
    (0.0..=1.0).contains(&n).then_some(n)
}

/// One evaluated threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// The metric.
    pub metric: Metric,
    /// The limit (milliseconds, or a fraction for the error rate).
    pub limit: f64,
    /// The measured value, in the same unit.
    pub actual: f64,
    /// Whether `actual <= limit`.
    pub passed: bool,
}

impl Check {
    /// `p95 12.3 ms <= 300 ms` style text.
    pub fn describe(&self) -> String {
        let (a, l) = match self.metric {
            Metric::ErrorRate => (format!("{:.2}%", self.actual * 100.0), format!("{:.2}%", self.limit * 100.0)),
            _ => (format!("{:.1} ms", self.actual), format!("{:.0} ms", self.limit)),
        };
        let op = if self.passed { "<=" } else { ">" };
        format!("{} {a} {op} {l}", self.metric)
    }
}

/// What thresholds are evaluated against.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observed {
    /// Requests made (successful and failed).
    pub requests: u64,
    /// Failed requests.
    pub errors: u64,
    /// 95th percentile of successful requests, milliseconds.
    pub p95_ms: f64,
    /// 99th percentile of successful requests, milliseconds.
    pub p99_ms: f64,
}

impl Thresholds {
    /// Applies the overrides that name this scenario (or every scenario), in order.
    pub fn with_overrides(mut self, scenario: ScenarioName, overrides: &[Override]) -> Thresholds {
        for o in overrides.iter().filter(|o| o.scenario.is_none_or(|s| s == scenario)) {
            match o.metric {
                Metric::P95 => self.p95_ms = o.value,
                Metric::P99 => self.p99_ms = o.value,
                Metric::ErrorRate => self.max_error_rate = o.value,
            }
        }
        self
    }

    /// Evaluates every threshold that is set. A scenario that made no request at all fails its error-rate
    /// check (rate 100 %): a silent run must not gate a deployment through.
    pub fn evaluate(&self, o: &Observed) -> Vec<Check> {
        let rate = if o.requests == 0 { 1.0 } else { o.errors as f64 / o.requests as f64 };
        [
            (Metric::P95, self.p95_ms, o.p95_ms),
            (Metric::P99, self.p99_ms, o.p99_ms),
            (Metric::ErrorRate, self.max_error_rate, rate),
        ]
        .into_iter()
        .filter_map(|(metric, limit, actual)| {
            limit.map(|limit| Check { metric, limit, actual, passed: actual <= limit })
        })
        .collect()
    }

    /// `p95 ≤ 300 ms, p99 ≤ 600 ms, errors ≤ 1%` style text for the help and the reports.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(v) = self.p95_ms {
            parts.push(format!("p95 <= {v:.0} ms"));
        }
        if let Some(v) = self.p99_ms {
            parts.push(format!("p99 <= {v:.0} ms"));
        }
        if let Some(v) = self.max_error_rate {
            parts.push(format!("errors <= {}%", v * 100.0));
        }
        if parts.is_empty() { "none".into() } else { parts.join(", ") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Thresholds = Thresholds { p95_ms: Some(300.0), p99_ms: Some(600.0), max_error_rate: Some(0.01) };

    fn observed(p95: f64, p99: f64, requests: u64, errors: u64) -> Observed {
        Observed { requests, errors, p95_ms: p95, p99_ms: p99 }
    }

    #[test]
    fn met_thresholds_pass() {
        let checks = T.evaluate(&observed(120.0, 300.0, 1000, 10));
        assert_eq!(checks.len(), 3);
        assert!(checks.iter().all(|c| c.passed), "{checks:?}");
        // A limit is inclusive.
        assert!(T.evaluate(&observed(300.0, 600.0, 100, 1)).iter().all(|c| c.passed));
    }

    #[test]
    fn a_missed_threshold_fails() {
        let checks = T.evaluate(&observed(301.0, 300.0, 1000, 0));
        let p95 = checks.iter().find(|c| c.metric == Metric::P95).expect("p95 checked");
        assert!(!p95.passed);
        assert_eq!(p95.describe(), "p95 301.0 ms > 300 ms");
        let checks = T.evaluate(&observed(1.0, 1.0, 1000, 11));
        let errors = checks.iter().find(|c| c.metric == Metric::ErrorRate).expect("error rate checked");
        assert!(!errors.passed);
        assert_eq!(errors.describe(), "error-rate 1.10% > 1.00%");
        // No request at all is a failure, not a pass.
        assert!(T.evaluate(&observed(0.0, 0.0, 0, 0)).iter().any(|c| !c.passed));
    }

    #[test]
    fn overrides_parse_and_apply() {
        let o: Vec<Override> = ["browse.p95=400ms", "*.error-rate=2%", "browse.p99=off", "auth.p95=1.5s"]
            .iter()
            .map(|s| s.parse().expect("valid override"))
            .collect();
        let browse = T.with_overrides(ScenarioName::Browse, &o);
        assert_eq!(browse, Thresholds { p95_ms: Some(400.0), p99_ms: None, max_error_rate: Some(0.02) });
        let auth = T.with_overrides(ScenarioName::Auth, &o);
        assert_eq!(auth, Thresholds { p95_ms: Some(1500.0), p99_ms: Some(600.0), max_error_rate: Some(0.02) });
        assert_eq!("health.errors=0.5".parse::<Override>().map(|o| o.value), Ok(Some(0.5)));
        for bad in ["browse", "browse.p95", "nope.p95=1", "browse.p42=1", "browse.p95=fast", "auth.error-rate=120%"] {
            assert!(bad.parse::<Override>().is_err(), "{bad} should not parse");
        }
    }
}
