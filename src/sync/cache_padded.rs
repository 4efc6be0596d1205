//! [`CachePadded`]: one value alone on its cache lines, for per-core records that their own
//! core writes and others read, so that no two cores ever write to a shared line.

use core::ops::{Deref, DerefMut};

/// `T` aligned (and so padded) to 128 bytes: two 64-byte lines, the line size of the Cortex-A
/// cores coresched runs on, because cores prefetch lines in adjacent pairs and a neighbour in
/// the pair still causes false sharing. The value sits at offset 0.
#[repr(C, align(128))]
#[derive(Debug, Default)]
pub struct CachePadded<T>(T);

impl<T> CachePadded<T> {
    /// Pads `value`.
    pub const fn new(value: T) -> Self {
        Self(value)
    }
}

impl<T> Deref for CachePadded<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for CachePadded<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

#[cfg(test)]
mod tests {
    use super::CachePadded;

    #[test]
    fn neighbours_never_share_a_line_pair() {
        let pair = [CachePadded::new(1u8), CachePadded::new(2u8)];
        let first = core::ptr::from_ref(&*pair[0]) as usize;
        let second = core::ptr::from_ref(&*pair[1]) as usize;
        assert_eq!(first % 128, 0);
        assert_eq!(second - first, 128);
        assert_eq!((*pair[0], *pair[1]), (1, 2));
    }
}
