//! [`SharedStr`]: a `&'static str` that its owner replaces while any core reads it, never torn.
//!
//! A task's name is written when its slot is reused and read by other cores at any moment (stall
//! reports, fault reports). A `&str` is two words; read while being rewritten, it could pair
//! one name's pointer with another's length. This is a sequence lock around the two words: the
//! writer makes the sequence odd while it writes, and a reader keeps a pair only if the sequence
//! was the same even number before and after reading it. Readers never wait on a writer for
//! long: after a few failed tries they return a placeholder, so a fault report cannot hang.

use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicUsize, Ordering, fence};

/// What [`SharedStr::get`] returns if every try raced a writer.
pub const CONTENDED: &str = "?";

/// How many times a reader tries before giving up with [`CONTENDED`].
const READ_TRIES: usize = 64;

/// A `&'static str` cell with one writer at a time and lock-free readers. Guarantees: [`get`]
/// returns a string that was [`set`] at some point (or the initial one, or [`CONTENDED`]),
/// never a mix of two.
///
/// [`get`]: SharedStr::get
/// [`set`]: SharedStr::set
pub struct SharedStr {
    sequence: AtomicU32,
    pointer: AtomicPtr<u8>,
    length: AtomicUsize,
}

impl SharedStr {
    /// A cell holding `initial`.
    pub const fn new(initial: &'static str) -> Self {
        Self {
            sequence: AtomicU32::new(0),
            pointer: AtomicPtr::new(initial.as_ptr().cast_mut()),
            length: AtomicUsize::new(initial.len()),
        }
    }

    /// Replaces the string. Writers must not race each other (the owner of the cell writes).
    pub fn set(&self, value: &'static str) {
        self.sequence.fetch_add(1, Ordering::Relaxed);
        fence(Ordering::Release);
        self.pointer
            .store(value.as_ptr().cast_mut(), Ordering::Relaxed);
        self.length.store(value.len(), Ordering::Relaxed);
        self.sequence.fetch_add(1, Ordering::Release);
    }

    /// The string, as last set (or [`CONTENDED`] if writers kept rewriting it while it was read).
    pub fn get(&self) -> &'static str {
        for _ in 0..READ_TRIES {
            let before = self.sequence.load(Ordering::Acquire);
            if before % 2 == 1 {
                core::hint::spin_loop();
                continue;
            }
            let pointer = self.pointer.load(Ordering::Relaxed);
            let length = self.length.load(Ordering::Relaxed);
            fence(Ordering::Acquire);
            if self.sequence.load(Ordering::Relaxed) == before {
                // SAFETY: the sequence was even and unchanged around both reads, so they come
                // from one `set` (or `new`): the pointer and length of one `&'static str`.
                return unsafe {
                    core::str::from_utf8_unchecked(core::slice::from_raw_parts(pointer, length))
                };
            }
        }
        CONTENDED
    }
}

// SAFETY: the cell only holds `&'static str`s (shareable) in atomics.
unsafe impl Sync for SharedStr {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_was_set() {
        let name = SharedStr::new("");
        assert_eq!(name.get(), "");
        name.set("sleeper");
        assert_eq!(name.get(), "sleeper");
    }

    /// A reader racing a writer that alternates two names of different lengths sees only
    /// whole names.
    #[test]
    fn readers_never_see_a_torn_name() {
        static NAME: SharedStr = SharedStr::new("a");
        let names = ["a", "a much longer name"];
        std::thread::scope(|scope| {
            scope.spawn(|| {
                for round in 0..200_000 {
                    NAME.set(names[round % 2]);
                }
            });
            for _ in 0..200_000 {
                let seen = NAME.get();
                assert!(names.contains(&seen) || seen == CONTENDED, "torn: {seen:?}");
            }
        });
    }
}
