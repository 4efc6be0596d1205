//! A core's queue of runnable tasks: first in, first out, in fixed memory.
//!
//! Besides push and pop, [`RunQueue`] hands work to other cores: a thief takes about half of
//! the tasks allowed to move ([`RunQueue::steal_half`]), and a core going offline gives away
//! everything movable ([`RunQueue::drain_movable`]) or everything ([`RunQueue::drain`]). Tasks
//! pinned to this core stay, and every task that stays keeps its place in line.

use heapless::Deque;

use super::balance::steal_count;

/// A fixed-capacity FIFO of up to `N` runnable tasks (an `N` of 0 fails to compile).
///
/// Guarantees: tasks leave in the order they arrived, except those taken by a steal or a drain;
/// no task is ever lost or duplicated; a full queue refuses a task with `Err` and is left
/// unchanged. The queue never allocates.
pub struct RunQueue<T, const N: usize> {
    tasks: Deque<T, N>,
}

impl<T, const N: usize> RunQueue<T, N> {
    /// Creates an empty queue; `const` so a queue can be placed in a `static`.
    pub const fn new() -> Self {
        Self {
            tasks: Deque::new(),
        }
    }

    /// Appends `task` at the back, or gives it back in `Err` if the queue is full (the queue is
    /// then unchanged).
    pub fn push(&mut self, task: T) -> Result<(), T> {
        self.tasks.push_back(task)
    }

    /// Puts `task` at the front, to leave next, or gives it back in `Err` if the queue is full
    /// (the queue is then unchanged).
    pub fn push_front(&mut self, task: T) -> Result<(), T> {
        self.tasks.push_front(task)
    }

    /// Removes and returns the task that has waited longest, if any.
    pub fn pop(&mut self) -> Option<T> {
        self.tasks.pop_front()
    }

    /// The number of queued tasks.
    pub const fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether no task is queued.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Whether the queue holds `N` tasks, so [`push`](Self::push) would refuse.
    pub fn is_full(&self) -> bool {
        self.tasks.is_full()
    }

    /// The most tasks the queue can hold: `N`.
    pub const fn capacity(&self) -> usize {
        N
    }

    /// Gives a thief about half of the tasks `can_move` accepts: [`steal_count`] of them,
    /// oldest first, each handed to `sink` in queue order. Returns how many moved.
    ///
    /// `sink` takes a task or gives it back in `Err` when it has no room, like
    /// [`RunQueue::push`] or `heapless::Vec::push`; the first refusal ends the steal and the
    /// refused task stays here. Tasks `can_move` rejects (pinned to this core) are never
    /// offered. Every task that stays keeps its order. `can_move` is asked up to twice per task
    /// and must give the same answer both times. O(len).
    pub fn steal_half(
        &mut self,
        sink: impl FnMut(T) -> Result<(), T>,
        can_move: impl Fn(&T) -> bool,
    ) -> usize {
        let movable = self.tasks.iter().filter(|task| can_move(task)).count();
        self.move_out(steal_count(movable), sink, can_move)
    }

    /// Hands every task `can_move` accepts to `sink`, oldest first, for migrating work off a
    /// core that goes offline. Returns how many moved.
    ///
    /// Same contract as [`steal_half`](Self::steal_half) without the limit: the first refusal
    /// by `sink` stops the move, and the tasks that stay (pinned or refused) keep their order.
    /// O(len).
    pub fn drain_movable(
        &mut self,
        sink: impl FnMut(T) -> Result<(), T>,
        can_move: impl Fn(&T) -> bool,
    ) -> usize {
        self.move_out(usize::MAX, sink, can_move)
    }

    /// Takes the oldest task `can_take` accepts, if any; the others keep their order. O(len).
    pub fn take_first(&mut self, can_take: impl Fn(&T) -> bool) -> Option<T> {
        let mut taken = None;
        self.move_out(
            1,
            |task| {
                taken = Some(task);
                Ok(())
            },
            can_take,
        );
        taken
    }

    /// Removes every task, yielding them oldest first.
    ///
    /// Tasks the iterator has not yet yielded when it is dropped stay queued, in order.
    pub fn drain(&mut self) -> Drain<'_, T, N> {
        Drain { queue: self }
    }

    /// Offers `sink` the oldest tasks `can_move` accepts, at most `limit` of them, until it
    /// refuses one; returns how many it took.
    ///
    /// Works by rotating the whole queue once: each task is popped from the front and either
    /// handed over or pushed back, so the tasks that stay end up in their original order.
    fn move_out(
        &mut self,
        limit: usize,
        mut sink: impl FnMut(T) -> Result<(), T>,
        can_move: impl Fn(&T) -> bool,
    ) -> usize {
        let mut moved = 0;
        let mut sink_has_room = true;
        for _ in 0..self.tasks.len() {
            let Some(task) = self.tasks.pop_front() else {
                break;
            };
            let staying = if sink_has_room && moved < limit && can_move(&task) {
                match sink(task) {
                    Ok(()) => {
                        moved += 1;
                        continue;
                    }
                    Err(refused) => {
                        sink_has_room = false;
                        refused
                    }
                }
            } else {
                task
            };
            let requeued = self.tasks.push_back(staying);
            // Cannot panic: a task was popped from this queue just above, so there is room.
            assert!(requeued.is_ok(), "run queue overflowed while rotating");
        }
        moved
    }
}

impl<T, const N: usize> Default for RunQueue<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

/// The iterator returned by [`RunQueue::drain`]: yields tasks oldest first, removing each as it
/// is yielded.
pub struct Drain<'a, T, const N: usize> {
    queue: &'a mut RunQueue<T, N>,
}

impl<T, const N: usize> Iterator for Drain<'_, T, N> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.queue.pop()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.queue.len(), Some(self.queue.len()))
    }
}

impl<T, const N: usize> ExactSizeIterator for Drain<'_, T, N> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::XorShift64;
    use std::collections::VecDeque;

    /// A task in the tests: a unique id, and whether it is pinned to its core. Not `Copy`, so
    /// the compiler rules out accidental duplication.
    #[derive(Debug, PartialEq, Eq)]
    struct Task {
        id: u32,
        pinned: bool,
    }

    fn is_movable(task: &Task) -> bool {
        !task.pinned
    }

    /// What a steal or drain should leave and take, computed on the model: the first `limit`
    /// movable tasks (capped by the sink's room) move, in order; the rest stay, in order.
    fn split_model(model: &VecDeque<Task>, limit: usize, room: usize) -> (Vec<u32>, Vec<u32>) {
        let mut taken = Vec::new();
        let mut kept = Vec::new();
        for task in model {
            if !task.pinned && taken.len() < limit.min(room) {
                taken.push(task.id);
            } else {
                kept.push(task.id);
            }
        }
        (taken, kept)
    }

    /// A sink with only `room` places, whatever its capacity: refuses once it holds `room`.
    fn push_within<const N: usize>(
        out: &mut heapless::Vec<Task, N>,
        room: usize,
        task: Task,
    ) -> Result<(), Task> {
        if out.len() < room {
            out.push(task)
        } else {
            Err(task)
        }
    }

    fn ids<'a>(tasks: impl IntoIterator<Item = &'a Task>) -> Vec<u32> {
        tasks.into_iter().map(|task| task.id).collect()
    }

    fn run_random_workload<const N: usize>(seed: u64, operations: usize) {
        let mut random = XorShift64::new(seed);
        let mut queue = RunQueue::<Task, N>::new();
        let mut model: VecDeque<Task> = VecDeque::new();
        let mut next_id = 0;
        let mut accepted: Vec<u32> = Vec::new();
        let mut left_the_queue: Vec<u32> = Vec::new();

        for _ in 0..operations {
            match random.below(100) {
                0..50 => {
                    let (id, pinned) = (next_id, random.below(3) == 0);
                    next_id += 1;
                    match queue.push(Task { id, pinned }) {
                        Ok(()) => {
                            model.push_back(Task { id, pinned });
                            accepted.push(id);
                        }
                        Err(refused) => {
                            assert_eq!(refused.id, id, "full queue returned another task");
                            assert_eq!(model.len(), N, "refused below capacity");
                        }
                    }
                }
                50..75 => {
                    let popped = queue.pop();
                    assert_eq!(popped, model.pop_front());
                    left_the_queue.extend(popped.map(|task| task.id));
                }
                75..90 => {
                    let room = random.below(N + 2);
                    let movable = model.iter().filter(|task| !task.pinned).count();
                    let (taken, kept) = split_model(&model, steal_count(movable), room);
                    let mut stolen = heapless::Vec::<Task, N>::new();
                    let moved =
                        queue.steal_half(|task| push_within(&mut stolen, room, task), is_movable);
                    assert_eq!(moved, taken.len());
                    assert!(stolen.iter().all(is_movable), "a pinned task was stolen");
                    assert_eq!(ids(&stolen), taken);
                    assert_eq!(ids(queue.tasks.iter()), kept);
                    model.retain(|task| !taken.contains(&task.id));
                    left_the_queue.extend(taken);
                }
                90..95 => {
                    let room = random.below(N + 2);
                    let (taken, kept) = split_model(&model, usize::MAX, room);
                    let mut out = heapless::Vec::<Task, N>::new();
                    let moved =
                        queue.drain_movable(|task| push_within(&mut out, room, task), is_movable);
                    assert_eq!(moved, taken.len());
                    assert_eq!(ids(&out), taken);
                    assert_eq!(ids(queue.tasks.iter()), kept);
                    model.retain(|task| !taken.contains(&task.id));
                    left_the_queue.extend(taken);
                }
                _ => {
                    let drained: Vec<Task> = queue.drain().collect();
                    assert_eq!(ids(&drained), ids(&model));
                    model.clear();
                    left_the_queue.extend(ids(&drained));
                }
            }
            assert_eq!(queue.len(), model.len());
            assert_eq!(queue.is_empty(), model.is_empty());
            assert_eq!(
                ids(queue.tasks.iter()),
                ids(&model),
                "order differs from model"
            );
        }

        left_the_queue.extend(queue.drain().map(|task| task.id));
        left_the_queue.sort_unstable();
        assert_eq!(left_the_queue, accepted, "a task was lost or duplicated");
    }

    #[test]
    fn random_workloads_match_the_model() {
        for seed in 1..=50 {
            run_random_workload::<1>(seed, 200);
            run_random_workload::<3>(seed, 500);
            run_random_workload::<16>(seed, 2000);
            run_random_workload::<256>(seed, 3000);
        }
    }

    #[test]
    fn take_first_takes_the_oldest_accepted_task_and_keeps_the_order() {
        let mut queue = RunQueue::<Task, 8>::new();
        for id in 0..5 {
            let task = Task { id, pinned: id < 2 };
            assert!(queue.push(task).is_ok());
        }
        assert_eq!(queue.take_first(is_movable).map(|task| task.id), Some(2));
        assert_eq!(ids(queue.tasks.iter()), [0, 1, 3, 4]);
        assert!(queue.take_first(|_| false).is_none());
        assert_eq!(queue.len(), 4);
    }

    #[test]
    fn steal_takes_the_older_half_of_movable_tasks_and_leaves_pinned_ones() {
        let mut queue = RunQueue::<Task, 8>::new();
        for id in 0..7 {
            let task = Task {
                id,
                pinned: id % 3 == 0,
            };
            assert!(queue.push(task).is_ok());
        }
        let mut stolen = heapless::Vec::<Task, 8>::new();
        assert_eq!(queue.steal_half(|task| stolen.push(task), is_movable), 2);
        assert_eq!(ids(&stolen), [1, 2]);
        assert_eq!(ids(queue.tasks.iter()), [0, 3, 4, 5, 6]);
    }

    #[test]
    fn a_refusing_sink_ends_the_move_and_the_refused_task_stays_in_place() {
        let mut queue = RunQueue::<u32, 8>::new();
        for id in 1..=6 {
            assert!(queue.push(id).is_ok());
        }
        let mut offers = 0;
        let mut taken = heapless::Vec::<u32, 1>::new();
        let moved = queue.drain_movable(
            |task| {
                offers += 1;
                taken.push(task)
            },
            |_| true,
        );
        assert_eq!((moved, offers), (1, 2));
        assert_eq!(taken, [1]);
        assert_eq!(queue.drain().collect::<Vec<_>>(), [2, 3, 4, 5, 6]);
    }

    #[test]
    fn steal_takes_a_lone_movable_task() {
        let mut queue = RunQueue::<u32, 4>::new();
        assert!(queue.push(9).is_ok());
        let mut stolen = heapless::Vec::<u32, 4>::new();
        assert_eq!(queue.steal_half(|task| stolen.push(task), |_| true), 1);
        assert!(queue.is_empty());
    }

    #[test]
    fn full_queue_gives_the_task_back() {
        let mut queue = RunQueue::<u32, 2>::new();
        assert_eq!(queue.push(1), Ok(()));
        assert_eq!(queue.push(2), Ok(()));
        assert!(queue.is_full());
        assert_eq!(queue.push(3), Err(3));
        assert_eq!(queue.drain().collect::<Vec<_>>(), [1, 2]);
    }

    #[test]
    fn fits_in_a_static() {
        static QUEUE: spin::Mutex<RunQueue<u32, 256>> = spin::Mutex::new(RunQueue::new());
        let mut queue = QUEUE.lock();
        assert_eq!(queue.capacity(), 256);
        assert_eq!(queue.push(4), Ok(()));
        assert_eq!(queue.pop(), Some(4));
    }
}
