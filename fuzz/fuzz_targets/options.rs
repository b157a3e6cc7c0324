//! wlra_set_option / wlra_get_option with every option id (and invalid
//! ones: 0, one past the last, negative, i32 extremes, any) and every kind
//! of value (NaN, Inf, fractions for integer options, each option's range
//! ends and the values just beyond them, from wlra_option_info), on a
//! model and on NULL. A refused set changes no option; an accepted one
//! changes only its own, and get returns the value set. Then a small fit
//! with whatever options were accepted (counts bounded to keep it fast).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::ptr;
use wlra::ffi::*;
use wlra::vocabulary::*;
use wlra_fuzz::*;

fn option_id(b: &mut Bytes<'_>) -> i32 {
    match b.below(8) {
        0 => {
            let past = option_count() as i32 + 1;
            [0, past, past + 1, -1, i32::MIN, i32::MAX, 1000][b.below(7)]
        }
        1 => b.u64() as i32,
        _ => 1 + b.below(option_count()) as i32,
    }
}

fn option_value(b: &mut Bytes<'_>) -> f64 {
    match b.below(6) {
        0 => b.special(),
        1 => Bytes::note(f64::from_bits(b.u64())),
        2 => edge_value(b),
        3 => [0.999, 1.5, 1.0 - f64::EPSILON][b.below(3)],
        _ => b.below(6) as f64 - 1.0,
    }
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes::new(data);
    let Some(model) = Model::create(1 + b.below(3)) else {
        return;
    };
    for _ in 0..b.below(24) {
        let (option, value) = (option_id(&mut b), option_value(&mut b));
        if b.chance(16) {
            // SAFETY: NULL is refused.
            let status = unsafe { wlra_set_option(ptr::null_mut(), option, value) };
            check_status("wlra_set_option(NULL)", status);
            if status != WLRA_ERROR_NULL_POINTER {
                violated!("set_option on NULL returned {status}");
            }
            continue;
        }
        let before = model.options();
        let status = model.set_option(option, value);
        let after = model.options();
        if status != WLRA_OK {
            if status != WLRA_ERROR_INVALID_ARGUMENT {
                violated!("set_option({option}, {value}) returned {status}");
            }
            if before != after {
                violated!("a refused set_option({option}, {value}) changed the options");
            }
        } else {
            if !option_ids().contains(&option) {
                violated!("set_option accepted option {option}");
            }
            let i = (option - 1) as usize;
            if f64::from_bits(after[i]) != value {
                violated!(
                    "set_option({option}, {value}) then get gives {}",
                    f64::from_bits(after[i])
                );
            }
            for (j, (x, y)) in before.iter().zip(&after).enumerate() {
                if j != i && x != y {
                    violated!("set_option({option}) changed option {}", j + 1);
                }
            }
        }
        // get_option on this id: a failure writes nothing.
        let mut out = -12345.0;
        // SAFETY: a live handle and one writable double.
        let status = unsafe { wlra_get_option(model.raw, option, &mut out) };
        check_status("wlra_get_option", status);
        if (status == WLRA_OK) != option_ids().contains(&option) {
            violated!("get_option({option}) returned {status}");
        }
        if status != WLRA_OK && out != -12345.0 {
            violated!("a failed get_option wrote {out}");
        }
        // SAFETY: NULL out_value is refused.
        let status = unsafe { wlra_get_option(model.raw, option, ptr::null_mut()) };
        check_status("wlra_get_option(NULL)", status);
    }
    // Whatever was accepted must fit (iteration, thread, restart and sketch
    // counts bounded first, so the fit stays fast).
    for option in [
        WLRA_OPTION_MAX_ITERATIONS,
        WLRA_OPTION_THREADS,
        WLRA_OPTION_RESTARTS,
        WLRA_OPTION_SKETCH_SIZE_FACTOR,
    ] {
        let value = fit_safe(option, &mut b);
        model.set_option(option, value);
    }
    model.set_option(WLRA_OPTION_THREADS, 1.0);
    let m: Vec<f64> = (0..12).map(|i| ((i * 7) % 5) as f64 - 2.0).collect();
    let before = model.results(1, 1);
    // SAFETY: a 4 x 3 row-major matrix with ld = 3.
    let status = unsafe {
        wlra_fit(
            model.raw,
            4,
            3,
            m.as_ptr(),
            3,
            ptr::null(),
            0,
            WLRA_ROW_MAJOR,
        )
    };
    check_status("wlra_fit", status);
    check_fit_outcome("wlra_fit", status, &before, &model.results(4, 3));
});
