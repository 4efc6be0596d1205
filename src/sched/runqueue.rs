//! The global run queue's FIFO of runnable tasks, in fixed memory (each core's own run queue is
//! the lock-free ring of `sched::ring`).
//!
//! Besides push and pop, [`RunQueue::take_first`] takes the oldest task a core may run (one
//! pinned to another core stays for that core); every task that stays keeps its place in line.

use heapless::Deque;

/// A fixed-capacity FIFO of up to `N` runnable tasks (an `N` of 0 fails to compile).
///
/// Guarantees: tasks leave in the order they arrived, except those taken out of line by
/// [`RunQueue::take_first`]; no task is ever lost or duplicated; a full queue refuses a task
/// with `Err` and is left unchanged. The queue never allocates.
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

    /// Takes the oldest task `can_take` accepts, if any; the others keep their order. O(len):
    /// the queue is rotated once, each task popped from the front and, unless it is the one
    /// taken, pushed back.
    pub fn take_first(&mut self, can_take: impl Fn(&T) -> bool) -> Option<T> {
        let mut taken = None;
        for _ in 0..self.tasks.len() {
            let task = self.tasks.pop_front()?;
            if taken.is_none() && can_take(&task) {
                taken = Some(task);
                continue;
            }
            let requeued = self.tasks.push_back(task);
            // Cannot panic: a task was popped from this queue just above, so there is room.
            assert!(requeued.is_ok(), "run queue overflowed while rotating");
        }
        taken
    }
}

impl<T, const N: usize> Default for RunQueue<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::XorShift64;
    use std::collections::VecDeque;

    /// A task in the tests: a unique id, and the core it waits for (`None`: any). Not `Copy`,
    /// so the compiler rules out accidental duplication.
    #[derive(Debug, PartialEq, Eq)]
    struct Task {
        id: u32,
        owner: Option<usize>,
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
                    let owner = [None, Some(0), Some(1)][random.below(3)];
                    let id = next_id;
                    next_id += 1;
                    match queue.push(Task { id, owner }) {
                        Ok(()) => {
                            model.push_back(Task { id, owner });
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
                _ => {
                    let core = random.below(2);
                    let may_run = |task: &Task| task.owner.is_none_or(|owner| owner == core);
                    let taken = queue.take_first(may_run);
                    let expected = model.iter().position(may_run);
                    assert_eq!(taken, expected.and_then(|at| model.remove(at)));
                    left_the_queue.extend(taken.map(|task| task.id));
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

        left_the_queue.extend(core::iter::from_fn(|| queue.pop()).map(|task| task.id));
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
        let mut queue = RunQueue::<u32, 8>::new();
        for id in 0..5 {
            assert!(queue.push(id).is_ok());
        }
        assert_eq!(queue.take_first(|id| *id >= 2), Some(2));
        assert_eq!(
            queue.tasks.iter().copied().collect::<Vec<_>>(),
            [0, 1, 3, 4]
        );
        assert!(queue.take_first(|_| false).is_none());
        assert_eq!(queue.len(), 4);
    }

    #[test]
    fn full_queue_gives_the_task_back() {
        let mut queue = RunQueue::<u32, 2>::new();
        assert_eq!(queue.push(1), Ok(()));
        assert_eq!(queue.push(2), Ok(()));
        assert!(queue.is_full());
        assert_eq!(queue.push(3), Err(3));
        assert_eq!(queue.pop(), Some(1));
        assert_eq!(queue.pop(), Some(2));
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
