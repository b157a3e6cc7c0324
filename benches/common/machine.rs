//! The machine a benchmark ran on, printed first by every benchmark so its
//! figures can be filed under the right CPU (docs/performance.md).
#![allow(dead_code)]

use std::fs;

/// CPU model, cores available to this process, and cache sizes of cpu0
/// (with how many CPUs share each), e.g.
/// `# CPU: Intel(R) Xeon(R) Processor, 2 cores; L1d 48K, L2 2048K, L3 491520K (shared by 0-1)`.
pub fn describe() -> String {
    let model = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut caches = Vec::new();
    for index in 0..8 {
        let dir = format!("/sys/devices/system/cpu/cpu0/cache/index{index}");
        let read = |f: &str| fs::read_to_string(format!("{dir}/{f}")).map(|s| s.trim().to_string());
        let (Ok(level), Ok(kind), Ok(size)) = (read("level"), read("type"), read("size")) else {
            continue;
        };
        if kind == "Instruction" {
            continue;
        }
        let name = if kind == "Data" {
            format!("L{level}d")
        } else {
            format!("L{level}")
        };
        let shared = read("shared_cpu_list").unwrap_or_default();
        caches.push(format!("{name} {size} (shared by {shared})"));
    }
    format!("# CPU: {model}, {cores} cores; {}", caches.join(", "))
}
