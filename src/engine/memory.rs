//! What the process and the machine have in memory (Linux /proc; None elsewhere), so that large
//! builds can report their peak and refuse early when they would not fit.

fn status_kib(file: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(file).ok()?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].trim().trim_end_matches("kB").trim().parse().ok()
}

/// The process's peak resident memory so far, in bytes.
pub fn peak_resident_bytes() -> Option<u64> {
    status_kib("/proc/self/status", "VmHWM:").map(|k| k * 1024)
}

/// The process's resident memory now, in bytes.
pub fn resident_bytes() -> Option<u64> {
    status_kib("/proc/self/status", "VmRSS:").map(|k| k * 1024)
}

/// Memory the machine can give without swapping, in bytes.
pub fn available_bytes() -> Option<u64> {
    status_kib("/proc/meminfo", "MemAvailable:").map(|k| k * 1024)
}

/// Bytes as whole megabytes (10^6), as people read them.
pub fn megabytes(bytes: u64) -> u64 {
    bytes.div_ceil(1_000_000)
}
