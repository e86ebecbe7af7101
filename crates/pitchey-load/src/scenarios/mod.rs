//! The scenarios: their names, load shapes and default thresholds (one table, used by the runner, the
//! help text and the docs), and what one iteration of each does.

mod journey;
pub(crate) mod reads;

use crate::engine::Vu;
use crate::shape::{Shape, Stage};
use crate::thresholds::Thresholds;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The demo accounts' password.
pub const DEMO_PASSWORD: &str = "Demo123";

/// A demo account and the portal it signs in through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Account {
    /// `creator`, `investor` or `production`.
    pub portal: &'static str,
    /// Login email.
    pub email: &'static str,
}

/// The demo creator (owns NDA-protected pitches).
pub const CREATOR: Account = Account { portal: "creator", email: "alex.creator@demo.com" };
/// The three demo accounts, each on its own portal.
pub const ACCOUNTS: [Account; 3] = [
    CREATOR,
    Account { portal: "investor", email: "sarah.investor@demo.com" },
    Account { portal: "production", email: "stellar.production@demo.com" },
];

/// A scenario's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ScenarioName {
    /// Health endpoint under constant users.
    Health,
    /// Marketplace browsing with tabs, filters and pages.
    Browse,
    /// Portal logins at a constant arrival rate.
    Auth,
    /// Full-text search over a list of terms.
    Search,
    /// Hot public reads (what a cache serves).
    Cache,
    /// A sudden surge of users doing a mix of everything.
    Spike,
    /// Sign up, browse, request an NDA, get it approved, read the protected pitch.
    Journey,
    /// Thousands of idle keep-alive connections while a steady stream is measured.
    Connections,
    /// Each list, a pitch page and search at 10 constant users (run against a server with its cache off to
    /// measure the store).
    Lists,
    /// 50 users on one hot endpoint at a time: a static JSON route (the ceiling), health, cached lists, and
    /// signed-in dashboards.
    Hot,
}

impl ScenarioName {
    /// Every scenario, in the order a full run takes them.
    pub const ALL: [ScenarioName; 10] = [
        ScenarioName::Health,
        ScenarioName::Browse,
        ScenarioName::Auth,
        ScenarioName::Search,
        ScenarioName::Cache,
        ScenarioName::Spike,
        ScenarioName::Journey,
        ScenarioName::Connections,
        ScenarioName::Lists,
        ScenarioName::Hot,
    ];

    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ScenarioName::Health => "health",
            ScenarioName::Browse => "browse",
            ScenarioName::Auth => "auth",
            ScenarioName::Search => "search",
            ScenarioName::Cache => "cache",
            ScenarioName::Spike => "spike",
            ScenarioName::Journey => "journey",
            ScenarioName::Connections => "connections",
            ScenarioName::Lists => "lists",
            ScenarioName::Hot => "hot",
        }
    }
}

impl fmt::Display for ScenarioName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for ScenarioName {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ScenarioName::ALL
            .into_iter()
            .find(|n| n.as_str() == s)
            .ok_or_else(|| format!("unknown scenario {s:?} (one of {})", names().join(", ")))
    }
}

fn names() -> Vec<&'static str> {
    ScenarioName::ALL.iter().map(|n| n.as_str()).collect()
}

/// A scenario's definition at full scale.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    /// The name.
    pub name: ScenarioName,
    /// What it requests.
    pub requests: &'static str,
    /// Its load shape at scale 1.
    pub shape: Shape,
    /// Default pass/fail limits.
    pub thresholds: Thresholds,
}

const fn limits(p95: f64, p99: f64, errors: f64) -> Thresholds {
    Thresholds { p95_ms: Some(p95), p99_ms: Some(p99), max_error_rate: Some(errors) }
}

fn users(start: u32, stages: &[(f64, u32)]) -> Shape {
    Shape::Users { start, stages: stages.iter().map(|&(secs, target)| Stage { secs, target }).collect() }
}

/// The definition of `name`.
pub fn definition(name: ScenarioName) -> Definition {
    use ScenarioName as N;
    let (requests, shape, thresholds) = match name {
        N::Health => ("GET /api/health (--health-path)", users(10, &[(30.0, 10)]), limits(50.0, 100.0, 0.01)),
        N::Browse => (
            "GET /api/browse with random tabs, filters, sorts and pages",
            users(1, &[(30.0, 20), (60.0, 20), (30.0, 0)]),
            limits(500.0, 1000.0, 0.01),
        ),
        N::Auth => (
            "POST /api/auth/{creator,investor,production}/login with the demo accounts, each on its own portal",
            Shape::Arrival { rate: 10.0, secs: 60.0, max_in_flight: 200 },
            limits(500.0, 1000.0, 0.01),
        ),
        N::Search => (
            "GET /api/search?q= over a list of terms",
            Shape::Iterations { users: 5, iterations: 100, max_secs: 120.0 },
            limits(500.0, 1000.0, 0.01),
        ),
        N::Cache => (
            "hot keys: health, first browse pages, top public pitch pages, popular searches",
            users(15, &[(45.0, 15)]),
            limits(200.0, 500.0, 0.01),
        ),
        N::Spike => (
            "random mix: health, browse, home lists, public detail, search, logins",
            users(1, &[(10.0, 50), (20.0, 50), (10.0, 1)]),
            limits(1500.0, 3000.0, 0.01),
        ),
        N::Journey => (
            "fresh investor: sign up, log in, browse, open an NDA pitch, request the NDA; creator approves it \
             from incoming requests; investor sees hasSignedNDA and protectedContent",
            Shape::Iterations { users: 5, iterations: 25, max_secs: 180.0 },
            limits(1000.0, 2000.0, 0.01),
        ),
        N::Connections => (
            "hold many keep-alive connections (GET /api/health/live on each) while a steady open-loop stream \
             of GET /api/pitches/public/trending (--steady-path) is measured; server RSS sampled",
            Shape::Connections { connections: 10_000, baseline_secs: 10.0, hold_secs: 30.0, steady_rate: 50.0 },
            limits(100.0, 250.0, 0.01),
        ),
        N::Lists => (
            "one of GET /api/browse?tab={trending,new,popular} (pages 1-5), GET /api/pitches/public/:id (any \
             discovered pitch) or GET /api/search?q= (any term), each labelled; meant for a server with \
             PITCHEY_CACHE_ENABLED=false, where it measures the store",
            users(10, &[(30.0, 10)]),
            limits(10.0, 20.0, 0.01),
        ),
        N::Hot => (
            "50 users on one endpoint at a time, 20 s each after a 5 s warm-up (each user signs in to its \
             portal, every endpoint once): GET /api/health/live (a static JSON route: the ceiling), GET \
             /api/health, GET /api/pitches/public/trending?limit=12, GET /api/browse?tab=trending&limit=20, \
             GET /api/{creator,investor,production}/dashboard signed in; bodies checked for success without \
             being parsed into documents, and a body equal to the last one that passed not parsed again; each \
             endpoint's req/s is in its label row",
            users(50, &[(reads::HOT_UNITS as f64 * reads::HOT_UNIT_SECS, 50)]),
            limits(10.0, 15.0, 0.01),
        ),
    };
    Definition { name, requests, shape, thresholds }
}

/// The scenario table for `--help`.
pub fn help_text() -> String {
    let mut s = String::from(
        "Scenarios (all of them in this order when no --scenario is given). --scale F multiplies durations, users, \
         arrival rates, iterations and connections (never below 1 s, 1 user, 1 request/s, 1 iteration):\n",
    );
    for n in ScenarioName::ALL {
        let d = definition(n);
        s.push_str(&format!(
            "  {:<12} {}\n  {:<12}   shape: {}\n  {:<12}   default thresholds: {}\n",
            n.as_str(),
            d.requests,
            "",
            d.shape.describe(),
            "",
            d.thresholds.describe()
        ));
    }
    s.push_str(
        "\nLatency thresholds apply to successful requests; every non-2xx response, transport error or wrong response \
         shape counts as an error. Override with --threshold SCENARIO.METRIC=VALUE (repeatable), e.g. \
         --threshold browse.p95=400ms --threshold '*.error-rate=2%' --threshold spike.p99=off.\n\
         \nClosed-loop users run iterations back to back (add --think-time-ms to pace them); the auth scenario is \
         open-loop and times each login from its intended start (coordinated-omission correction).\n\
         \nThe auth, spike, journey and hot scenarios sign in and sign up many times a second: start the server with \
         PITCHEY_LOGIN_RATE_PER_MINUTE=0 (the login rate limit would answer 429). The journey needs the demo data \
         (alex.creator@demo.com's NDA pitches) and the NDA endpoints; each iteration signs up a new investor.\n\
         \nExit status: 0 every threshold met, 1 a threshold missed, 2 the run could not be made.\n",
    );
    s
}

/// Runs one iteration of `kind` as `vu`; outcomes are recorded by the requests themselves.
pub async fn iteration(kind: ScenarioName, vu: &mut Vu) {
    match kind {
        ScenarioName::Health => reads::health(vu).await,
        ScenarioName::Browse => reads::browse(vu).await,
        ScenarioName::Auth => {
            let account = ACCOUNTS[(vu.id % 3) as usize];
            reads::login(vu, account).await;
        }
        ScenarioName::Search => {
            let n = vu.next_seq();
            reads::search(vu, n as usize, reads::TERMS.len()).await;
        }
        ScenarioName::Cache => reads::cache_mix(vu).await,
        ScenarioName::Spike => reads::spike_mix(vu).await,
        ScenarioName::Journey => journey::run(vu).await,
        // Connections run their own engine (crate::connections); nothing to iterate.
        ScenarioName::Connections => {}
        ScenarioName::Lists => reads::lists_mix(vu).await,
        ScenarioName::Hot => reads::hot(vu).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_match_the_issue() {
        let d = |n| definition(n).shape;
        assert_eq!(d(ScenarioName::Health).describe(), "hold 10 users 30 s");
        assert_eq!(
            d(ScenarioName::Browse).describe(),
            "ramp 1→20 users over 30 s, hold 20 users 60 s, ramp 20→0 users over 30 s"
        );
        assert_eq!(d(ScenarioName::Auth), Shape::Arrival { rate: 10.0, secs: 60.0, max_in_flight: 200 });
        assert_eq!(d(ScenarioName::Search), Shape::Iterations { users: 5, iterations: 100, max_secs: 120.0 });
        assert_eq!(d(ScenarioName::Cache).secs(), 45.0);
        assert_eq!(d(ScenarioName::Cache).peak_users(), 15);
        let spike = d(ScenarioName::Spike);
        assert_eq!((spike.users_at(0.0), spike.users_at(10.0), spike.users_at(29.0), spike.secs()), (1, 50, 50, 40.0));
        assert_eq!(d(ScenarioName::Connections).peak_users(), 10_000);
        assert_eq!(d(ScenarioName::Lists).describe(), "hold 10 users 30 s");
        assert_eq!(d(ScenarioName::Hot).describe(), "hold 50 users 105 s");
    }

    #[test]
    fn every_scenario_scales_down_to_something_runnable() {
        for n in ScenarioName::ALL {
            let s = definition(n).shape.scaled(0.01);
            assert!(s.peak_users() >= 1, "{n}");
            assert!(s.secs() >= 1.0, "{n}");
            assert!(s.secs() <= definition(n).shape.secs(), "{n}");
        }
    }

    #[test]
    fn names_round_trip_and_help_lists_every_scenario() {
        let help = help_text();
        for n in ScenarioName::ALL {
            assert_eq!(n.as_str().parse::<ScenarioName>(), Ok(n));
            assert!(help.contains(&format!("  {:<12} ", n.as_str())), "{n} missing from help");
            assert!(help.contains(&definition(n).thresholds.describe()));
        }
        assert!("everything".parse::<ScenarioName>().is_err());
        assert!(help.contains("PITCHEY_LOGIN_RATE_PER_MINUTE=0"));
    }
}
