//! Load-balancing decisions as pure functions: whom a thief asks for work, how much it takes,
//! and when a core that made work runnable should wake an idle core.
//!
//! The rules follow the Go runtime's scheduler (`findRunnable`, `runqsteal`, `wakep`). Nothing
//! here touches a lock or a queue, so every rule is tested on the host in isolation.

use crate::random::XorShift64;

/// The order in which a thief core asks the other cores for work.
///
/// Yields every core in `0..core_count` except the thief exactly once, then stops. The walk
/// starts at a random core and advances by a random stride coprime to `core_count`, so it is a
/// full cycle of the cores, and different thieves (different seeds) spread over different
/// victims instead of all hammering core 0 first (Go's `randomOrder`). A thief id outside
/// `0..core_count` simply excludes no core.
#[derive(Clone, Debug)]
pub struct VictimOrder {
    core_count: usize,
    thief: usize,
    next_core: usize,
    stride: usize,
    cores_left: usize,
}

impl VictimOrder {
    /// Builds the walk over `core_count` cores for core `thief`, drawing the start and the
    /// stride from `seed` (pass a fresh value from the thief's [`XorShift64`] each time).
    ///
    /// The stride is the first number coprime to `core_count` at or after a random point in
    /// `1..core_count` (wrapping to 1, which is always coprime). Numbers that follow a long run
    /// of non-coprimes are picked slightly more often; a victim order needs spread, not
    /// perfect uniformity, and this way needs no table.
    pub fn new(core_count: usize, thief: usize, seed: u64) -> Self {
        let mut random = XorShift64::new(seed);
        let next_core = random.below(core_count);
        let mut stride = 1 + random.below(core_count.saturating_sub(1));
        while gcd(stride, core_count) != 1 {
            stride = if stride + 1 < core_count {
                stride + 1
            } else {
                1
            };
        }
        Self {
            core_count,
            thief,
            next_core,
            stride,
            cores_left: core_count,
        }
    }
}

impl Iterator for VictimOrder {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        while self.cores_left > 0 {
            let core = self.next_core;
            self.next_core = (self.next_core + self.stride) % self.core_count;
            self.cores_left -= 1;
            if core != self.thief {
                return Some(core);
            }
        }
        None
    }
}

/// Greatest common divisor (Euclid); `gcd(x, 0) == x`.
const fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        let remainder = a % b;
        a = b;
        b = remainder;
    }
    a
}

/// How many tasks a thief takes from a victim whose queue holds `victim_len` stealable tasks:
/// half, rounded up, so a lone stealable task can be taken, and 0 only when there is none.
///
/// Taking half (Go's `runqgrab`) balances the two cores in one step without stripping the
/// victim: after the steal both hold about the same amount of work, and the victim, which was
/// busy, keeps enough to stay busy while other thieves look elsewhere.
pub const fn steal_count(victim_len: usize) -> usize {
    victim_len - victim_len / 2
}

/// Whether a core that just made a task runnable should wake one idle core to run it.
///
/// True only if some core is idle and no core is already spinning (actively looking for work).
/// A spinning core will find the new task by itself, so waking another would only add a core
/// that finds nothing; with no idle core there is no one to wake. This is Go's `wakep` rule. The
/// counts are a racy snapshot, so the caller must then claim the spinning role atomically
/// (spinning count from 0 to 1) and wake a core only if that claim succeeds; the woken core
/// starts out spinning, and when a spinning core finds work and stops spinning while it was the
/// last spinner, it applies this rule again so newly queued work is never left unwatched.
pub const fn should_wake_idle_core(idle_cores: usize, spinning_cores: usize) -> bool {
    idle_cores > 0 && spinning_cores == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEEDS: [u64; 6] = [0, 1, 2, 0xDEAD_BEEF, 0x0123_4567_89AB_CDEF, u64::MAX];

    fn assert_visits_every_other_core(core_count: usize, thief: usize, seed: u64) {
        let mut visited = [false; crate::MAX_CORES];
        let mut visits = 0;
        for core in VictimOrder::new(core_count, thief, seed) {
            assert!(core < core_count, "core {core} out of range {core_count}");
            assert_ne!(core, thief, "the thief {thief} was offered itself");
            assert!(
                !visited[core],
                "core {core} visited twice (count {core_count})"
            );
            visited[core] = true;
            visits += 1;
        }
        let expected = if thief < core_count {
            core_count - 1
        } else {
            core_count
        };
        assert_eq!(visits, expected, "count {core_count}, thief {thief}");
    }

    #[test]
    fn victim_order_visits_every_other_core_once_for_all_core_counts() {
        for core_count in 1..=crate::MAX_CORES {
            for seed in SEEDS {
                for thief in [0, core_count / 2, core_count - 1] {
                    assert_visits_every_other_core(core_count, thief, seed);
                }
            }
        }
    }

    #[test]
    fn victim_order_with_thief_outside_the_range_visits_every_core() {
        assert_visits_every_other_core(8, 8, 3);
        assert_visits_every_other_core(8, usize::MAX, 3);
    }

    #[test]
    fn victim_order_over_no_cores_is_empty() {
        assert_eq!(VictimOrder::new(0, 0, 7).next(), None);
    }

    #[test]
    fn victim_order_varies_start_and_stride_with_the_seed() {
        let mut random = XorShift64::new(42);
        let mut starts = [false; 16];
        let mut strides = [false; 16];
        for _ in 0..1000 {
            let order = VictimOrder::new(16, 99, random.next_u64());
            starts[order.next_core] = true;
            strides[order.stride] = true;
        }
        assert!(starts.iter().all(|&seen| seen), "some start never chosen");
        for stride in [1, 3, 5, 7, 9, 11, 13, 15] {
            assert!(strides[stride], "coprime stride {stride} never chosen");
        }
        assert!(strides.iter().step_by(2).all(|&seen| !seen), "even stride");
    }

    #[test]
    fn steal_count_takes_half_rounded_up() {
        assert_eq!(steal_count(0), 0);
        assert_eq!(steal_count(1), 1);
        assert_eq!(steal_count(2), 1);
        assert_eq!(steal_count(3), 2);
        assert_eq!(steal_count(256), 128);
        assert_eq!(steal_count(usize::MAX), usize::MAX / 2 + 1);
    }

    #[test]
    fn wake_an_idle_core_only_when_none_is_spinning() {
        assert!(should_wake_idle_core(1, 0));
        assert!(should_wake_idle_core(511, 0));
        assert!(!should_wake_idle_core(0, 0));
        assert!(!should_wake_idle_core(3, 1));
        assert!(!should_wake_idle_core(0, 2));
    }
}
