//! Turning (pointer, shape, leading dimension, layout) into checked faer
//! views. Every check on caller memory happens here, once; past this the
//! library works on safe views only.

use crate::error::{invalid, Error, Result};
use faer::{MatMut, MatRef};

// Re-exported where they lived before `crate::vocabulary`.
pub use crate::vocabulary::layout::{WLRA_COL_MAJOR, WLRA_ROW_MAJOR};

/// A matrix argument as the caller described it.
pub struct MatrixArg<'n> {
    pub name: &'n str,
    pub ld_name: &'n str,
    pub rows: usize,
    pub cols: usize,
    pub ld: usize,
    pub layout: i32,
}

pub fn check_layout(layout: i32) -> Result<()> {
    if layout == WLRA_ROW_MAJOR || layout == WLRA_COL_MAJOR {
        Ok(())
    } else {
        Err(invalid(format!(
            "layout = {layout} is neither WLRA_ROW_MAJOR (101) nor WLRA_COL_MAJOR (102)"
        )))
    }
}

pub fn non_null<T>(ptr: *const T, name: &str) -> Result<()> {
    if ptr.is_null() {
        Err(Error::NullPointer(format!("{name} is NULL")))
    } else {
        Ok(())
    }
}

/// A caller's array of `len` elements (NULL allowed only when empty).
///
/// # Safety
/// A non-NULL `ptr` points to `len` readable elements for the lifetime.
pub unsafe fn array<'a, T>(ptr: *const T, len: usize, name: &str) -> Result<&'a [T]> {
    if len == 0 {
        return Ok(&[]);
    }
    non_null(ptr, name)?;
    if len
        .checked_mul(std::mem::size_of::<T>())
        .is_none_or(|b| b > isize::MAX as usize)
    {
        return Err(invalid(format!(
            "{name} ({len} elements) is too large to address"
        )));
    }
    // SAFETY: non-NULL, and the caller's contract covers `len` elements.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A caller's writable array of `len` elements (NULL allowed only when
/// empty).
///
/// # Safety
/// A non-NULL `ptr` points to `len` writable elements for the lifetime,
/// not aliased by any other reference.
pub unsafe fn array_mut<'a, T>(ptr: *mut T, len: usize, name: &str) -> Result<&'a mut [T]> {
    if len == 0 {
        return Ok(&mut []);
    }
    // SAFETY: the same contract, read-only: checks NULL and the size.
    unsafe { array(ptr.cast_const(), len, name) }?;
    // SAFETY: non-NULL, addressable, and writable by the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr, len) })
}

impl MatrixArg<'_> {
    /// Elements spanned by the matrix in memory; checks ld and overflow.
    fn span(&self) -> Result<usize> {
        check_layout(self.layout)?;
        let (outer, inner, inner_name, layout_name) = if self.layout == WLRA_ROW_MAJOR {
            (self.rows, self.cols, "n_cols", "WLRA_ROW_MAJOR")
        } else {
            (self.cols, self.rows, "n_rows", "WLRA_COL_MAJOR")
        };
        if self.ld < inner.max(1) {
            return Err(invalid(format!(
                "{} = {} is smaller than {} = {} for {}",
                self.ld_name, self.ld, inner_name, inner, layout_name
            )));
        }
        let span = outer
            .checked_sub(1)
            .and_then(|o| o.checked_mul(self.ld))
            .and_then(|s| s.checked_add(inner))
            .filter(|&s| s.checked_mul(8).is_some_and(|b| b <= isize::MAX as usize));
        span.ok_or_else(|| {
            invalid(format!(
                "{} ({} x {}, {} = {}) is too large to address",
                self.name, self.rows, self.cols, self.ld_name, self.ld
            ))
        })
    }

    /// # Safety
    /// `ptr` must point to a matrix laid out as described, readable for the
    /// returned lifetime.
    pub unsafe fn view<'a>(&self, ptr: *const f64) -> Result<MatRef<'a, f64>> {
        non_null(ptr, self.name)?;
        let span = self.span()?;
        // SAFETY: non-NULL, and the caller's contract covers `span` elements
        // (span is the last element's offset + 1, computed without overflow).
        let slice = unsafe { std::slice::from_raw_parts(ptr, span) };
        Ok(if self.layout == WLRA_ROW_MAJOR {
            MatRef::from_row_major_slice_with_stride(slice, self.rows, self.cols, self.ld)
        } else {
            MatRef::from_column_major_slice_with_stride(slice, self.rows, self.cols, self.ld)
        })
    }

    /// # Safety
    /// As `view`, and writable with no other live reference to it.
    pub unsafe fn view_mut<'a>(&self, ptr: *mut f64) -> Result<MatMut<'a, f64>> {
        non_null(ptr, self.name)?;
        let span = self.span()?;
        // SAFETY: as in `view`; the caller owns the buffer exclusively.
        let slice = unsafe { std::slice::from_raw_parts_mut(ptr, span) };
        Ok(if self.layout == WLRA_ROW_MAJOR {
            // A row-major matrix is the transpose of a column-major one.
            // (faer 0.24.4's from_row_major_slice_with_stride_mut builds a
            // column-major view; the C API tests catch it.)
            MatMut::from_column_major_slice_with_stride_mut(slice, self.cols, self.rows, self.ld)
                .transpose_mut()
        } else {
            MatMut::from_column_major_slice_with_stride_mut(slice, self.rows, self.cols, self.ld)
        })
    }
}
