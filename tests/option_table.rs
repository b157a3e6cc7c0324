//! Every option id walked through `wlra_option_info`, as a C caller would:
//! the ids run from 1 without gaps and carry the header's names, each
//! default lies in its range, is accepted and reads back, the range's ends
//! are accepted and the values just outside them refused with
//! WLRA_ERROR_INVALID_ARGUMENT, changing nothing.

use std::collections::BTreeMap;
use std::ffi::{c_char, CStr};
use std::path::PathBuf;
use std::ptr;
use wlra::ffi::{
    wlra_create, wlra_destroy, wlra_get_option, wlra_last_error, wlra_model, wlra_option_info,
    wlra_set_option,
};
use wlra::internals::{OptionKind, OPTION_TABLE};
use wlra::vocabulary::*;

#[derive(Debug, PartialEq)]
struct Info {
    name: String,
    min: f64,
    max: f64,
    default: f64,
}

fn option_info(option: i32) -> Result<Info, i32> {
    let mut name: *const c_char = ptr::null();
    let (mut min, mut max, mut default) = (f64::NAN, f64::NAN, f64::NAN);
    // SAFETY: four writable out-pointers.
    let status = unsafe { wlra_option_info(option, &mut name, &mut min, &mut max, &mut default) };
    if status != WLRA_OK {
        return Err(status);
    }
    // SAFETY: on success the name is a static NUL-terminated string.
    let name = unsafe { CStr::from_ptr(name) }.to_str().unwrap().to_owned();
    Ok(Info {
        name,
        min,
        max,
        default,
    })
}

/// Every id the library describes: 1, 2, ... up to the first refused.
fn described_ids() -> Vec<i32> {
    (1..).take_while(|&id| option_info(id).is_ok()).collect()
}

/// WLRA_OPTION_* value -> name, as include/wlra.h defines them.
fn header_options() -> BTreeMap<i32, String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("include/wlra.h");
    let header = std::fs::read_to_string(path).unwrap();
    header
        .lines()
        .filter_map(|line| {
            let mut words = line.strip_prefix("#define ")?.split_whitespace();
            let name = words.next()?.strip_prefix("WLRA_OPTION_")?;
            Some((words.next()?.parse().ok()?, format!("WLRA_OPTION_{name}")))
        })
        .collect()
}

struct Model(*mut wlra_model);

impl Model {
    fn new() -> Model {
        let mut raw = ptr::null_mut();
        // SAFETY: a writable out-pointer.
        assert_eq!(unsafe { wlra_create(2, &mut raw) }, WLRA_OK);
        Model(raw)
    }

    fn set(&self, option: i32, value: f64) -> i32 {
        // SAFETY: a live handle.
        unsafe { wlra_set_option(self.0, option, value) }
    }

    fn get(&self, option: i32) -> f64 {
        let mut value = f64::NAN;
        // SAFETY: a live handle and one writable double.
        assert_eq!(
            unsafe { wlra_get_option(self.0, option, &mut value) },
            WLRA_OK
        );
        value
    }

    fn last_error(&self) -> String {
        // SAFETY: a live handle; the message is valid until the next call.
        let text = unsafe { CStr::from_ptr(wlra_last_error(self.0)) };
        text.to_str().unwrap().to_owned()
    }
}

impl Drop for Model {
    fn drop(&mut self) {
        // SAFETY: a live handle, destroyed once.
        unsafe { wlra_destroy(self.0) };
    }
}

fn is_integer(option: i32) -> bool {
    OPTION_TABLE[(option - 1) as usize].kind != OptionKind::Real
}

/// The nearest values outside [min, max] that set_option must refuse.
fn just_outside(option: i32, info: &Info) -> [f64; 2] {
    if is_integer(option) {
        // Beyond 2^53, max + 1 rounds back to max: the next double instead.
        let above = if info.max + 1.0 > info.max {
            info.max + 1.0
        } else {
            info.max.next_up()
        };
        [info.min - 1.0, above]
    } else {
        // Above DBL_MAX lies +Inf, refused as not finite.
        [info.min.next_down(), info.max.next_up()]
    }
}

#[test]
fn every_option_id_is_described_with_its_header_name() {
    let header = header_options();
    let ids = described_ids();
    assert_eq!(
        ids,
        header.keys().copied().collect::<Vec<_>>(),
        "ids with gaps or missing"
    );
    assert_eq!(ids.len(), OPTION_TABLE.len());
    for id in ids {
        assert_eq!(option_info(id).unwrap().name, header[&id], "option {id}");
    }
}

#[test]
fn every_default_is_in_range_accepted_and_read_back() {
    let model = Model::new();
    for id in described_ids() {
        let info = option_info(id).unwrap();
        assert!(
            info.min <= info.default && info.default <= info.max,
            "{info:?}"
        );
        // A fresh model holds the defaults.
        assert_eq!(model.get(id).to_bits(), info.default.to_bits(), "{info:?}");
        assert_eq!(model.set(id, info.default), WLRA_OK, "{info:?}");
        assert_eq!(model.get(id).to_bits(), info.default.to_bits(), "{info:?}");
    }
}

#[test]
fn the_ends_of_each_range_are_accepted_and_the_values_beyond_refused() {
    let model = Model::new();
    for id in described_ids() {
        let info = option_info(id).unwrap();
        for end in [info.min, info.max] {
            assert_eq!(model.set(id, end), WLRA_OK, "{info:?}: {end}");
            assert_eq!(model.get(id), end, "{info:?}");
        }
        for outside in just_outside(id, &info) {
            assert_eq!(
                model.set(id, outside),
                WLRA_ERROR_INVALID_ARGUMENT,
                "{info:?}: {outside}"
            );
            assert_eq!(
                model.get(id),
                info.max,
                "a refused {outside} changed {}",
                info.name
            );
            let message = model.last_error();
            assert!(message.starts_with(&info.name), "{message}");
        }
        for not_a_number in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(model.set(id, not_a_number), WLRA_ERROR_INVALID_ARGUMENT);
        }
    }
}

#[test]
fn integer_options_refuse_fractions_and_folds_refuse_one() {
    let model = Model::new();
    for id in described_ids().into_iter().filter(|&id| is_integer(id)) {
        let info = option_info(id).unwrap();
        assert_eq!(
            model.set(id, info.min + 0.5),
            WLRA_ERROR_INVALID_ARGUMENT,
            "{info:?}"
        );
    }
    // The one value inside a range that is refused: a single fold would
    // hold out every entry.
    assert_eq!(
        model.set(WLRA_OPTION_FOLDS, 1.0),
        WLRA_ERROR_INVALID_ARGUMENT
    );
}

#[test]
fn unknown_ids_are_invalid_arguments_and_write_nothing() {
    let last = OPTION_TABLE.len() as i32;
    for id in [0, -1, last + 1, 1000, i32::MIN, i32::MAX] {
        let mut name: *const c_char = ptr::null();
        let mut values = [-7.0; 3];
        let [min, max, default] = values.each_mut().map(|v| v as *mut f64);
        // SAFETY: four writable out-pointers.
        let status = unsafe { wlra_option_info(id, &mut name, min, max, default) };
        assert_eq!(status, WLRA_ERROR_INVALID_ARGUMENT, "option {id}");
        assert!(
            name.is_null() && values == [-7.0; 3],
            "option {id} wrote its outputs"
        );
        // SAFETY: NULL asks for the calling thread's last failure.
        let message = unsafe { CStr::from_ptr(wlra_last_error(ptr::null())) };
        let expected = format!("option = {id} is not a WLRA_OPTION_* value");
        assert_eq!(message.to_str().unwrap(), expected);
    }
}

#[test]
fn null_out_pointers_are_not_wanted() {
    let mut max = f64::NAN;
    let null: *mut f64 = ptr::null_mut();
    // SAFETY: NULL or writable out-pointers.
    let status =
        unsafe { wlra_option_info(WLRA_OPTION_THREADS, null.cast(), null, &mut max, null) };
    assert_eq!((status, max), (WLRA_OK, 4096.0));
    // SAFETY: all NULL: nothing is written.
    let status = unsafe { wlra_option_info(WLRA_OPTION_SEED, null.cast(), null, null, null) };
    assert_eq!(status, WLRA_OK);
}
