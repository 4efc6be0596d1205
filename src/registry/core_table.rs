//! The core table: which cores exist and are up, plus what each core publishes for the monitor.
//!
//! Two kinds of data with two rules:
//! - Each core's [`CoreState`] (and how many times it came online) sits behind the core-table
//!   lock, an [`IrqSpinLock`] of rank [`LockRank::CoreTable`]. Every section under it is short
//!   and bounded and takes no other lock, so the lock never waits on a scheduling lock.
//! - What a core reports about itself (heartbeat, how many switches it made and the task it
//!   runs, the PC of its last interrupt) and the monitor's last kick are lock-free atomics, one cache line per core,
//!   written without the lock. Readers trust them only for cores the lock shows as online.
//!
//! A monitor pass holds the lock only to copy the set of online cores ([`OnlineSet`], a bitmap
//! kept beside the states) and to learn whether any state changed since its last pass
//! ([`CoreTableGuard::changes`]); it reads every core's published fields after releasing it. A
//! hold is then a few dozen instructions whatever the core count, so a holder whose core is
//! descheduled (a vCPU the host or the emulator does not run) stalls the other cores' state
//! changes for as short a time as possible.
//!
//! An entry can exist before its core runs ([`CoreState::Starting`]), as Go's `allp` grows
//! before its Ps are created (runtime commit b50fcc88): every reader skips entries that are not
//! [`CoreState::Online`].

use crate::MAX_CORES;
use crate::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};
use crate::sync::{CachePadded, IrqSpinLock, IrqSpinLockGuard, LockRank};

/// Where a core is in its life. The only changes allowed are
/// `Absent -> Starting -> Online -> GoingOffline -> Offline -> Starting`, plus
/// `Starting -> Offline` for a core that failed to come up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum CoreState {
    /// No such core has been set up: the table has a slot, nothing more.
    Absent,
    /// The entry exists and the core is being brought up; its published fields mean nothing yet.
    Starting,
    /// The core runs the scheduler; its published fields are live.
    Online,
    /// The core is handing its work and timers away; the monitor no longer acts on it.
    GoingOffline,
    /// The core is parked; it may be started again.
    Offline,
}

impl CoreState {
    /// Every state, indexed by its `u8` value: how [`CoreTable::state`] decodes the copy it
    /// reads without the lock.
    const ALL: [Self; 5] = [
        Self::Absent,
        Self::Starting,
        Self::Online,
        Self::GoingOffline,
        Self::Offline,
    ];

    /// Whether a core may change from this state straight to `next`.
    pub fn may_become(self, next: CoreState) -> bool {
        use CoreState::{Absent, GoingOffline, Offline, Online, Starting};
        matches!(
            (self, next),
            (Absent, Starting)
                | (Starting, Online)
                | (Starting, Offline)
                | (Online, GoingOffline)
                | (GoingOffline, Offline)
                | (Offline, Starting)
        )
    }
}

/// Why [`CoreTable::change_state`] refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateError {
    /// The core id is not below the table's size.
    NoSuchCore(usize),
    /// The core is in `from`, which may not become `to` (see [`CoreState::may_become`]).
    Forbidden {
        /// The core whose state was to change.
        core: usize,
        /// Its state, left as it was.
        from: CoreState,
        /// The state asked for.
        to: CoreState,
    },
}

/// A core the core-table lock shows as online, as [`CoreTableGuard::online_cores`] yields it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OnlineCore {
    /// The core's id.
    pub core: usize,
    /// How many times this core has come online (1 the first time, never 0). It changes exactly
    /// when the core went away and came back, so anything remembered about an older incarnation
    /// is stale.
    pub incarnation: u32,
}

/// A core's current run, as the core last published it: which switch started it and what it
/// runs. A run's start time is not published (a switch reads no clock for the monitor): a
/// reader that wants to know how long a run has lasted remembers when it first saw its
/// `switches` value, as Go's sysmon remembers each P's `schedtick`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    /// How many switches the core has made (to a task or to its idle task). It changes exactly
    /// when a new run starts.
    pub switches: u64,
    /// The task the run is of (the scheduler's `TaskId`), or `None` for the core's idle task.
    pub task: Option<u32>,
}

/// How [`Published::running_task`] stores a run of the idle task.
const IDLE_RUN: u32 = u32::MAX;

/// One core's entry under the core-table lock.
#[derive(Clone, Copy)]
struct Entry {
    state: CoreState,
    incarnation: u32,
}

impl Entry {
    const ABSENT: Self = Self {
        state: CoreState::Absent,
        incarnation: 0,
    };
}

/// Words of an [`OnlineSet`]: one bit per core of the kernel's largest table.
const ONLINE_WORDS: usize = MAX_CORES.div_ceil(64);

/// A set of core ids below [`MAX_CORES`]: the cores the core-table lock showed as online when the
/// set was copied ([`CoreTableGuard::online`]). Plain data: copying it is a few stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OnlineSet {
    words: [u64; ONLINE_WORDS],
}

impl OnlineSet {
    /// No core.
    pub const EMPTY: Self = Self {
        words: [0; ONLINE_WORDS],
    };

    /// How many cores are in the set.
    pub fn len(&self) -> usize {
        self.words
            .iter()
            .map(|word| word.count_ones() as usize)
            .sum()
    }

    /// Whether the set has no core.
    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|word| *word == 0)
    }

    /// The cores in the set, in id order.
    pub fn cores(&self) -> OnlineCores<'_> {
        OnlineCores {
            words: &self.words,
            index: 0,
            bits: self.words[0],
        }
    }

    fn set(&mut self, core: usize, online: bool) {
        let bit = 1 << (core % 64);
        if online {
            self.words[core / 64] |= bit;
        } else {
            self.words[core / 64] &= !bit;
        }
    }
}

/// The cores of an [`OnlineSet`], in id order (from [`OnlineSet::cores`]).
pub struct OnlineCores<'a> {
    words: &'a [u64; ONLINE_WORDS],
    /// The word `bits` came from.
    index: usize,
    /// The bits of that word not yet yielded.
    bits: u64,
}

impl Iterator for OnlineCores<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        while self.bits == 0 {
            self.index += 1;
            self.bits = *self.words.get(self.index)?;
        }
        let bit = self.bits.trailing_zeros() as usize;
        self.bits &= self.bits - 1;
        Some(self.index * 64 + bit)
    }
}

/// What the core-table lock guards: each core's entry, the online cores as a set, and how many
/// state changes there have been.
struct States<const CORES: usize> {
    entries: [Entry; CORES],
    online: OnlineSet,
    changes: u64,
}

/// What one core publishes (kept in a [`CachePadded`] so cores never write to a shared line).
/// A fresh one means: no heartbeat yet, no switch yet, idle, never kicked, no interrupt seen.
struct Published {
    heartbeat: AtomicU64,
    /// How many switches the core has made; written by the core alone, after `running_task`.
    switches: AtomicU64,
    /// The task the core runs ([`IDLE_RUN`]: its idle task).
    running_task: AtomicU32,
    last_kick_ns: AtomicU64,
    interrupt_pc: AtomicU64,
}

#[cfg(loom)]
impl Default for Published {
    fn default() -> Self {
        Self {
            heartbeat: AtomicU64::new(0),
            switches: AtomicU64::new(0),
            running_task: AtomicU32::new(IDLE_RUN),
            last_kick_ns: AtomicU64::new(0),
            interrupt_pc: AtomicU64::new(0),
        }
    }
}

impl Published {
    #[cfg(not(loom))]
    const fn new() -> Self {
        Self {
            heartbeat: AtomicU64::new(0),
            switches: AtomicU64::new(0),
            running_task: AtomicU32::new(IDLE_RUN),
            last_kick_ns: AtomicU64::new(0),
            interrupt_pc: AtomicU64::new(0),
        }
    }
}

/// The table of `CORES` cores (the kernel's has [`MAX_CORES`]): their states behind the
/// core-table lock and their lock-free published fields.
///
/// Guarantees:
/// - State changes happen only under the lock and only along [`CoreState::may_become`].
/// - Every hold of the lock is timed with the table's clock; [`CoreTable::longest_hold_ns`] is
///   the longest so far.
/// - Publishing and reading the per-core fields never takes a lock. A core id at or past
///   `CORES` is ignored by the publishing calls and reads as zero / `None`.
pub struct CoreTable<const CORES: usize = MAX_CORES> {
    states: IrqSpinLock<States<CORES>>,
    /// Each core's state as a `u8`, stored under the lock at every change: what
    /// [`CoreTable::state`] reads without taking it.
    state_copies: [AtomicU8; CORES],
    published: [CachePadded<Published>; CORES],
    longest_hold_ns: AtomicU64,
    clock: fn() -> u64,
}

impl<const CORES: usize> CoreTable<CORES> {
    /// The states of a table whose every core is [`CoreState::Absent`]; `CORES` must not exceed
    /// [`MAX_CORES`] (an [`OnlineSet`] has room for that many).
    const ABSENT: States<CORES> = {
        assert!(
            CORES <= MAX_CORES,
            "a core table holds at most MAX_CORES cores"
        );
        States {
            entries: [Entry::ABSENT; CORES],
            online: OnlineSet::EMPTY,
            changes: 0,
        }
    };

    /// A table with every core [`CoreState::Absent`] and nothing published, timing its lock
    /// holds with `clock` (nanoseconds, monotonic). `const`, so the kernel's table is a `static`.
    #[cfg(not(loom))]
    pub const fn new(clock: fn() -> u64) -> Self {
        Self {
            states: IrqSpinLock::new(LockRank::CoreTable, Self::ABSENT),
            state_copies: [const { AtomicU8::new(CoreState::Absent as u8) }; CORES],
            published: [const { CachePadded::new(Published::new()) }; CORES],
            longest_hold_ns: AtomicU64::new(0),
            clock,
        }
    }

    /// A table with every core [`CoreState::Absent`] and nothing published, timing its lock
    /// holds with `clock` (not `const` under loom, whose atomics and mutex are not).
    #[cfg(loom)]
    pub fn new(clock: fn() -> u64) -> Self {
        Self {
            states: IrqSpinLock::new(LockRank::CoreTable, Self::ABSENT),
            state_copies: core::array::from_fn(|_| AtomicU8::new(CoreState::Absent as u8)),
            published: core::array::from_fn(|_| CachePadded::new(Published::default())),
            longest_hold_ns: AtomicU64::new(0),
            clock,
        }
    }

    /// Takes the core-table lock (masking interrupts) and returns the guard that reads the
    /// states. Hold it briefly and take no other lock under it.
    pub fn lock(&self) -> CoreTableGuard<'_, CORES> {
        let states = self.states.lock();
        CoreTableGuard {
            states,
            table: self,
            acquired_at_ns: self.now_ns(),
        }
    }

    /// Moves `core` to `next` under the lock and returns the state it left. Coming online starts
    /// a new incarnation. A core must publish what it wants read (its deadline, heartbeat) before
    /// it becomes [`CoreState::Online`]: the lock's release makes those stores visible to every
    /// reader that then sees it online.
    pub fn change_state(&self, core: usize, next: CoreState) -> Result<CoreState, StateError> {
        let mut guard = self.lock();
        let states = &mut *guard.states;
        let entry = states
            .entries
            .get_mut(core)
            .ok_or(StateError::NoSuchCore(core))?;
        let from = entry.state;
        if !from.may_become(next) {
            return Err(StateError::Forbidden {
                core,
                from,
                to: next,
            });
        }
        entry.state = next;
        // Release: a core that reads the new state without the lock also sees what the caller
        // set up before the change.
        self.state_copies[core].store(next as u8, Ordering::Release);
        if next == CoreState::Online {
            // Never 0, which the monitor's memory uses for "not seen yet".
            entry.incarnation = entry.incarnation.wrapping_add(1).max(1);
        }
        states.online.set(core, next == CoreState::Online);
        states.changes = states.changes.wrapping_add(1);
        Ok(from)
    }

    /// The state of `core` ([`CoreState::Absent`] for an id past the table) as of its last
    /// change, read without the lock (a spawn pinned to a core checks it on every call).
    pub fn state(&self, core: usize) -> CoreState {
        self.state_copies
            .get(core)
            .map_or(CoreState::Absent, |copy| {
                CoreState::ALL[usize::from(copy.load(Ordering::Acquire))]
            })
    }

    /// The core that watches `watched` (the monitor core's buddy): the next online core after it,
    /// wrapping around; `None` if no other core is online. Read under the lock.
    pub fn buddy_of(&self, watched: usize) -> Option<usize> {
        let guard = self.lock();
        (1..CORES)
            .map(|step| (watched + step) % CORES)
            .find(|core| guard.state(*core) == CoreState::Online)
    }

    /// The time on the table's clock, in nanoseconds.
    pub fn now_ns(&self) -> u64 {
        (self.clock)()
    }

    /// The longest time anyone held the core-table lock so far, in nanoseconds.
    pub fn longest_hold_ns(&self) -> u64 {
        self.longest_hold_ns.load(Ordering::Relaxed)
    }

    /// Called by `core` itself at each timer interrupt: advances its heartbeat. A switch
    /// publishes a new run instead ([`CoreTable::publish_switch`]), which the monitor counts as
    /// progress too. Lock-free.
    pub fn publish_heartbeat(&self, core: usize) {
        if let Some(published) = self.published.get(core) {
            published.heartbeat.fetch_add(1, Ordering::Release);
        }
    }

    /// Called by `core` itself, with interrupts masked, each time it switches: to `task`, or
    /// to its idle task (`None`). Two plain stores, no clock read and no read-modify-write
    /// (only this core writes them). Lock-free.
    #[inline]
    pub fn publish_switch(&self, core: usize, task: Option<u32>) {
        if let Some(published) = self.published.get(core) {
            published
                .running_task
                .store(task.unwrap_or(IDLE_RUN), Ordering::Relaxed);
            let switches = published.switches.load(Ordering::Relaxed);
            // Release: a reader that sees this count also sees the task stored above.
            published.switches.store(switches + 1, Ordering::Release);
        }
    }

    /// Called by `core` itself on each interrupt with the interrupted PC, for the watchdog's
    /// report. Lock-free.
    pub fn publish_interrupt_pc(&self, core: usize, pc: u64) {
        if let Some(published) = self.published.get(core) {
            published.interrupt_pc.store(pc, Ordering::Relaxed);
        }
    }

    /// Records that the monitor kicked `core` at `now_ns`. Lock-free.
    pub fn record_kick(&self, core: usize, now_ns: u64) {
        if let Some(published) = self.published.get(core) {
            published.last_kick_ns.store(now_ns, Ordering::Relaxed);
        }
    }

    /// How many times `core` has published a heartbeat. Lock-free.
    pub fn heartbeat(&self, core: usize) -> u64 {
        self.published
            .get(core)
            .map_or(0, |published| published.heartbeat.load(Ordering::Acquire))
    }

    /// How many switches `core` has made. Lock-free.
    #[inline]
    pub fn switches(&self, core: usize) -> u64 {
        self.published
            .get(core)
            .map_or(0, |published| published.switches.load(Ordering::Acquire))
    }

    /// `core`'s current run. Lock-free; for a core switching at this very moment the task may
    /// belong to the run after the one `switches` counts (a stalled core, the case the
    /// watchdog reports, does not switch).
    pub fn run(&self, core: usize) -> Run {
        let switches = self.switches(core);
        let task = self.published.get(core).map_or(IDLE_RUN, |published| {
            published.running_task.load(Ordering::Relaxed)
        });
        Run {
            switches,
            task: (task != IDLE_RUN).then_some(task),
        }
    }

    /// When the monitor last kicked `core` (0: never). Lock-free.
    pub fn last_kick_ns(&self, core: usize) -> u64 {
        self.published.get(core).map_or(0, |published| {
            published.last_kick_ns.load(Ordering::Relaxed)
        })
    }

    /// The PC `core` published at its last interrupt (0: none yet). Lock-free.
    pub fn interrupt_pc(&self, core: usize) -> u64 {
        self.published.get(core).map_or(0, |published| {
            published.interrupt_pc.load(Ordering::Relaxed)
        })
    }
}

/// Proof that the caller holds the core-table lock; reads the cores' states. Dropping it times
/// the hold (before the lock is released) and releases the lock.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct CoreTableGuard<'a, const CORES: usize> {
    states: IrqSpinLockGuard<'a, States<CORES>>,
    table: &'a CoreTable<CORES>,
    acquired_at_ns: u64,
}

impl<const CORES: usize> CoreTableGuard<'_, CORES> {
    /// The state of `core` ([`CoreState::Absent`] for an id past the table).
    pub fn state(&self, core: usize) -> CoreState {
        self.states
            .entries
            .get(core)
            .map_or(CoreState::Absent, |entry| entry.state)
    }

    /// The online cores (exactly those whose state is [`CoreState::Online`]), as a set to copy
    /// and walk once the lock is released.
    pub fn online(&self) -> &OnlineSet {
        &self.states.online
    }

    /// How many state changes the table has seen (wrapping): equal values from two holds mean
    /// no core changed state in between, so every online core kept its incarnation.
    pub fn changes(&self) -> u64 {
        self.states.changes
    }

    /// The online cores in id order, with their incarnations; every other entry (absent,
    /// starting, going offline, offline) is skipped.
    pub fn online_cores(&self) -> impl Iterator<Item = OnlineCore> + '_ {
        self.states.online.cores().map(|core| OnlineCore {
            core,
            incarnation: self.states.entries[core].incarnation,
        })
    }
}

impl<const CORES: usize> Drop for CoreTableGuard<'_, CORES> {
    fn drop(&mut self) {
        let held_ns = self.table.now_ns().saturating_sub(self.acquired_at_ns);
        self.table
            .longest_hold_ns
            .fetch_max(held_ns, Ordering::Relaxed);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::{CoreState, CoreTable, OnlineCore, OnlineSet, Run, StateError};
    use crate::registry::test_clock;

    fn table_with(states: &[CoreState]) -> CoreTable<4> {
        let table = CoreTable::new(test_clock::now);
        for (core, target) in states.iter().enumerate() {
            let path: &[CoreState] = match target {
                CoreState::Absent => &[],
                CoreState::Starting => &[CoreState::Starting],
                CoreState::Online => &[CoreState::Starting, CoreState::Online],
                CoreState::GoingOffline => &[
                    CoreState::Starting,
                    CoreState::Online,
                    CoreState::GoingOffline,
                ],
                CoreState::Offline => &[CoreState::Starting, CoreState::Offline],
            };
            for state in path {
                table
                    .change_state(core, *state)
                    .expect("the path follows the allowed changes");
            }
        }
        table
    }

    #[test]
    fn the_life_cycle_is_the_only_way_through() {
        let table = CoreTable::<2>::new(test_clock::now);
        assert_eq!(
            table.change_state(0, CoreState::Online),
            Err(StateError::Forbidden {
                core: 0,
                from: CoreState::Absent,
                to: CoreState::Online
            })
        );
        let cycle = [
            CoreState::Starting,
            CoreState::Online,
            CoreState::GoingOffline,
            CoreState::Offline,
            CoreState::Starting,
            CoreState::Online,
        ];
        let mut previous = CoreState::Absent;
        for next in cycle {
            assert_eq!(table.change_state(0, next), Ok(previous));
            previous = next;
        }
        assert_eq!(table.state(0), CoreState::Online);
        assert_eq!(
            table.change_state(0, CoreState::Starting),
            Err(StateError::Forbidden {
                core: 0,
                from: CoreState::Online,
                to: CoreState::Starting
            })
        );
        assert_eq!(
            table.change_state(2, CoreState::Starting),
            Err(StateError::NoSuchCore(2))
        );
        assert_eq!(table.state(2), CoreState::Absent);
    }

    #[test]
    fn readers_see_only_online_cores_with_their_incarnation() {
        let table = table_with(&[
            CoreState::Online,
            CoreState::Starting,
            CoreState::GoingOffline,
            CoreState::Online,
        ]);
        for state in [
            CoreState::GoingOffline,
            CoreState::Offline,
            CoreState::Starting,
        ] {
            table.change_state(3, state).expect("allowed change");
        }
        table
            .change_state(3, CoreState::Online)
            .expect("allowed change");
        let online: Vec<_> = table.lock().online_cores().collect();
        assert_eq!(
            online,
            [
                OnlineCore {
                    core: 0,
                    incarnation: 1
                },
                OnlineCore {
                    core: 3,
                    incarnation: 2
                }
            ]
        );
    }

    #[test]
    fn the_buddy_is_the_next_online_core_wrapping_around() {
        let table = table_with(&[
            CoreState::Online,
            CoreState::Starting,
            CoreState::Online,
            CoreState::Online,
        ]);
        assert_eq!(table.buddy_of(3), Some(0));
        assert_eq!(table.buddy_of(0), Some(2));
        assert_eq!(table.buddy_of(2), Some(3));
        let alone = table_with(&[CoreState::Online, CoreState::Starting]);
        assert_eq!(alone.buddy_of(0), None);
    }

    #[test]
    fn published_fields_round_trip_and_ignore_unknown_cores() {
        let table = CoreTable::<2>::new(test_clock::now);
        let idle = |switches| Run {
            switches,
            task: None,
        };
        assert_eq!(table.run(1), idle(0));
        table.publish_heartbeat(1);
        table.publish_heartbeat(1);
        table.publish_switch(1, Some(7));
        table.publish_interrupt_pc(1, 0x4008_0000);
        table.record_kick(1, 55);
        assert_eq!(table.heartbeat(1), 2);
        assert_eq!(
            table.run(1),
            Run {
                switches: 1,
                task: Some(7)
            }
        );
        assert_eq!(table.interrupt_pc(1), 0x4008_0000);
        assert_eq!(table.last_kick_ns(1), 55);
        table.publish_switch(1, None);
        assert_eq!(table.run(1), idle(2));
        table.publish_heartbeat(2);
        table.publish_switch(2, Some(1));
        assert_eq!((table.heartbeat(2), table.run(2)), (0, idle(0)));
        assert_eq!(table.heartbeat(0), 0);
    }

    #[test]
    fn the_online_set_follows_the_states_across_words() {
        let mut set = OnlineSet::EMPTY;
        assert!(set.is_empty());
        for core in [511, 0, 64, 63, 200] {
            set.set(core, true);
        }
        set.set(200, false);
        assert_eq!(set.cores().collect::<Vec<_>>(), [0, 63, 64, 511]);
        assert_eq!((set.len(), set.is_empty()), (4, false));
        let table = table_with(&[
            CoreState::Online,
            CoreState::Starting,
            CoreState::Online,
            CoreState::Online,
        ]);
        table.change_state(2, CoreState::GoingOffline).unwrap();
        let guard = table.lock();
        assert_eq!(guard.online().cores().collect::<Vec<_>>(), [0, 3]);
        assert_eq!(guard.changes(), 8);
    }

    #[test]
    fn the_longest_hold_is_recorded() {
        let table = CoreTable::<1>::new(test_clock::now);
        test_clock::set(1_000);
        let guard = table.lock();
        test_clock::set(1_250);
        drop(guard);
        let guard = table.lock();
        test_clock::set(1_300);
        drop(guard);
        assert_eq!(table.longest_hold_ns(), 250);
    }
}
