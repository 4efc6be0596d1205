//! Load-balancing decisions as pure functions: which core a thief asks for work, how much it takes,
//! and when a core that made work runnable should wake an idle core.
//!
//! The rules follow the Go runtime's scheduler (`findRunnable`, `runqsteal`, `wakep`). Nothing
//! here touches a lock or a queue, so every rule is tested on the host in isolation.

/// The next victim for a thief: the first core in `set` at or after core `start`, wrapping
/// around from the last core of `set` to core 0; `None` if `set` is empty.
///
/// `set` is a snapshot of the cores that have stealable work, one bit per core (bit `c % 64` of
/// word `c / 64`), as many words as the machine needs. A thief starts at a random core and takes
/// the members in turn, removing each one it tried, so different thieves spread over different
/// victims (Go's `randomOrder`) while the cost is a few words, not a visit to every core: on a
/// 512-core machine with one busy core the thief finds it in at most nine word reads. A `start`
/// at or beyond `64 * set.len()` counts modulo that.
pub fn next_member(set: &[u64], start: usize) -> Option<usize> {
    let words = set.len();
    if words == 0 {
        return None;
    }
    let first = (start / 64) % words;
    let at_or_after = u64::MAX << (start % 64);
    // The start's own word is read twice: its bits from `start` on first, the ones below `start`
    // last, once every other word has been read.
    (0..=words).find_map(|step| {
        let word = (first + step) % words;
        let bits = match step {
            0 => set[word] & at_or_after,
            _ if step == words => set[word] & !at_or_after,
            _ => set[word],
        };
        (bits != 0).then(|| word * 64 + bits.trailing_zeros() as usize)
    })
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
    use crate::random::XorShift64;

    /// Every member `next_member` offers from `start`, removing each one as a thief does.
    fn walk(mut set: Vec<u64>, start: usize) -> Vec<usize> {
        let mut visited = Vec::new();
        while let Some(core) = next_member(&set, start) {
            assert_ne!(
                set[core / 64] & (1 << (core % 64)),
                0,
                "core {core} not in the set"
            );
            set[core / 64] &= !(1 << (core % 64));
            visited.push(core);
        }
        visited
    }

    fn set_of(words: usize, cores: &[usize]) -> Vec<u64> {
        let mut set = vec![0; words];
        for core in cores {
            set[core / 64] |= 1 << (core % 64);
        }
        set
    }

    #[test]
    fn next_member_visits_every_member_once_from_any_start() {
        let mut random = XorShift64::new(7);
        for words in 1..=crate::MAX_CORES / 64 {
            for _ in 0..50 {
                let mut members: Vec<usize> =
                    (0..words * 64).filter(|_| random.below(5) == 0).collect();
                let start = random.below(words * 64);
                let mut visited = walk(set_of(words, &members), start);
                // In order from the start, wrapping once.
                let wrap = visited.iter().position(|&core| core < start);
                if let Some(wrap) = wrap {
                    assert!(visited[wrap..].iter().all(|&core| core < start));
                    assert!(visited[..wrap].iter().all(|&core| core >= start));
                }
                visited.sort_unstable();
                members.sort_unstable();
                assert_eq!(visited, members, "words {words}, start {start}");
            }
        }
    }

    #[test]
    fn next_member_takes_the_first_member_at_or_after_the_start() {
        let set = set_of(8, &[3, 64, 130, 511]);
        assert_eq!(next_member(&set, 0), Some(3));
        assert_eq!(next_member(&set, 3), Some(3));
        assert_eq!(next_member(&set, 4), Some(64));
        assert_eq!(next_member(&set, 65), Some(130));
        assert_eq!(next_member(&set, 200), Some(511));
        assert_eq!(walk(set.clone(), 200), [511, 3, 64, 130]);
        // The start's own word, below the start, comes last.
        assert_eq!(walk(set_of(1, &[1, 5, 9]), 6), [9, 1, 5]);
        // A start past the set wraps to its beginning.
        assert_eq!(next_member(&set_of(1, &[2]), 900), Some(2));
    }

    #[test]
    fn next_member_of_an_empty_set_is_none() {
        assert_eq!(next_member(&[], 0), None);
        assert_eq!(next_member(&[0; 8], 0), None);
        assert_eq!(next_member(&[0; 8], 511), None);
    }

    #[test]
    fn next_member_spreads_thieves_over_the_members() {
        let set = set_of(2, &[5, 40, 70, 100]);
        let mut random = XorShift64::new(42);
        let mut first_choice = [0; 128];
        for _ in 0..4000 {
            first_choice[next_member(&set, random.below(128)).unwrap()] += 1;
        }
        // Each member is chosen first in proportion to the gap before it (about 1000 times for
        // a gap of 32 cores out of 128), never starved.
        for core in [5, 40, 70, 100] {
            assert!(
                first_choice[core] > 300,
                "core {core} chosen {} times",
                first_choice[core]
            );
        }
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
