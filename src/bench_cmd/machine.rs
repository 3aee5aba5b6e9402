//! What the figures were measured on, and how much memory a process holds.

use std::process::Command;

/// The machine line of `BENCHMARKS.md`.
#[derive(Clone, Debug)]
pub struct Machine {
    /// Logical cores the process may use.
    pub cores: usize,
    /// CPU model from /proc/cpuinfo.
    pub cpu: String,
    /// Total memory from /proc/meminfo.
    pub ram: String,
    /// `rustc --version` of the toolchain on PATH.
    pub rustc: String,
    /// `release` or `debug`.
    pub profile: &'static str,
    /// Load average when the run started (other work on the machine skews figures).
    pub load: String,
}

impl Machine {
    /// Reads the machine this process runs on.
    pub fn detect() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map_or_else(|| "unknown CPU".to_owned(), |(_, v)| v.trim().to_owned());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let ram = meminfo
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or_else(
                || "unknown RAM".to_owned(),
                |kb| format!("{:.0} GiB", kb / 1024.0 / 1024.0),
            );
        let rustc = Command::new("rustc")
            .arg("--version")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map_or_else(|| "rustc unknown".to_owned(), |s| s.trim().to_owned());
        let load = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|s| s.split_whitespace().next().map(str::to_owned))
            .unwrap_or_else(|| "?".to_owned());
        Machine {
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            cpu,
            ram,
            rustc,
            profile: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
            load,
        }
    }

    /// One line for the report.
    pub fn line(&self) -> String {
        format!(
            "{} cores ({}), {} RAM, {}, {} build, load average {} at start",
            self.cores, self.cpu, self.ram, self.rustc, self.profile, self.load
        )
    }
}

/// Resident set size of this process now, in bytes (0 where /proc is missing).
pub fn rss_bytes() -> u64 {
    status_kb("VmRSS:") * 1024
}

/// Peak resident set size of this process, in bytes.
pub fn peak_rss_bytes() -> u64 {
    status_kb("VmHWM:") * 1024
}

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}
