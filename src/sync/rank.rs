//! The lock order: the one place that says which lock may be taken while holding which.
//!
//! Every [`IrqSpinLock`](super::IrqSpinLock) carries a [`LockRank`]. A core may acquire a lock
//! only if every lock it already holds has a strictly lower rank, so locks are always taken
//! outermost first and two locks of the same rank never nest. A cycle of cores each waiting
//! for a lock another one holds would need some core to take a lower rank under a higher one,
//! so an order that is never broken cannot deadlock. Debug builds check the rule on every
//! acquisition (see [`set_rank_check_enabled`](super::set_rank_check_enabled)).
//!
//! The order is designed against Go issue 35375 (runtime commit b50fcc88): `sysmon` held the
//! scheduler lock and took every P's timer lock, while a P holding its own timer lock readied
//! a goroutine and took the scheduler lock. Here the global scheduler lock ranks above the
//! timer-queue locks, so the 2019 `sysmon` order is an inversion the checker rejects, and the
//! monitor scans deadlines under the core-table lock, which ranks below every scheduling lock.
//!
//! A new lock picks its place here, with the reason next to it; nowhere else states an order.

/// The rank of a lock: its place in the one global lock order, outermost (lowest) first.
///
/// Acquiring a lock is legal only while every lock the core holds has a strictly lower rank
/// ([`LockRank::may_be_taken_while_holding`]).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LockRank {
    /// A blocking primitive's wait list. Outermost, because waking a waiter makes it runnable
    /// (on a lock-free ring or inbox, or the global queue when a core's ring is full) and may
    /// take the global lock to claim an idle core, so the wait-list lock is held while every
    /// scheduling lock below it is taken.
    WaitQueue = 0,
    /// One core's armed timers. Go 1.14 readied goroutines from its timer path while holding
    /// the P's timer lock, so a timer-queue lock may be held when the global scheduler lock is
    /// taken, never the reverse: taking a timer-queue lock under the global lock is exactly
    /// the 2019 `sysmon` deadlock. coresched's own timer path releases the timer-queue lock
    /// before firing, so it does not even rely on this nesting.
    TimerQueue = 1,
    /// The global run queue and the claiming of idle cores. Below the timer queues (see
    /// [`LockRank::TimerQueue`]). The kernel takes no scheduling lock under it: the per-core
    /// run queues are lock-free, and a task leaves the global queue before it goes onto one.
    GlobalSched = 2,
    /// A run-queue lock, which may be taken under the global scheduler lock; two never nest
    /// (same rank). The kernel's own per-core run queues have no lock any more: each is a ring
    /// only its core pushes and pops and thieves take half of with a compare-and-swap, and
    /// other cores put the tasks they make runnable on the core's inbox
    /// (`sched::ring`, `sched::inbox`, with loom models of both). The monitor's loom model of
    /// the 2019 lock protocol still models a core's queue as a lock of this rank.
    RunQueue = 3,
    /// The core table: which cores exist, are up, and their published deadlines. The monitor
    /// reads deadlines under this lock and takes nothing else, so it sits below every
    /// scheduling lock: the monitor can never wait on a timer-queue or scheduler lock while
    /// holding it (the fix of Go commit b50fcc88, which scans under `allpLock` instead of
    /// `sched.lock`, taken one step further).
    CoreTable = 4,
    /// The free task-slot lists (shared and per core). Near the inside, because spawning and
    /// releasing a task may happen while a scheduling lock is held; in turn they take no lock
    /// but the ones below.
    TaskSlots = 5,
    /// The interrupt controller, where its driver needs exclusive access (GICv2: one `arm-gic`
    /// instance for all cores). Sending an SGI or acknowledging an interrupt may happen under
    /// any scheduling lock, and takes no other lock.
    InterruptController = 6,
    /// The console. The innermost lock, so logging works while holding any other lock.
    Console = 7,
}

impl LockRank {
    /// Every rank, outermost first; `LockRank::ALL[i] as usize == i`.
    pub const ALL: [LockRank; 8] = [
        LockRank::WaitQueue,
        LockRank::TimerQueue,
        LockRank::GlobalSched,
        LockRank::RunQueue,
        LockRank::CoreTable,
        LockRank::TaskSlots,
        LockRank::InterruptController,
        LockRank::Console,
    ];

    /// How many ranks there are; a core obeying the order holds at most this many locks.
    pub const COUNT: usize = Self::ALL.len();

    /// The name of the locks of this rank as diagnostics print it (`timer_queue`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            LockRank::WaitQueue => "wait_queue",
            LockRank::TimerQueue => "timer_queue",
            LockRank::GlobalSched => "global_sched",
            LockRank::RunQueue => "run_queue",
            LockRank::CoreTable => "core_table",
            LockRank::TaskSlots => "task_slots",
            LockRank::InterruptController => "interrupt_controller",
            LockRank::Console => "console",
        }
    }

    /// The rank whose `as u8` value is `value`, or `None` if no rank has it.
    pub const fn from_u8(value: u8) -> Option<LockRank> {
        if (value as usize) < Self::COUNT {
            Some(Self::ALL[value as usize])
        } else {
            None
        }
    }

    /// Whether a lock of this rank may be acquired while a lock of rank `held` is held: only
    /// if this rank is strictly higher (inner).
    pub fn may_be_taken_while_holding(self, held: LockRank) -> bool {
        self > held
    }
}

#[cfg(test)]
mod tests {
    use super::LockRank;

    #[test]
    fn all_lists_every_rank_at_its_own_value() {
        for (index, rank) in LockRank::ALL.iter().enumerate() {
            assert_eq!(*rank as usize, index);
            assert_eq!(LockRank::from_u8(index as u8), Some(*rank));
        }
        assert_eq!(LockRank::from_u8(LockRank::COUNT as u8), None);
    }

    #[test]
    fn order_is_outermost_first() {
        assert!(LockRank::ALL.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(LockRank::TimerQueue < LockRank::GlobalSched);
        assert!(LockRank::CoreTable > LockRank::RunQueue);
        assert_eq!(LockRank::ALL[LockRank::COUNT - 1], LockRank::Console);
    }

    #[test]
    fn same_rank_never_nests() {
        for rank in LockRank::ALL {
            assert!(!rank.may_be_taken_while_holding(rank));
        }
    }

    #[test]
    fn go_issue_35375_sysmon_order_is_an_inversion() {
        assert!(!LockRank::TimerQueue.may_be_taken_while_holding(LockRank::GlobalSched));
        assert!(!LockRank::TimerQueue.may_be_taken_while_holding(LockRank::CoreTable));
        assert!(LockRank::GlobalSched.may_be_taken_while_holding(LockRank::TimerQueue));
    }

    #[test]
    fn names_are_distinct() {
        for (index, rank) in LockRank::ALL.iter().enumerate() {
            assert!(
                LockRank::ALL[..index]
                    .iter()
                    .all(|other| other.name() != rank.name())
            );
        }
    }
}
