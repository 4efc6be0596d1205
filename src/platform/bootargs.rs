//! The kernel command line (`/chosen/bootargs`, QEMU's `-append`): space-separated words that
//! choose the log level, what to run (demo, tests, benchmark), scheduler knobs and the seed of
//! the timing perturbation.
//!
//! The grammar is the host contract's. [`parse`] borrows the line; a malformed value of a known
//! word is a [`BootArgError`] naming the word, an unknown word is kept (up to
//! [`MAX_UNKNOWN_WORDS`]) so the kernel can warn about it and go on, as firmware on real boards
//! adds its own Linux arguments. When a key is given twice, the last one wins.

use core::fmt;
use core::num::{NonZeroU32, NonZeroUsize};
use core::str::FromStr;

use heapless::Vec;
use log::LevelFilter;

use super::earlycon;
use super::uart::UartConfig;

/// How many unknown words [`BootArgs::unknown_words`] keeps; more are only counted.
pub const MAX_UNKNOWN_WORDS: usize = 8;

/// Prefix of the harness self-tests, which `test=all` leaves out.
const SELFTEST_PREFIX: &str = "selftest::";
const DEFAULT_TEST_TIMEOUT_MS: NonZeroU32 = NonZeroU32::new(30_000).unwrap();
const DEFAULT_SLICE_MS: NonZeroU32 = NonZeroU32::new(10).unwrap();
const DEFAULT_STALL_MS: NonZeroU32 = NonZeroU32::new(1_000).unwrap();

/// What the kernel runs once every core is up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode<'a> {
    /// The demo (`demo`, or neither `test=` nor `bench`).
    Demo,
    /// The kernel tests that the selection matches (`test=SEL[,SEL...]`).
    Test(TestSelection<'a>),
    /// The benchmark (`bench`).
    Bench,
}

/// How the kernel ends QEMU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitMethod {
    /// PSCI `SYSTEM_OFF` (`exit=psci`, the default): works on real boards; QEMU exits 0.
    Psci,
    /// Arm semihosting `SYS_EXIT` (`exit=semihosting`): QEMU exits with the kernel's status.
    Semihosting,
}

/// The tests a `test=` word selects: a non-empty, comma-separated list of selectors, none
/// empty. A selector is `all` (every test not named `selftest::*`), a name ending in `::`
/// (every test whose name starts with it), or an exact test name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TestSelection<'a> {
    selectors: &'a str,
}

impl<'a> TestSelection<'a> {
    /// The selection `selectors` describes, or `None` if it or one of its selectors is empty.
    pub fn new(selectors: &'a str) -> Option<Self> {
        selectors
            .split(',')
            .all(|selector| !selector.is_empty())
            .then_some(Self { selectors })
    }

    /// Whether the test called `name` is selected by at least one selector.
    pub fn matches(&self, name: &str) -> bool {
        self.selectors
            .split(',')
            .any(|selector| selector_matches(selector, name))
    }

    /// Each selector on its own, as a selection of one (to find one that selects nothing).
    pub fn each(&self) -> impl Iterator<Item = TestSelection<'a>> + 'a {
        self.selectors
            .split(',')
            .map(|selectors| TestSelection { selectors })
    }
}

impl fmt::Display for TestSelection<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.selectors)
    }
}

fn selector_matches(selector: &str, name: &str) -> bool {
    match selector {
        "all" => !name.starts_with(SELFTEST_PREFIX),
        prefix if prefix.ends_with("::") => name.starts_with(prefix),
        exact => name == exact,
    }
}

/// The parsed command line. Each field holds the last value given, or its default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BootArgs<'a> {
    /// `log=error|warn|info|debug|trace`; default `info`.
    pub log_level: LevelFilter,
    /// `test=`, `bench` or `demo`; default [`Mode::Demo`].
    pub mode: Mode<'a>,
    /// `test-cores=N`: cores each test uses; `None` (the default) means every online core.
    pub test_cores: Option<NonZeroUsize>,
    /// `test-timeout-ms=N`: per-test time-out in guest milliseconds; default 30000.
    pub test_timeout_ms: NonZeroU32,
    /// `exit=semihosting|psci`; default [`ExitMethod::Psci`].
    pub exit: ExitMethod,
    /// `monitor=ID`: the monitor core's index; `None` (the default) means the last core. Not
    /// checked against the number of cores here.
    pub monitor_core: Option<usize>,
    /// `slice-ms=N`: the scheduler's time slice in milliseconds; default 10.
    pub slice_ms: NonZeroU32,
    /// `stall-ms=N`: the watchdog's stall limit in milliseconds; default 1000.
    pub stall_ms: NonZeroU32,
    /// `rank-check=on|off`: the lock-rank checker; default on in builds with debug assertions.
    pub rank_check: bool,
    /// `seed=N`: the seed of the timing perturbation (`sync::perturb`), any `u64`; default 0,
    /// which means no perturbation.
    pub seed: u64,
    /// `earlycon=NAME[,IOTYPE],ADDR[,OPTIONS]` (Linux's syntax): the UART to use when the DTB
    /// names no console the kernel can drive. The bare word `earlycon` (Linux: use the DTB's
    /// console) is accepted and means the default, `None`; a value this kernel cannot use
    /// (`earlycon=efifb`) counts as an unknown word.
    pub earlycon: Option<UartConfig>,
    /// `trace`: record the scheduler timeline and dump it at the end of the run (a kernel
    /// built with the cargo feature `trace` only); default off.
    pub trace: bool,
    unknown_words: Vec<&'a str, MAX_UNKNOWN_WORDS>,
    unknown_word_count: usize,
}

impl<'a> BootArgs<'a> {
    /// The first [`MAX_UNKNOWN_WORDS`] words that are not part of the grammar, in order.
    pub fn unknown_words(&self) -> &[&'a str] {
        &self.unknown_words
    }

    /// How many words were not part of the grammar, including those past
    /// [`MAX_UNKNOWN_WORDS`] that [`BootArgs::unknown_words`] does not list.
    pub fn unknown_word_count(&self) -> usize {
        self.unknown_word_count
    }

    fn add_unknown_word(&mut self, word: &'a str) {
        self.unknown_word_count += 1;
        // A full list is fine: the word is still counted.
        let _ = self.unknown_words.push(word);
    }
}

impl Default for BootArgs<'_> {
    /// Every setting at its default: what an empty command line gives.
    fn default() -> Self {
        Self {
            log_level: LevelFilter::Info,
            mode: Mode::Demo,
            test_cores: None,
            test_timeout_ms: DEFAULT_TEST_TIMEOUT_MS,
            exit: ExitMethod::Psci,
            monitor_core: None,
            slice_ms: DEFAULT_SLICE_MS,
            stall_ms: DEFAULT_STALL_MS,
            rank_check: cfg!(debug_assertions),
            seed: 0,
            earlycon: None,
            trace: false,
            unknown_words: Vec::new(),
            unknown_word_count: 0,
        }
    }
}

/// A known word with a value it cannot have. `Display` names the word and what it expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootArgError<'a> {
    /// The whole offending word, e.g. `log=loud`.
    pub word: &'a str,
    /// What the word should look like, e.g. `log=error|warn|info|debug|trace`.
    pub expected: &'static str,
}

impl fmt::Display for BootArgError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "bootargs: bad word `{}` (expected {})",
            self.word, self.expected
        )
    }
}

/// Parses a command line of words separated by ASCII whitespace. Unknown words are collected,
/// not rejected; the first malformed known word is the error.
pub fn parse(line: &str) -> Result<BootArgs<'_>, BootArgError<'_>> {
    let mut args = BootArgs::default();
    for text in line.split_ascii_whitespace() {
        let word = Word::new(text);
        match word.key {
            "log" => args.log_level = word.value("log=error|warn|info|debug|trace", log_level)?,
            "test" => {
                let selection =
                    word.value("test=SEL[,SEL...], no SEL empty", TestSelection::new)?;
                args.mode = Mode::Test(selection);
            }
            "test-cores" => {
                args.test_cores = Some(word.value("test-cores=N with N >= 1", decimal)?);
            }
            "test-timeout-ms" => {
                args.test_timeout_ms = word.value("test-timeout-ms=N with N >= 1", decimal)?;
            }
            "exit" => args.exit = word.value("exit=semihosting|psci", exit_method)?,
            "bench" | "demo" | "trace" if word.value.is_some() => {
                return Err(word.error("`bench`, `demo` or `trace` without a value"));
            }
            "trace" => args.trace = true,
            "bench" => args.mode = Mode::Bench,
            "demo" => args.mode = Mode::Demo,
            "monitor" => args.monitor_core = Some(word.value("monitor=ID, a core index", decimal)?),
            "slice-ms" => args.slice_ms = word.value("slice-ms=N with N >= 1", decimal)?,
            "stall-ms" => args.stall_ms = word.value("stall-ms=N with N >= 1", decimal)?,
            "rank-check" => args.rank_check = word.value("rank-check=on|off", on_off)?,
            "seed" => args.seed = word.value("seed=N with 0 <= N < 2^64", decimal)?,
            "earlycon" if word.value.is_none() => args.earlycon = None,
            // A console this kernel has no driver for (`earlycon=efifb`, `earlycon=tty0`) is
            // ignored with the other unknown words, as Linux ignores it.
            "earlycon" => match word.value.map(earlycon::parse) {
                Some(Ok(uart)) => args.earlycon = Some(uart),
                _ => args.add_unknown_word(text),
            },
            _ => args.add_unknown_word(text),
        }
    }
    Ok(args)
}

/// One word of the command line, split at its first `=`.
struct Word<'a> {
    text: &'a str,
    key: &'a str,
    value: Option<&'a str>,
}

impl<'a> Word<'a> {
    fn new(text: &'a str) -> Self {
        let (key, value) = match text.split_once('=') {
            Some((key, value)) => (key, Some(value)),
            None => (text, None),
        };
        Self { text, key, value }
    }

    /// The value parsed by `parse`, or an error saying the word should look like `expected`.
    fn value<T>(
        &self,
        expected: &'static str,
        parse: impl FnOnce(&'a str) -> Option<T>,
    ) -> Result<T, BootArgError<'a>> {
        self.value.and_then(parse).ok_or(self.error(expected))
    }

    fn error(&self, expected: &'static str) -> BootArgError<'a> {
        BootArgError {
            word: self.text,
            expected,
        }
    }
}

fn log_level(value: &str) -> Option<LevelFilter> {
    match value {
        "error" => Some(LevelFilter::Error),
        "warn" => Some(LevelFilter::Warn),
        "info" => Some(LevelFilter::Info),
        "debug" => Some(LevelFilter::Debug),
        "trace" => Some(LevelFilter::Trace),
        _ => None,
    }
}

fn exit_method(value: &str) -> Option<ExitMethod> {
    match value {
        "psci" => Some(ExitMethod::Psci),
        "semihosting" => Some(ExitMethod::Semihosting),
        _ => None,
    }
}

fn on_off(value: &str) -> Option<bool> {
    match value {
        "on" => Some(true),
        "off" => Some(false),
        _ => None,
    }
}

/// A decimal number of type `T` (so a `NonZero*` rejects 0): digits only, no sign.
fn decimal<T: FromStr>(value: &str) -> Option<T> {
    if value.bytes().all(|byte| byte.is_ascii_digit()) {
        value.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nonzero(value: u32) -> NonZeroU32 {
        NonZeroU32::new(value).unwrap()
    }

    fn error(word: &str) -> BootArgError<'_> {
        parse(word).expect_err("the word should be rejected")
    }

    #[test]
    fn empty_line_gives_the_defaults() {
        let args = parse("").unwrap();
        assert_eq!(args, BootArgs::default());
        assert_eq!(args.log_level, LevelFilter::Info);
        assert_eq!(args.mode, Mode::Demo);
        assert_eq!(args.test_cores, None);
        assert_eq!(args.test_timeout_ms, nonzero(30_000));
        assert_eq!(args.exit, ExitMethod::Psci);
        assert_eq!(args.monitor_core, None);
        assert_eq!(args.slice_ms, nonzero(10));
        assert_eq!(args.stall_ms, nonzero(1_000));
        assert_eq!(args.rank_check, cfg!(debug_assertions));
        assert_eq!(args.seed, 0);
        assert!(args.unknown_words().is_empty());
        assert_eq!(args.unknown_word_count(), 0);
        assert_eq!(parse(" \t\n ").unwrap(), BootArgs::default());
    }

    #[test]
    fn log_levels() {
        for (word, level) in [
            ("log=error", LevelFilter::Error),
            ("log=warn", LevelFilter::Warn),
            ("log=info", LevelFilter::Info),
            ("log=debug", LevelFilter::Debug),
            ("log=trace", LevelFilter::Trace),
        ] {
            assert_eq!(parse(word).unwrap().log_level, level, "{word}");
        }
    }

    #[test]
    fn every_setting() {
        let args = parse(
            "test=sched:: test-cores=2 test-timeout-ms=500 exit=semihosting monitor=3 \
             slice-ms=5 stall-ms=250 rank-check=off seed=42",
        )
        .unwrap();
        assert_eq!(
            args.mode,
            Mode::Test(TestSelection::new("sched::").unwrap())
        );
        assert_eq!(args.test_cores, NonZeroUsize::new(2));
        assert_eq!(args.test_timeout_ms, nonzero(500));
        assert_eq!(args.exit, ExitMethod::Semihosting);
        assert_eq!(args.monitor_core, Some(3));
        assert_eq!(args.slice_ms, nonzero(5));
        assert_eq!(args.stall_ms, nonzero(250));
        assert!(!args.rank_check);
        assert_eq!(args.seed, 42);
        assert!(parse("rank-check=on").unwrap().rank_check);
        assert_eq!(parse("seed=7 seed=0").unwrap().seed, 0);
        assert_eq!(parse("seed=18446744073709551615").unwrap().seed, u64::MAX);
        assert_eq!(parse("exit=psci").unwrap().exit, ExitMethod::Psci);
        assert_eq!(parse("monitor=0").unwrap().monitor_core, Some(0));
    }

    #[test]
    fn trace_is_a_switch_off_by_default() {
        assert!(!parse("test=all").unwrap().trace);
        assert!(parse("test=all trace").unwrap().trace);
        assert!(parse("trace bench").unwrap().trace);
    }

    #[test]
    fn modes_and_the_last_word_wins() {
        assert_eq!(parse("bench").unwrap().mode, Mode::Bench);
        assert_eq!(parse("demo").unwrap().mode, Mode::Demo);
        assert_eq!(parse("test=all bench").unwrap().mode, Mode::Bench);
        assert_eq!(parse("bench demo").unwrap().mode, Mode::Demo);
        let args = parse("bench test=boot:: log=error log=trace").unwrap();
        assert_eq!(args.mode, Mode::Test(TestSelection::new("boot::").unwrap()));
        assert_eq!(args.log_level, LevelFilter::Trace);
    }

    #[test]
    fn test_selection_all_excludes_selftests() {
        let all = TestSelection::new("all").unwrap();
        assert!(all.matches("boot::cores_online"));
        assert!(all.matches("sched::yield"));
        assert!(!all.matches("selftest::expected_pass"));
    }

    #[test]
    fn test_selection_exact_and_prefix() {
        let selection = TestSelection::new("boot::cores_online,selftest::,sched::").unwrap();
        assert!(selection.matches("boot::cores_online"));
        assert!(!selection.matches("boot::cores_online_twice"));
        assert!(!selection.matches("boot::sgi_every_core"));
        assert!(selection.matches("selftest::expected_fail"));
        assert!(selection.matches("sched::balance::steal"));
        assert!(!selection.matches("sched"));
        let both = TestSelection::new("all,selftest::expected_pass").unwrap();
        assert!(both.matches("timer::queue"));
        assert!(both.matches("selftest::expected_pass"));
        assert!(!both.matches("selftest::expected_fail"));
    }

    #[test]
    fn test_selection_rejects_empty_selectors() {
        for selectors in ["", ",", "all,", ",all", "a,,b"] {
            assert_eq!(TestSelection::new(selectors), None, "{selectors:?}");
        }
    }

    #[test]
    fn malformed_known_words_are_errors() {
        for word in [
            "log=loud",
            "log=INFO",
            "log",
            "log=",
            "test",
            "test=",
            "test=all,",
            "test-cores=0",
            "test-cores=-1",
            "test-cores=+2",
            "test-cores=two",
            "test-timeout-ms=0",
            "test-timeout-ms=99999999999",
            "exit=reboot",
            "exit",
            "bench=1",
            "demo=",
            "trace=on",
            "monitor",
            "monitor=last",
            "slice-ms=abc",
            "slice-ms=0",
            "stall-ms=",
            "stall-ms=1.5",
            "rank-check=yes",
            "rank-check",
            "seed",
            "seed=",
            "seed=-1",
            "seed=+1",
            "seed=0x10",
            "seed=1.5",
            "seed=18446744073709551616",
        ] {
            assert_eq!(error(word).word, word);
        }
        // The first bad word is the one reported, whatever follows.
        assert_eq!(error("log=debug slice-ms=x log=loud").word, "slice-ms=x");
    }

    #[test]
    fn errors_name_the_word_and_the_grammar() {
        assert_eq!(
            error("log=loud").to_string(),
            "bootargs: bad word `log=loud` (expected log=error|warn|info|debug|trace)"
        );
        assert_eq!(
            error("test-cores=0").to_string(),
            "bootargs: bad word `test-cores=0` (expected test-cores=N with N >= 1)"
        );
        assert_eq!(
            error("seed=-1").to_string(),
            "bootargs: bad word `seed=-1` (expected seed=N with 0 <= N < 2^64)"
        );
    }

    #[test]
    fn unknown_words_are_kept_in_order() {
        let args = parse("console=ttyAMA0 nokaslr log=debug root=/dev/vda =x quiet").unwrap();
        assert_eq!(
            args.unknown_words(),
            ["console=ttyAMA0", "nokaslr", "root=/dev/vda", "=x", "quiet"]
        );
        assert_eq!(args.unknown_word_count(), 5);
        assert_eq!(args.log_level, LevelFilter::Debug);
    }

    #[test]
    fn unknown_words_past_the_capacity_are_counted() {
        let line = "w0 w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11";
        let args = parse(line).unwrap();
        let expected: std::vec::Vec<&str> = line.split(' ').take(MAX_UNKNOWN_WORDS).collect();
        assert_eq!(args.unknown_words(), expected);
        assert_eq!(args.unknown_word_count(), 12);
    }

    #[test]
    fn each_selector_stands_alone() {
        let selection = TestSelection::new("sched::,boot::cores_online,all").unwrap();
        let each: std::vec::Vec<std::string::String> =
            selection.each().map(|one| one.to_string()).collect();
        assert_eq!(each, ["sched::", "boot::cores_online", "all"]);
        let only_boot = selection.each().nth(1).unwrap();
        assert!(only_boot.matches("boot::cores_online"));
        assert!(!only_boot.matches("sched::spawn_and_join"));
    }

    #[test]
    fn earlycon_names_a_uart_or_is_ignored() {
        let args = parse("earlycon=pl011,0x9000000").unwrap();
        assert_eq!(args.earlycon, Some(UartConfig::pl011(0x900_0000)));
        assert_eq!(parse("earlycon").unwrap().earlycon, None);
        let unknown = parse("earlycon=efifb earlycon=tty0").unwrap();
        assert_eq!(unknown.earlycon, None);
        assert_eq!(unknown.unknown_words(), ["earlycon=efifb", "earlycon=tty0"]);
    }
}
