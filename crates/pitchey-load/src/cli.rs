//! The `pitchey-load` command line.

use crate::http::Encoding;
use crate::report;
use crate::scenarios::{self, ScenarioName};
use crate::thresholds::Override;
use crate::{Options, run};
use clap::{CommandFactory, FromArgMatches, Parser};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Load tests for the Pitchey server: runs scenarios, checks thresholds, writes reports. Exits non-zero when a
/// threshold is missed, so it can gate a deployment.
#[derive(Debug, Parser)]
#[command(name = "pitchey-load", version)]
pub struct Cli {
    /// Base URL of the server under test, e.g. http://127.0.0.1:8080.
    #[arg(long, env = "PITCHEY_LOAD_HOST")]
    pub host: String,
    /// Scenario to run (repeatable); without it every scenario runs in turn.
    #[arg(long = "scenario", value_enum, value_name = "NAME")]
    pub scenarios: Vec<ScenarioName>,
    /// Multiplies durations, users, arrival rates, iterations and connections (0.1 for a quick run).
    #[arg(long, default_value_t = 1.0, value_parser = positive)]
    pub scale: f64,
    /// Where to write report.json, report.html and summary.txt [default: bench/results/<UTC timestamp>].
    #[arg(long)]
    pub report_dir: Option<PathBuf>,
    /// Change a threshold: SCENARIO.METRIC=VALUE with METRIC p95, p99 (ms, or 1.5s) or error-rate (1% or
    /// 0.01), SCENARIO a name or *; VALUE off disables the check. Repeatable.
    #[arg(long = "threshold", value_name = "SCENARIO.METRIC=VALUE")]
    pub thresholds: Vec<Override>,
    /// Per-request timeout in seconds.
    #[arg(long, default_value_t = 30.0, value_parser = positive)]
    pub timeout: f64,
    /// Pause of each closed-loop user after each iteration, milliseconds.
    #[arg(long, default_value_t = 0)]
    pub think_time_ms: u64,
    /// Endpoint of the health scenario (e.g. /api/health/ping on servers without /api/health).
    #[arg(long, default_value = "/api/health")]
    pub health_path: String,
    /// Connections the connections scenario opens and holds [default: 10000 × --scale].
    #[arg(long)]
    pub connections: Option<u32>,
    /// Endpoint of the connections scenario's steady stream.
    #[arg(long, default_value = "/api/pitches/public/trending?limit=12")]
    pub steady_path: String,
    /// Requests per second of the connections scenario's steady stream [default: 50 × --scale].
    #[arg(long, value_parser = positive)]
    pub steady_rate: Option<f64>,
    /// Server process whose memory (VmRSS) the connections scenario samples [default: the process listening
    /// on --host's port, when it runs on this machine].
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// No progress lines (the table is still printed).
    #[arg(long)]
    pub quiet: bool,
    /// Send `Accept-Encoding: br` (or gzip) on the hot scenario's requests, as a browser does: the server
    /// then sends its stored compressed copies of cached pages, and compresses other responses on the fly.
    /// Compressed bodies are decoded to be checked.
    #[arg(long, value_enum, value_name = "CODING")]
    pub accept_encoding: Option<Encoding>,
}

/// A finite number above zero.
fn positive(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("{s:?} is not a positive number")),
    }
}

impl Cli {
    /// The run's options.
    pub fn options(&self) -> Options {
        Options {
            scenarios: self.scenarios.clone(),
            scale: self.scale,
            overrides: self.thresholds.clone(),
            timeout: Duration::from_secs_f64(self.timeout.clamp(0.1, 3600.0)),
            think_time: Duration::from_millis(self.think_time_ms),
            health_path: self.health_path.clone(),
            connections: self.connections,
            steady_path: self.steady_path.clone(),
            steady_rate: self.steady_rate,
            server_pid: self.server_pid,
            progress: !self.quiet,
            accept_encoding: self.accept_encoding,
            ..Options::new(self.host.clone())
        }
    }
}

/// Parses the command line (with the scenario table as help), runs, prints and writes the reports.
/// Exit status: 0 every threshold met, 1 a threshold missed, 2 the run could not be made.
pub fn main() -> ExitCode {
    let command = Cli::command().after_long_help(scenarios::help_text()).after_help("See --help for the scenarios.");
    let cli = match Cli::from_arg_matches(&command.get_matches()) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("pitchey-load: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let dir = cli
        .report_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("bench/results").join(chrono::Utc::now().format("%Y%m%d-%H%M%S").to_string()));
    let result = runtime.block_on(run(&cli.options()));
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("pitchey-load: {e:#}");
            return ExitCode::from(2);
        }
    };
    println!("{}", report::table(&report));
    match report::write_all(&report, &dir) {
        Ok(w) => println!("Reports: {}, {}, {}", w.summary.display(), w.json.display(), w.html.display()),
        Err(e) => {
            eprintln!("pitchey-load: {e:#}");
            return ExitCode::from(2);
        }
    }
    if report.passed { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_command_line() {
        let cli = Cli::try_parse_from([
            "pitchey-load",
            "--host",
            "http://127.0.0.1:18080",
            "--scenario",
            "browse",
            "--scenario",
            "auth",
            "--scale",
            "0.1",
            "--threshold",
            "browse.p95=400ms",
            "--connections",
            "200",
        ])
        .expect("parses");
        let o = cli.options();
        assert_eq!(o.scenario_list(), vec![ScenarioName::Browse, ScenarioName::Auth]);
        assert_eq!(o.scale, 0.1);
        assert_eq!(o.overrides.len(), 1);
        assert_eq!(o.connections, Some(200));
        assert!(Cli::try_parse_from(["pitchey-load", "--host", "h", "--scenario", "nope"]).is_err());
        assert!(Cli::try_parse_from(["pitchey-load", "--host", "h", "--threshold", "browse.p95"]).is_err());
        for bad in ["0", "-1", "nan", "inf", "x"] {
            assert!(Cli::try_parse_from(["pitchey-load", "--host", "h", "--scale", bad]).is_err(), "{bad}");
            assert!(Cli::try_parse_from(["pitchey-load", "--host", "h", "--timeout", bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn help_documents_scenarios_and_thresholds() {
        let help = Cli::command().after_long_help(scenarios::help_text()).render_long_help().to_string();
        assert!(help.contains("--threshold"));
        assert!(help.contains("p95 <= 50 ms"));
        assert!(help.contains("PITCHEY_LOGIN_RATE_PER_MINUTE=0"));
    }
}
