//! Fit options, keyed by the C ABI's integer ids (like zstd's parameters), so
//! new options never change a struct layout. Every value travels as f64.

use crate::error::{invalid, Result};
use crate::held_out::Folds;
use crate::offsets::Offsets;
use crate::vocabulary::choices::*;
use crate::vocabulary::option_table::spec_of;
use crate::vocabulary::options::*;

/// Which half-step solver runs (values as in the C ABI).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SolverChoice {
    Auto = WLRA_SOLVER_AUTO as isize,
    Exact = WLRA_SOLVER_EXACT as isize,
    Sketch = WLRA_SOLVER_SKETCH as isize,
    SharedPcg = WLRA_SOLVER_SHARED_PCG as isize,
}

/// Which outer method runs (values as in the C ABI).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MethodChoice {
    Auto = WLRA_METHOD_AUTO as isize,
    Alternating = WLRA_METHOD_ALTERNATING as isize,
    VarPro = WLRA_METHOD_VARPRO as isize,
    Accelerated = WLRA_METHOD_ACCELERATED as isize,
}

/// How the factors start (values as in the C ABI).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitChoice {
    Svd = WLRA_INIT_SVD as isize,
    Random = WLRA_INIT_RANDOM as isize,
    Given = WLRA_INIT_GIVEN as isize,
    /// Resolved by the model before a fit: into `Given` with the last fit's
    /// factors, or into `Svd` when there is none of this shape.
    Warm = WLRA_INIT_WARM as isize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub max_iterations: usize,
    pub tolerance: f64,
    pub seed: u64,
    pub solver: SolverChoice,
    pub init: InitChoice,
    pub ridge: f64,
    pub threads: usize,
    pub sketch_size_factor: f64,
    pub regression_tolerance: f64,
    pub clip: f64,
    pub adaptive_accuracy: bool,
    pub overrelaxation: f64,
    pub method: MethodChoice,
    /// None: AUTO (see WLRA_OPTION_RESTARTS).
    pub restarts: Option<usize>,
    /// Whether the caller set WLRA_OPTION_MAX_ITERATIONS: VarPro's own
    /// default budget applies only when not.
    pub max_iterations_given: bool,
    /// WLRA_RIDGE_WEIGHT_SUMS: each row's and column's ridge times its
    /// weight sum.
    pub ridge_by_weight_sums: bool,
    /// WLRA_OPTION_FOLDS (0: none).
    pub folds: usize,
    pub held_out_fold: usize,
    /// WLRA_OPTION_OFFSETS.
    pub offsets: Offsets,
    /// WLRA_OPTION_MISSING_NAN: NaN in M is a missing entry (weight 0).
    pub missing_nan: bool,
    /// WLRA_OPTION_MIXED_PRECISION: loose inner solves may read float32
    /// rows of the fixed factor (`solver::half_step::NarrowRows`).
    pub mixed_precision: bool,
    /// Testing only (`Model::force_matrix_free_varpro`, not in the C
    /// ABI): VarPro solves its steps matrix-free even where the dense
    /// system would fit, so tests can compare the two paths.
    #[doc(hidden)]
    pub varpro_matrix_free: bool,
    /// Testing only (`Model::force_gauss_newton_varpro`, not in the C
    /// ABI): VarPro keeps Gauss-Newton's model throughout, never Newton's
    /// (`outer::varpro::newton`), so tests can compare the two.
    #[doc(hidden)]
    pub varpro_gauss_newton_only: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_iterations: 100,
            tolerance: 1e-8,
            seed: 0,
            solver: SolverChoice::Auto,
            init: InitChoice::Svd,
            ridge: 0.0,
            threads: 0,
            sketch_size_factor: 4.0,
            regression_tolerance: 1e-10,
            clip: 0.0,
            adaptive_accuracy: true,
            overrelaxation: 1.0,
            method: MethodChoice::Auto,
            restarts: None,
            max_iterations_given: false,
            ridge_by_weight_sums: false,
            folds: 0,
            held_out_fold: 0,
            offsets: Offsets::NONE,
            missing_nan: false,
            mixed_precision: true,
            varpro_matrix_free: false,
            varpro_gauss_newton_only: false,
        }
    }
}

impl Options {
    /// Set one option; on error nothing changes. What each option accepts
    /// is its row of `vocabulary::option_table`.
    pub fn set(&mut self, option: i32, value: f64) -> Result<()> {
        let value = spec_of(option)?.check(value)?;
        if option == WLRA_OPTION_FOLDS && value == 1.0 {
            return Err(invalid(
                "WLRA_OPTION_FOLDS = 1 would hold out every entry: use 0 (none) or at least 2",
            ));
        }
        self.store(option, value);
        Ok(())
    }

    /// Store a value its table row accepted: integer kinds hold whole
    /// numbers up to 2^53, so the casts are exact.
    fn store(&mut self, option: i32, value: f64) {
        match option {
            WLRA_OPTION_MAX_ITERATIONS => {
                self.max_iterations = value as usize;
                self.max_iterations_given = true;
            }
            WLRA_OPTION_TOLERANCE => self.tolerance = value,
            WLRA_OPTION_SEED => self.seed = value as u64,
            WLRA_OPTION_SOLVER => {
                self.solver = match value as i32 {
                    WLRA_SOLVER_AUTO => SolverChoice::Auto,
                    WLRA_SOLVER_EXACT => SolverChoice::Exact,
                    WLRA_SOLVER_SKETCH => SolverChoice::Sketch,
                    _ => SolverChoice::SharedPcg,
                }
            }
            WLRA_OPTION_INIT => {
                self.init = match value as i32 {
                    WLRA_INIT_SVD => InitChoice::Svd,
                    WLRA_INIT_RANDOM => InitChoice::Random,
                    WLRA_INIT_GIVEN => InitChoice::Given,
                    _ => InitChoice::Warm,
                }
            }
            WLRA_OPTION_RIDGE => self.ridge = value,
            WLRA_OPTION_THREADS => self.threads = value as usize,
            WLRA_OPTION_SKETCH_SIZE_FACTOR => self.sketch_size_factor = value,
            WLRA_OPTION_REGRESSION_TOLERANCE => self.regression_tolerance = value,
            WLRA_OPTION_CLIP => self.clip = value,
            WLRA_OPTION_ADAPTIVE_ACCURACY => self.adaptive_accuracy = value == 1.0,
            WLRA_OPTION_OVERRELAXATION => self.overrelaxation = value,
            WLRA_OPTION_METHOD => {
                self.method = match value as i32 {
                    WLRA_METHOD_AUTO => MethodChoice::Auto,
                    WLRA_METHOD_ALTERNATING => MethodChoice::Alternating,
                    WLRA_METHOD_VARPRO => MethodChoice::VarPro,
                    _ => MethodChoice::Accelerated,
                }
            }
            // -1: AUTO.
            WLRA_OPTION_RESTARTS => self.restarts = (value >= 0.0).then_some(value as usize),
            WLRA_OPTION_RIDGE_SCALING => {
                self.ridge_by_weight_sums = value as i32 == WLRA_RIDGE_WEIGHT_SUMS
            }
            WLRA_OPTION_OFFSETS => self.offsets = Offsets::from_c(value as i32),
            WLRA_OPTION_FOLDS => self.folds = value as usize,
            WLRA_OPTION_HELD_OUT_FOLD => self.held_out_fold = value as usize,
            WLRA_OPTION_MISSING_NAN => self.missing_nan = value == 1.0,
            WLRA_OPTION_MIXED_PRECISION => self.mixed_precision = value == 1.0,
            _ => unreachable!("option {option} has a table row but no field"),
        }
    }

    /// The fold a fit holds out, if any; the fold must exist.
    pub(crate) fn folds(&self) -> Result<Option<Folds>> {
        if self.folds == 0 {
            return Ok(None);
        }
        if self.held_out_fold >= self.folds {
            return Err(invalid(format!(
                "WLRA_OPTION_HELD_OUT_FOLD = {} must be below WLRA_OPTION_FOLDS = {}",
                self.held_out_fold, self.folds
            )));
        }
        Ok(Some(Folds {
            count: self.folds,
            held_out: self.held_out_fold,
            seed: self.seed,
        }))
    }

    pub fn get(&self, option: i32) -> Result<f64> {
        spec_of(option)?;
        Ok(match option {
            WLRA_OPTION_MAX_ITERATIONS => self.max_iterations as f64,
            WLRA_OPTION_TOLERANCE => self.tolerance,
            WLRA_OPTION_SEED => self.seed as f64,
            WLRA_OPTION_SOLVER => self.solver as i32 as f64,
            WLRA_OPTION_INIT => self.init as i32 as f64,
            WLRA_OPTION_RIDGE => self.ridge,
            WLRA_OPTION_THREADS => self.threads as f64,
            WLRA_OPTION_SKETCH_SIZE_FACTOR => self.sketch_size_factor,
            WLRA_OPTION_REGRESSION_TOLERANCE => self.regression_tolerance,
            WLRA_OPTION_CLIP => self.clip,
            WLRA_OPTION_ADAPTIVE_ACCURACY => f64::from(u8::from(self.adaptive_accuracy)),
            WLRA_OPTION_OVERRELAXATION => self.overrelaxation,
            WLRA_OPTION_METHOD => self.method as i32 as f64,
            WLRA_OPTION_RESTARTS => self.restarts.map_or(-1.0, |r| r as f64),
            WLRA_OPTION_RIDGE_SCALING => f64::from(u8::from(self.ridge_by_weight_sums)),
            WLRA_OPTION_FOLDS => self.folds as f64,
            WLRA_OPTION_HELD_OUT_FOLD => self.held_out_fold as f64,
            WLRA_OPTION_OFFSETS => f64::from(self.offsets.c_value()),
            WLRA_OPTION_MISSING_NAN => f64::from(u8::from(self.missing_nan)),
            WLRA_OPTION_MIXED_PRECISION => f64::from(u8::from(self.mixed_precision)),
            _ => unreachable!("option {option} has a table row but no field"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocabulary::option_table::OPTIONS;

    #[test]
    fn defaults_are_the_tables() {
        let options = Options::default();
        for spec in &OPTIONS {
            assert_eq!(options.get(spec.id), Ok(spec.default), "{}", spec.name());
        }
    }

    #[test]
    fn setting_every_default_changes_nothing_but_the_given_flag() {
        let mut options = Options::default();
        for spec in &OPTIONS {
            options.set(spec.id, spec.default).unwrap();
        }
        options.max_iterations_given = false;
        assert_eq!(options, Options::default());
    }
}
