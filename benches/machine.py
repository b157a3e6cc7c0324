"""The machine a Python benchmark ran on (the Rust benchmarks print the same
from benches/common/machine.rs), so its figures go under the right CPU in
docs/performance.md."""

import os
import platform


def cache_sizes():
    """{'L1d': '48K', ...} from cpu0's sysfs cache directories."""
    base = "/sys/devices/system/cpu/cpu0/cache"
    found = {}
    try:
        entries = sorted(d for d in os.listdir(base) if d.startswith("index"))
    except OSError:
        return found
    for d in entries:
        try:
            level, kind, size = (open(os.path.join(base, d, f)).read().strip() for f in ("level", "type", "size"))
        except OSError:
            continue
        if kind == "Instruction":
            continue
        found[f"L{level}d" if kind == "Data" else f"L{level}"] = size
    return found


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe():
    """One line: CPU model, cores available, cache sizes of cpu0."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    caches = ", ".join(f"{name} {size}" for name, size in cache_sizes().items())
    return f"# CPU: {cpu_model()}, {cores} cores; {caches}"
