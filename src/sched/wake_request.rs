//! An idle core's request to another core to be woken once that core's stealable tasks can be
//! taken, so that the idle core sleeps instead of spinning on a count that runs ahead of what a
//! steal can take. Portable, so that a loom model checks the handshake.

use crate::sync::atomic::{AtomicBool, Ordering, fence};

/// One core's pending request for a wake-up.
///
/// Guarantees (the handshake): a core that makes its tasks takeable and then calls
/// [`WakeRequest::take`], and an idle core that finds them not takeable and then calls
/// [`WakeRequest::ask`], cannot both miss each other: either `ask`'s second look sees the tasks
/// takeable, or `take` returns `true` (once per request) and its caller wakes an idle core.
pub struct WakeRequest {
    asked: AtomicBool,
}

impl WakeRequest {
    /// No request pending; `const` so each core's request can live in a `static`.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        Self {
            asked: AtomicBool::new(false),
        }
    }

    /// No request pending (loom's atomics are not `const`).
    #[cfg(loom)]
    pub fn new() -> Self {
        Self {
            asked: AtomicBool::new(false),
        }
    }

    /// The idle core's side, after `takeable` said no: asks for a wake-up, then looks again and
    /// returns what `takeable` says now. With `false`, the owner will see the request once it
    /// makes a task takeable.
    pub fn ask(&self, takeable: impl Fn() -> bool) -> bool {
        self.asked.store(true, Ordering::SeqCst);
        // The request is visible before the second look (store, fence, load; `take` mirrors it).
        fence(Ordering::SeqCst);
        takeable()
    }

    /// The owner's side, after it made a task takeable (pushed it, or let go of its stack):
    /// whether an idle core asked to be woken, clearing the request. Nobody asked, the common
    /// case, costs a fence and a load.
    #[inline]
    pub fn take(&self) -> bool {
        // Orders the change that made the task takeable before the load of the request.
        fence(Ordering::SeqCst);
        self.asked.load(Ordering::Relaxed) && self.take_asked()
    }

    #[cold]
    #[inline(never)]
    fn take_asked(&self) -> bool {
        self.asked.swap(false, Ordering::SeqCst)
    }
}

impl Default for WakeRequest {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_answered_once() {
        let request = WakeRequest::new();
        assert!(!request.take());
        assert!(!request.ask(|| false));
        assert!(request.take());
        assert!(!request.take());
        assert!(request.ask(|| true));
    }
}

#[cfg(all(test, loom))]
mod model {
    //! Loom model of the handshake as the scheduler uses it: a victim core's only counted task
    //! is still on its stack (its switch queued it); the switch lets go of the stack (a release
    //! store, as `switch_context` does) and then takes the request, waking an idle core if one
    //! asked. An idle core, already counted idle, finds the task not takeable, asks, and sleeps
    //! if its second look still finds it on the core. It must never sleep unwoken while the task
    //! can be taken. It fails without either fence.
    //! `RUSTFLAGS="--cfg loom" cargo test --release -p coresched --lib sched::` runs it.

    use super::*;
    use loom::sync::Arc;
    use loom::thread;

    #[test]
    fn an_idle_core_never_sleeps_unwoken_past_a_task_it_could_take() {
        loom::model(|| {
            let request = Arc::new(WakeRequest::new());
            let on_core = Arc::new(AtomicBool::new(true));
            let idle = {
                let (request, on_core) = (Arc::clone(&request), Arc::clone(&on_core));
                thread::spawn(move || {
                    let takeable = || !on_core.load(Ordering::Acquire);
                    // Slept: found the task not takeable, asked, and still found it so.
                    !takeable() && !request.ask(takeable)
                })
            };
            on_core.store(false, Ordering::Release);
            let woken = request.take();
            let slept = idle.join().unwrap();
            assert!(
                !slept || woken,
                "the idle core slept unwoken while the task could be taken"
            );
        });
    }
}
