//! Figures of a process from `/proc`: resident memory (`VmRSS`, and `RssAnon`, its private part), CPU time
//! used, and finding the process that listens on a TCP port (through `/proc/net/tcp*` and the processes' open sockets). Linux only; elsewhere both answer
//! nothing and the report says so.

use std::fs;

/// `VmRSS` of `pid` in KiB: everything resident, including pages of files the process maps (a server that
/// maps its SQLite file counts the cached part of the file here).
pub fn rss_kib(pid: u32) -> Option<u64> {
    status_field(&fs::read_to_string(format!("/proc/{pid}/status")).ok()?, "VmRSS:")
}

/// `RssAnon` of `pid` in KiB: resident memory that belongs to the process alone (heap, stacks), without
/// mapped files and shared memory.
pub fn anon_kib(pid: u32) -> Option<u64> {
    status_field(&fs::read_to_string(format!("/proc/{pid}/status")).ok()?, "RssAnon:")
}

/// CPU time (user + system, every thread) `pid` has used so far, seconds.
pub fn cpu_secs(pid: u32) -> Option<f64> {
    stat_cpu_ticks(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?).map(|t| t as f64 / USER_HZ)
}

/// Clock ticks per second of the times in `/proc/PID/stat`: the kernel reports them in USER_HZ units,
/// which are 100 on every Linux architecture we run on.
const USER_HZ: f64 = 100.0;

/// `utime + stime` (fields 14 and 15) of a `/proc/PID/stat` line. The command name (field 2) is in
/// parentheses and may hold spaces, so fields are counted after its closing parenthesis.
fn stat_cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

fn status_field(status: &str, name: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(name))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The process listening on TCP `port` (IPv4 or IPv6), if it can be seen.
pub fn listener_pid(port: u16) -> Option<u32> {
    let inodes: Vec<String> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|p| fs::read_to_string(p).ok())
        .flat_map(|table| listening_inodes(&table, port))
        .collect();
    if inodes.is_empty() {
        return None;
    }
    let wanted: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    for entry in fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let Ok(fds) = fs::read_dir(entry.path().join("fd")) else { continue };
        for fd in fds.flatten() {
            if let Ok(target) = fs::read_link(fd.path())
                && wanted.iter().any(|w| target.as_os_str() == w.as_str())
            {
                return Some(pid);
            }
        }
    }
    None
}

/// Inodes of the sockets in LISTEN state (`0A`) on `port` in a `/proc/net/tcp` table.
fn listening_inodes(table: &str, port: u16) -> Vec<String> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let local_port = u16::from_str_radix(cols.get(1)?.rsplit(':').next()?, 16).ok()?;
            let inode = cols.get(9)?;
            (cols.get(3)? == &"0A" && local_port == port).then(|| (*inode).to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_and_tcp_tables() {
        let status = "Name:\tpitchey\nVmPeak:\t 9 kB\nVmRSS:\t   51234 kB\nRssAnon:\t   20480 kB\n";
        assert_eq!(status_field(status, "VmRSS:"), Some(51234));
        assert_eq!(status_field(status, "RssAnon:"), Some(20480));
        assert_eq!(status_field("Name: x\n", "VmRSS:"), None);
        let stat = "4242 (tokio rt) S 1 4242 4242 0 -1 4194560 9000 0 0 0 1234 566 0 0 20 0 9 0 100 0 0";
        assert_eq!(stat_cpu_ticks(stat), Some(1800));
        assert_eq!(stat_cpu_ticks("4242 (x) S 1"), None);
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
           0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000\n\
           1: 0100007F:1F90 0100007F:D2B4 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0000\n\
           2: 0100007F:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4444 1 0000\n";
        assert_eq!(listening_inodes(table, 8080), vec!["4242".to_owned()]);
        assert!(listening_inodes(table, 9999).is_empty());
    }

    #[test]
    fn finds_our_own_listener_and_memory() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        if std::path::Path::new("/proc/net/tcp").exists() {
            assert_eq!(listener_pid(port), Some(std::process::id()));
            let (rss, anon) = (rss_kib(std::process::id()), anon_kib(std::process::id()));
            assert!(rss.is_some_and(|k| k > 0));
            assert!(anon.is_some_and(|a| a > 0 && rss.is_some_and(|r| a <= r)));
            let before = cpu_secs(std::process::id()).expect("cpu time");
            // Spin until the counter moves (a tick is 10 ms), giving up after 5 s of wall time.
            let spin = std::time::Instant::now();
            let mut x = 0u64;
            let mut after = before;
            while after <= before && spin.elapsed() < std::time::Duration::from_secs(5) {
                for _ in 0..1_000_000 {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
                after = cpu_secs(std::process::id()).expect("cpu time");
            }
            assert!(after > before, "spinning shows as CPU time");
        }
    }
}
