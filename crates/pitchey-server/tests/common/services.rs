//! Throwaway database and Redis servers for fault tests: each test starts its own (initdb on a temporary
//! directory and a free port; redis-server on a free port) and may stop and restart it, never touching the
//! shared services.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1 (bound and released; a race with another process is unlikely).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

fn required() -> bool {
    std::env::var("PITCHEY_TEST_REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
}

fn pg_bin() -> Option<PathBuf> {
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<PathBuf> = std::fs::read_dir(root).ok()?.flatten().map(|e| e.path().join("bin")).collect();
    versions.sort();
    versions.pop().filter(|p| p.join("initdb").exists())
}

/// Runs a PostgreSQL tool as the `postgres` user (initdb refuses root).
fn as_postgres(bin: &Path, tool: &str, args: &[&str]) -> std::io::Result<std::process::Output> {
    let exe = bin.join(tool);
    let is_root = std::env::var("USER").is_ok_and(|u| u == "root")
        || Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0"));
    if is_root {
        Command::new("runuser").arg("-u").arg("postgres").arg("--").arg(exe).args(args).stdin(Stdio::null()).output()
    } else {
        Command::new(exe).args(args).stdin(Stdio::null()).output()
    }
}

/// A PostgreSQL cluster of the test's own.
pub struct TempPg {
    dir: tempfile::TempDir,
    bin: PathBuf,
    /// Its port.
    pub port: u16,
    data: PathBuf,
}

impl TempPg {
    /// initdb and start a cluster; `None` (test skipped) when PostgreSQL binaries are missing, unless CI
    /// requires them.
    pub fn start() -> Option<TempPg> {
        let Some(bin) = pg_bin() else {
            assert!(!required(), "PostgreSQL binaries are required for fault tests");
            eprintln!("skipped: no PostgreSQL binaries");
            return None;
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let _ = Command::new("chown").arg("-R").arg("postgres").arg(dir.path()).status();
        let out = as_postgres(&bin, "initdb", &["-D", data.to_str()?, "-A", "trust", "-U", "postgres", "--no-sync"])
            .expect("initdb");
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
        let pg = TempPg { dir, bin, port: free_port(), data };
        pg.run();
        Some(pg)
    }

    fn run(&self) {
        let sock = self.dir.path().to_str().expect("path").to_owned();
        let opts = format!("-p {} -k {sock} -c listen_addresses=127.0.0.1 -c max_connections=60", self.port);
        let log = self.dir.path().join(format!("pg-{}.log", self.port));
        let out = as_postgres(
            &self.bin,
            "pg_ctl",
            &[
                "-D",
                self.data.to_str().expect("path"),
                "-o",
                &opts,
                "-l",
                log.to_str().expect("path"),
                "-w",
                "-t",
                "30",
                "start",
            ],
        )
        .expect("pg_ctl start");
        assert!(
            out.status.success(),
            "pg_ctl start: {} {}",
            String::from_utf8_lossy(&out.stdout),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// Stops the server (fast shutdown: clients are disconnected, committed data is flushed).
    pub fn stop(&self) {
        let out =
            as_postgres(&self.bin, "pg_ctl", &["-D", self.data.to_str().expect("path"), "-m", "fast", "-w", "stop"])
                .expect("pg_ctl stop");
        assert!(out.status.success(), "pg_ctl stop: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Starts it again on the same port.
    pub fn restart(&self) {
        self.run();
    }

    /// Freezes the server and all its processes (`SIGSTOP`): connections stay open and nothing answers,
    /// as when the host hangs or the network drops packets silently. [`TempPg::thaw`] resumes it.
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    /// Resumes a frozen server.
    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, sig: &str) {
        let pidfile = std::fs::read_to_string(self.data.join("postmaster.pid")).expect("postmaster.pid");
        let pid = pidfile.lines().next().expect("pid").trim().to_owned();
        // The postmaster's children (backends, checkpointer, ...) first, then the postmaster.
        let _ = Command::new("pkill").args([sig, "-P", &pid]).status();
        let status = Command::new("kill").args([sig, &pid]).status().expect("kill");
        assert!(status.success(), "kill {sig} {pid}");
    }

    /// A URL for `db` on this cluster.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates a database.
    pub async fn create_db(&self, name: &str) {
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(&self.url("postgres")).await.expect("connect");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut c)
            .await
            .expect("create database");
    }

    /// A streaming replica of this cluster (pg_basebackup -R), started on a port of its own.
    pub fn replica(&self) -> TempPg {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let _ = Command::new("chown").arg("-R").arg("postgres").arg(dir.path()).status();
        let port = self.port.to_string();
        let out = as_postgres(
            &self.bin,
            "pg_basebackup",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-D",
                data.to_str().expect("path"),
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
            ],
        )
        .expect("pg_basebackup");
        assert!(out.status.success(), "pg_basebackup: {}", String::from_utf8_lossy(&out.stderr));
        let r = TempPg { dir, bin: self.bin.clone(), port: free_port(), data };
        r.run();
        r
    }
}

impl Drop for TempPg {
    fn drop(&mut self) {
        let _ = as_postgres(
            &self.bin,
            "pg_ctl",
            &["-D", self.data.to_str().unwrap_or(""), "-m", "immediate", "-w", "stop"],
        );
    }
}

/// A Redis server of the test's own.
pub struct TempRedis {
    /// Its port.
    pub port: u16,
    child: Option<Child>,
}

impl TempRedis {
    /// Starts redis-server on a free port; `None` when it is not installed (skipped unless required).
    pub fn start() -> Option<TempRedis> {
        if Command::new("redis-server").arg("--version").output().is_err() {
            assert!(!required(), "redis-server is required for fault tests");
            eprintln!("skipped: no redis-server");
            return None;
        }
        let mut r = TempRedis { port: free_port(), child: None };
        r.restart();
        Some(r)
    }

    /// The URL to reach it.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it (again) on the same port and waits until it accepts connections.
    pub fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server");
        self.child = Some(child);
        let t0 = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(t0.elapsed() < Duration::from_secs(10), "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for TempRedis {
    fn drop(&mut self) {
        self.stop();
    }
}
