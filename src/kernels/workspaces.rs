//! Workspaces kept across half-steps: a solver's per-thread scratch is
//! lent out for one parallel loop and returned when the loop's task ends,
//! so after the first half-step of each side a fit allocates no scratch
//! (no page faults, no memsets of fresh buffers; issue 29). Each workspace
//! is kept with the key of the shapes it was made for (the two sides of an
//! alternation differ), and lent only for that key.

use crate::error::Result;
use std::ops::{Deref, DerefMut};
use std::sync::Mutex;

/// Spare workspaces of type W, each with the key it was made for.
pub struct Workspaces<K, W> {
    spare: Mutex<Vec<(K, W)>>,
}

impl<K, W> Default for Workspaces<K, W> {
    fn default() -> Self {
        Workspaces {
            spare: Mutex::new(Vec::new()),
        }
    }
}

impl<K: PartialEq + Copy, W> Workspaces<K, W> {
    /// Make spares for `key` until there are `count`: the most a parallel
    /// loop over `count` runs can borrow at once. Called before the loop,
    /// so however the runs fall on the threads in later half-steps, none
    /// has to make a workspace.
    pub fn stock(&self, key: K, count: usize, make: impl Fn() -> Result<W>) -> Result<()> {
        let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
        let have = spare.iter().filter(|(k, _)| *k == key).count();
        for _ in have..count {
            spare.push((key, make()?));
        }
        Ok(())
    }

    /// A workspace for `key`: a spare one made for it, else `make()`'s.
    /// It comes back here when the returned loan is dropped.
    pub fn lend(&self, key: K, make: impl FnOnce() -> Result<W>) -> Result<Lent<'_, K, W>> {
        let spare = {
            let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
            let found = spare.iter().rposition(|(k, _)| *k == key);
            found.map(|i| spare.swap_remove(i))
        };
        let item = match spare {
            Some(item) => item,
            None => (key, make()?),
        };
        Ok(Lent {
            item: Some(item),
            home: self,
        })
    }
}

/// A workspace on loan from `Workspaces`, returned when dropped.
pub struct Lent<'p, K, W> {
    item: Option<(K, W)>,
    home: &'p Workspaces<K, W>,
}

impl<K, W> Deref for Lent<'_, K, W> {
    type Target = W;
    fn deref(&self) -> &W {
        &self.item.as_ref().expect("lent until dropped").1
    }
}

impl<K, W> DerefMut for Lent<'_, K, W> {
    fn deref_mut(&mut self) -> &mut W {
        &mut self.item.as_mut().expect("lent until dropped").1
    }
}

impl<K, W> Drop for Lent<'_, K, W> {
    fn drop(&mut self) {
        if let Some(item) = self.item.take() {
            let mut spare = self.home.spare.lock().unwrap_or_else(|e| e.into_inner());
            spare.push(item);
        }
    }
}
