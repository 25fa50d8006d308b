//! Global flags, progress display and error formatting.

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};

/// Flags every command takes.
#[derive(clap::Args, Debug, Clone)]
pub struct GlobalArgs {
    /// No progress bars or informational messages (errors still go to stderr).
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Refuse to allocate more than this for data sized by input files, e.g. `8GiB`, `512MiB`.
    #[arg(long, global = true, default_value = "8GiB", value_name = "SIZE")]
    pub memory_cap: String,
}

impl GlobalArgs {
    /// Applies process-wide settings (memory cap).
    pub fn apply(&self) -> anyhow::Result<()> {
        hounsfield_core::set_memory_cap(parse_size(&self.memory_cap)?);
        Ok(())
    }

    /// A spinner with a message, or a hidden one when quiet or not on a terminal.
    pub fn spinner(&self, msg: impl Into<String>) -> ProgressBar {
        let pb = if self.quiet || !std::io::stderr().is_terminal() {
            ProgressBar::hidden()
        } else {
            ProgressBar::new_spinner()
        };
        pb.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        pb.set_message(msg.into());
        pb.enable_steady_tick(Duration::from_millis(120));
        pb
    }

    /// A bar over `n` solver iterations showing the residual (set as the bar's prefix), or a
    /// hidden one when quiet or not on a terminal.
    pub fn iteration_bar(&self, n: usize, what: &str) -> ProgressBar {
        let pb = if self.quiet || !std::io::stderr().is_terminal() {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(n as u64)
        };
        pb.set_style(
            ProgressStyle::with_template(
                "{msg} [{bar:30}] {pos}/{len} {per_sec} (eta {eta}) residual {prefix}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        pb.set_message(what.to_owned());
        pb
    }

    /// Prints an informational line to stderr unless quiet.
    pub fn note(&self, msg: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", msg.as_ref());
        }
    }
}

/// Parses `8GiB`, `512MiB`, `100MB`, `1e9` (bytes).
pub fn parse_size(s: &str) -> anyhow::Result<u64> {
    let t = s.trim();
    // The unit is the trailing run of letters, so exponents like `1e9` stay in the number.
    let split = t.trim_end_matches(|c: char| c.is_ascii_alphabetic()).len();
    let (num, unit) = t.split_at(split);
    let n: f64 = num.trim().parse().with_context(|| format!("invalid size `{s}`"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" => 1e12,
        "tib" => 1024f64.powi(4),
        other => bail!("invalid size unit `{other}` in `{s}` (use B, KiB, MiB, GiB, TiB)"),
    };
    let bytes = n * mult;
    if !bytes.is_finite() || bytes < 1.0 {
        bail!("invalid size `{s}`");
    }
    Ok(bytes as u64)
}

/// The error and its causes on one line, each cause once (typed errors often repeat their
/// source's text).
pub fn one_line(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let s = cause.to_string();
        if parts.last().is_some_and(|p| p.contains(&s)) {
            continue;
        }
        parts.push(s);
    }
    parts.join(": ").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("8GiB").unwrap(), 8 << 30);
        assert_eq!(parse_size("512 MiB").unwrap(), 512 << 20);
        assert_eq!(parse_size("1e6").unwrap(), 1_000_000);
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5 parsecs").is_err());
        assert!(parse_size("-1GB").is_err());
    }
}
