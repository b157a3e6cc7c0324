//! wlra_get_info's items: what the last fit (or the loaded factors)
//! reports, each item's number from `vocabulary::info`.

use super::Model;
use crate::canonical::rank_deficiency;
use crate::error::{invalid, Error, Result};
use crate::vocabulary::info::*;

impl Model {
    pub fn info(&self, item: i32) -> Result<f64> {
        let known = (WLRA_INFO_ITERATIONS..=WLRA_INFO_NARROW_HALF_STEPS).contains(&item);
        if !known {
            return Err(invalid(format!("item = {item} is not a WLRA_INFO_* value")));
        }
        let f = self.fitted()?;
        if item == WLRA_INFO_DEGENERATE {
            // A distributed fit counted it on the whole factors.
            if let Some(whole) = f.whole_u {
                return Ok(whole.rank_deficiency as f64);
            }
            let (u, v) = self.factors()?;
            return Ok(rank_deficiency(u, v)? as f64);
        }
        let ran = [
            WLRA_INFO_OBJECTIVE,
            WLRA_INFO_SOLVER_USED,
            WLRA_INFO_ZERO_WEIGHT_LINES,
            WLRA_INFO_NARROW_HALF_STEPS,
        ];
        if f.loaded && (ran.contains(&item) || item == WLRA_INFO_METHOD_USED) {
            let text =
                format!("item = {item}: the factors were loaded (wlra_set_fitted), no fit ran");
            return Err(invalid(text));
        }
        if matches!(item, WLRA_INFO_HELD_OUT_RMSE | WLRA_INFO_HELD_OUT_ENTRIES) {
            let held_out = f.held_out.ok_or_else(|| {
                invalid("the last fit held nothing out: set WLRA_OPTION_FOLDS and _HELD_OUT_FOLD")
            })?;
            return Ok(if item == WLRA_INFO_HELD_OUT_RMSE {
                held_out.rmse
            } else {
                held_out.entries as f64
            });
        }
        Ok(match item {
            WLRA_INFO_ITERATIONS => f.iterations as f64,
            // The scaled objective times its power of two can exceed the
            // largest double (W and M both near it): no number is right.
            WLRA_INFO_OBJECTIVE if !f.objective.is_finite() => {
                return Err(Error::Numerical(
                    "the objective exceeds the largest double (about 1.8e308); \
                     the factors are valid"
                        .into(),
                ))
            }
            WLRA_INFO_OBJECTIVE => f.objective,
            WLRA_INFO_CONVERGED => f64::from(u8::from(f.converged)),
            WLRA_INFO_ELAPSED_SECONDS => f.elapsed_seconds,
            WLRA_INFO_INNER_ITERATIONS => f.mean_inner_iterations,
            WLRA_INFO_METHOD_USED => f64::from(f.method_used.c_value()),
            WLRA_INFO_STARTS => f.starts as f64,
            WLRA_INFO_STARTS_AT_BEST => f.starts_at_best as f64,
            WLRA_INFO_ZERO_WEIGHT_LINES => f.zero_weight_lines.unwrap_or(0) as f64,
            WLRA_INFO_NARROW_HALF_STEPS => f.narrow_half_steps as f64,
            _ => f64::from(f.solver_used.c_value()),
        })
    }
}
