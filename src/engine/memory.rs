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

/// Has glibc's malloc keep freed memory for reuse instead of returning it to the kernel. A
/// training step allocates and frees tens of large tensors (conv1's output alone is 82 MB at batch
/// 64); by default each block over 32 MB, or each in a thread's own arena over 64 MB, is a fresh
/// `mmap` whose every page faults in zeroed, which cost a quarter of an epoch's time on 2 cores.
/// One arena served from the heap, never trimmed below 1 GB of free top, turns those into reuse.
/// The price: the process keeps its peak heap resident. Call once, before other threads start.
pub fn keep_freed_tensor_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes the allocator's tuning parameters; called before any other
    // thread exists, so no allocation runs concurrently with the change.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
    }
}

/// Bytes as whole megabytes (10^6), as people read them.
pub fn megabytes(bytes: u64) -> u64 {
    bytes.div_ceil(1_000_000)
}
