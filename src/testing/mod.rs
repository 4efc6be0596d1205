//! The kernel test harness: tests that run on the booted kernel, on real (emulated) cores.
//!
//! A test is an ordinary function registered with `kernel_test!`, which places a
//! `KernelTest` record in the `.kernel_tests` linker section: there is no central list to
//! edit. Bootargs pick the tests (`test=all`, a name, or a prefix such as `sched::`) and how
//! many cores each uses; results are printed as TAP version 14 (see `tap`). A test fails by
//! returning an error (the `check!` and `check_eq!` macros), by panicking, or by running
//! past its time limit; the last two end the run, reported like the first.

pub mod tap;

#[cfg(target_os = "none")]
mod boot;
#[cfg(target_os = "none")]
mod hotplug;
#[cfg(target_os = "none")]
mod irq;
#[cfg(target_os = "none")]
mod monitor;
#[cfg(target_os = "none")]
mod runner;
#[cfg(target_os = "none")]
mod sched;
#[cfg(target_os = "none")]
mod selftest;

#[cfg(target_os = "none")]
pub use runner::{report_fatal_in_test, run};

use core::fmt;
use core::panic::Location;

/// One registered kernel test.
#[repr(C)]
pub struct KernelTest {
    /// `module_path!()` of the test function.
    pub module: &'static str,
    /// The function's name.
    pub function: &'static str,
    /// The test itself.
    pub run: fn(&TestContext) -> TestResult,
}

impl KernelTest {
    /// The name tests are selected and reported by: the last module segment and the function,
    /// e.g. `boot::cores_online` for `coresched::testing::boot::cores_online`.
    pub fn name(&self) -> TestName {
        let group = self.module.rsplit("::").next().unwrap_or(self.module);
        let mut name = TestName::new();
        // Names longer than the buffer are cut, which only affects how they print.
        let _ = fmt::Write::write_fmt(&mut name, format_args!("{group}::{}", self.function));
        name
    }
}

/// A test's printable, selectable name.
pub type TestName = heapless::String<96>;

/// What a running test may know about its environment.
pub struct TestContext {
    /// How many cores the test may use: cores `0..cores`.
    pub cores: usize,
}

/// Why a test failed: a message and where the failing check is.
#[derive(Debug)]
pub struct TestFailure {
    /// What went wrong.
    pub message: heapless::String<192>,
    /// The failing check's source location.
    pub location: &'static Location<'static>,
}

impl TestFailure {
    /// A failure at the caller's location with `message` (cut to fit 192 bytes).
    #[track_caller]
    pub fn new(message: fmt::Arguments) -> Self {
        let mut text = heapless::String::new();
        let _ = fmt::Write::write_fmt(&mut text, message);
        Self {
            message: text,
            location: Location::caller(),
        }
    }
}

/// What a kernel test returns.
pub type TestResult = Result<(), TestFailure>;

/// Registers a kernel test: `kernel_test!(fn name(context) { ...; Ok(()) });`
#[macro_export]
macro_rules! kernel_test {
    ($(#[$meta:meta])* fn $name:ident($context:ident) $body:block) => {
        $(#[$meta])*
        // A failure carries its message inline: the kernel has no heap to box it in, and a
        // test fails at most once, so the size costs nothing that matters.
        #[allow(clippy::result_large_err)]
        fn $name($context: &$crate::testing::TestContext) -> $crate::testing::TestResult $body

        const _: () = {
            #[used]
            #[unsafe(link_section = ".kernel_tests")]
            static REGISTRATION: $crate::testing::KernelTest = $crate::testing::KernelTest {
                module: module_path!(),
                function: stringify!($name),
                run: $name,
            };
        };
    };
}

/// Fails the test with the condition's text (and an optional message) unless it holds.
#[macro_export]
macro_rules! check {
    ($condition:expr $(,)?) => {
        if !$condition {
            return Err($crate::testing::TestFailure::new(format_args!(
                "check failed: {}",
                stringify!($condition)
            )));
        }
    };
    ($condition:expr, $($message:tt)+) => {
        if !$condition {
            return Err($crate::testing::TestFailure::new(format_args!($($message)+)));
        }
    };
}

/// Fails the test showing both values unless they are equal.
#[macro_export]
macro_rules! check_eq {
    ($left:expr, $right:expr $(,)?) => {
        match (&$left, &$right) {
            (left, right) => {
                if left != right {
                    return Err($crate::testing::TestFailure::new(format_args!(
                        "check failed: {} == {} (left: {:?}, right: {:?})",
                        stringify!($left),
                        stringify!($right),
                        left,
                        right
                    )));
                }
            }
        }
    };
}
