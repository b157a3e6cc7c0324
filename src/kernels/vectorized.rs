//! Hand-written hot loops compiled for AVX2 where the CPU has it.
//!
//! The crate is built for baseline x86-64 (SSE2), so loops outside faer
//! run two lanes wide and spill accumulators beyond 16 registers. The same
//! code compiled with AVX2 runs four lanes wide with 16 wider registers.
//! FMA stays off: a fused multiply-add rounds once where mul then add
//! rounds twice, and results must not depend on the CPU. Without it (and
//! without reassociation, which the compiler never does for floats) each
//! lane performs the same operations in the same order: the same bits.

use std::sync::atomic::{AtomicBool, Ordering};

/// Testing only: run every kernel as compiled for the baseline, so a test
/// can compare the two builds' bits (tests/vectorized.rs).
static BASELINE_ONLY: AtomicBool = AtomicBool::new(false);

pub fn set_baseline_only(on: bool) {
    BASELINE_ONLY.store(on, Ordering::SeqCst);
}

/// `kernel()`, compiled for AVX2 when the CPU has it. The kernel must be
/// inlined into this call to be compiled so (`#[inline(always)]` on what
/// it calls).
#[inline(always)]
pub fn vectorized<R>(kernel: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        let baseline = BASELINE_ONLY.load(Ordering::Relaxed);
        if !baseline && std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            return unsafe { with_avx2(kernel) };
        }
    }
    kernel()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn with_avx2<R>(kernel: impl FnOnce() -> R) -> R {
    kernel()
}
