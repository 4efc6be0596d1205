//! Seeded fuzzing of the DTB reader and of [`discover`]: corrupted copies of every saved DTB
//! (`tests/data/`) must come back as a platform that keeps [`discover`]'s promises or as an
//! error, never as a panic or a hang. Deterministic from a seed.
//!
//! The corruptions: random bit flips and bytes, edge-case words, header fields (sizes and
//! offsets), truncation (with and without a header that admits it), property name offsets and
//! lengths, structure tokens (unbalanced or misplaced nodes), `interrupt-parent` links made
//! into cycles, and `stdout-path` / alias paths. Each run also counts the accepted platforms by
//! the console rule that picked their console and by whether their PSCI CPUs can be started,
//! and checks that every console rule and the missing-PSCI case were reached.
//!
//! Every other pass over the seeds runs [`discover_assuming_memory`], as `cargo dtb` does, so
//! that the board DTBs without a `/memory` node get past it.
//!
//! `fuzz` runs [`CI_BLOBS`] blobs; the ignored `fuzz_long` runs [`LONG_BLOBS`]:
//!
//! ```sh
//! cargo test --release -p coresched --lib platform::dtb::fuzz::fuzz_long -- --ignored --nocapture
//! ```
//!
//! `CORESCHED_DTB_FUZZ_BLOBS` overrides the count of either, `CORESCHED_DTB_FUZZ_SEED` the
//! seed (decimal or `0x` hex). A failing blob is written to `target/dtb-fuzz-failure.dtb`.

use std::collections::BTreeMap;
use std::panic::{self, AssertUnwindSafe};
use std::string::String;
use std::time::{Duration, Instant};
use std::vec::Vec;

use super::fdt::{
    Fdt, OFF_DT_STRINGS, OFF_DT_STRUCT, OFF_SIZE_DT_STRINGS, OFF_SIZE_DT_STRUCT, OFF_TOTALSIZE,
    Token, be32,
};
use super::tests::ALL;
use super::{
    CannotStart, ConsoleRule, Gic, PhysRegion, Platform, SerialFound, blob_size, discover,
    discover_assuming_memory,
};

/// Blobs the CI test tries: a few seconds in a debug build.
const CI_BLOBS: usize = 20_000;
/// Blobs the long, ignored test tries.
const LONG_BLOBS: usize = 1_000_000;
const DEFAULT_SEED: u64 = 0x5eed_d7b0_c0de_cafe;
/// The RAM that stands in for a missing `/memory` on every other pass.
const ASSUMED_RAM: PhysRegion = PhysRegion {
    base: 0x4000_0000,
    size: 0x4000_0000,
};
/// A single blob taking longer than this is taken for a runaway loop (the slowest of a
/// million takes about 25 ms in a release build; the margin is for a busy host).
const HANG: Duration = Duration::from_secs(5);
/// Offsets of the header fields, in order (magic, totalsize, off_dt_struct, off_dt_strings,
/// off_mem_rsvmap, version, last_comp_version, boot_cpuid_phys, size_dt_strings,
/// size_dt_struct).
const HEADER_FIELDS: usize = 10;
/// Words that make lengths, offsets, cell counts and tokens interesting.
const EDGE_WORDS: [u32; 14] = [
    0,
    1,
    2,
    3,
    4,
    5,
    8,
    9,
    0x40,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_fff8,
    0xffff_fffe,
    u32::MAX,
];

/// A xorshift64 generator: deterministic corruption without extra crates.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `bound` (which must not be 0).
    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }

    /// One of `items`, or `None` if there are none.
    fn pick<T: Copy>(&mut self, items: &[T]) -> Option<T> {
        (!items.is_empty()).then(|| items[self.below(items.len())])
    }

    /// An edge-case word, a random one, or `near` moved by a few.
    fn word(&mut self, near: u32) -> u32 {
        match self.below(3) {
            0 => EDGE_WORDS[self.below(EDGE_WORDS.len())],
            1 => self.next() as u32,
            _ => near.wrapping_add(self.below(17) as u32).wrapping_sub(8),
        }
    }
}

/// Where a seed DTB keeps what the targeted corruptions aim at, as offsets in the blob.
struct SeedMap {
    /// `FDT_BEGIN_NODE` and `FDT_END_NODE` tokens.
    node_tokens: Vec<usize>,
    /// Every property's length word.
    lengths: Vec<usize>,
    /// Every property's name-offset word.
    name_offsets: Vec<usize>,
    /// The values of `interrupt-parent` properties.
    interrupt_parents: Vec<usize>,
    /// The values of `phandle` properties, and the values themselves.
    phandles: Vec<(usize, u32)>,
    /// The bytes of path values: `stdout-path` and every alias.
    paths: Vec<usize>,
    /// The name `interrupt-controller` in the strings block.
    interrupt_controller_name: Option<usize>,
}

impl SeedMap {
    fn new(blob: &[u8]) -> Self {
        let fdt = Fdt::new(blob).expect("a seed DTB is well formed");
        let structure = be32(blob, OFF_DT_STRUCT).unwrap() as usize;
        let mut map = SeedMap {
            node_tokens: Vec::new(),
            lengths: Vec::new(),
            name_offsets: Vec::new(),
            interrupt_parents: Vec::new(),
            phandles: Vec::new(),
            paths: Vec::new(),
            interrupt_controller_name: None,
        };
        let mut in_aliases = Vec::new();
        for (offset, token) in fdt.tokens() {
            let at = structure + offset;
            match token {
                Token::BeginNode(name) => {
                    map.node_tokens.push(at);
                    in_aliases.push(name == b"aliases");
                }
                Token::EndNode => {
                    map.node_tokens.push(at);
                    in_aliases.pop();
                }
                Token::Prop(property) => {
                    let value = at + 12;
                    map.lengths.push(at + 4);
                    map.name_offsets.push(at + 8);
                    if property.is_named("interrupt-parent") {
                        map.interrupt_parents.push(value);
                    }
                    if let Some(phandle) =
                        property.as_u32().filter(|_| property.is_named("phandle"))
                    {
                        map.phandles.push((value, phandle));
                    }
                    if property.is_named("stdout-path") || in_aliases.last() == Some(&true) {
                        map.paths.extend(value..value + property.value().len());
                    }
                }
                Token::Nop | Token::End => {}
            }
        }
        let strings = be32(blob, OFF_DT_STRINGS).unwrap() as usize;
        let name = b"\0interrupt-controller\0";
        map.interrupt_controller_name = blob[strings - 1..]
            .windows(name.len())
            .position(|window| window == name)
            .map(|position| strings + position);
        map
    }
}

/// Sets the big-endian word at `at`, if it fits.
fn set_word(blob: &mut [u8], at: usize, value: u32) {
    if let Some(word) = blob.get_mut(at..at + 4) {
        word.copy_from_slice(&value.to_be_bytes());
    }
}

/// Sets the byte at `at`, if the blob (maybe truncated already) still has it.
fn set_byte(blob: &mut [u8], at: usize, value: u8) {
    if let Some(byte) = blob.get_mut(at) {
        *byte = value;
    }
}

/// Applies one corruption, chosen at random, to `blob`.
fn corrupt(blob: &mut Vec<u8>, map: &SeedMap, rng: &mut XorShift) {
    let len = blob.len();
    match rng.below(10) {
        0 => {
            for _ in 0..1 + rng.below(8) {
                let at = rng.below(len);
                blob[at] ^= 1 << rng.below(8);
            }
        }
        1 => {
            for _ in 0..1 + rng.below(8) {
                let at = rng.below(len);
                blob[at] = rng.next() as u8;
            }
        }
        2 => {
            let at = rng.below(len) & !3;
            let word = rng.word(be32(blob, at).unwrap_or(0));
            set_word(blob, at, word);
        }
        3 => {
            let at = 4 * rng.below(HEADER_FIELDS);
            let near = match rng.below(2) {
                0 => be32(blob, at).unwrap_or(0),
                _ => len as u32,
            };
            let word = rng.word(near);
            set_word(blob, at, word);
        }
        4 => truncate(blob, rng),
        5 => {
            if let Some(at) = rng.pick(&map.name_offsets) {
                let strings_size = be32(blob, OFF_SIZE_DT_STRINGS).unwrap_or(0);
                let word = rng.word(strings_size);
                set_word(blob, at, word);
            }
        }
        6 => {
            if let Some(at) = rng.pick(&map.lengths) {
                let word = rng.word(be32(blob, at).unwrap_or(0));
                set_word(blob, at, word);
            }
        }
        7 => unbalance(blob, map, rng),
        8 => make_phandle_cycles(blob, map, rng),
        _ => {
            for _ in 0..1 + rng.below(3) {
                if let Some(at) = rng.pick(&map.paths) {
                    let byte = rng.pick(b"/:@\0aZ1").unwrap_or(0);
                    set_byte(blob, at, byte);
                }
            }
        }
    }
}

/// Cuts the blob short; half the time relabels the header to claim the cut, its blocks shrunk
/// to what is left, so that the reader meets the truncated blocks themselves.
fn truncate(blob: &mut Vec<u8>, rng: &mut XorShift) {
    let keep = rng.below(blob.len());
    blob.truncate(keep);
    if rng.below(2) == 0 || keep < 40 {
        return;
    }
    let keep = keep as u32;
    set_word(blob, OFF_TOTALSIZE, keep);
    for (offset, size) in [
        (OFF_DT_STRUCT, OFF_SIZE_DT_STRUCT),
        (OFF_DT_STRINGS, OFF_SIZE_DT_STRINGS),
    ] {
        let left = keep.saturating_sub(be32(blob, offset).unwrap());
        let shrunk = be32(blob, size).unwrap().min(left);
        set_word(blob, size, shrunk);
    }
}

/// Turns node tokens into other tokens, or swaps two: unbalanced or misplaced nesting.
fn unbalance(blob: &mut [u8], map: &SeedMap, rng: &mut XorShift) {
    const TOKENS: [u32; 5] = [1, 2, 3, 4, 9];
    for _ in 0..1 + rng.below(3) {
        let (Some(first), Some(second)) = (rng.pick(&map.node_tokens), rng.pick(&map.node_tokens))
        else {
            return;
        };
        if rng.below(2) == 0 {
            let token = TOKENS[rng.below(TOKENS.len())];
            set_word(blob, first, token);
        } else {
            let (a, b) = (
                be32(blob, first).unwrap_or(0),
                be32(blob, second).unwrap_or(0),
            );
            set_word(blob, first, b);
            set_word(blob, second, a);
        }
    }
}

/// Points `interrupt-parent` links at random phandles (their own node's too), duplicates
/// phandles, and half the time renames `interrupt-controller` so that no chase stops early.
fn make_phandle_cycles(blob: &mut [u8], map: &SeedMap, rng: &mut XorShift) {
    let values: Vec<u32> = map.phandles.iter().map(|&(_, value)| value).collect();
    for &at in &map.interrupt_parents {
        if let Some(phandle) = rng.pick(&values) {
            set_word(blob, at, phandle);
        }
    }
    if let (Some((at, _)), Some(value)) = (rng.pick(&map.phandles), rng.pick(&values)) {
        set_word(blob, at, value);
    }
    if let Some(at) = map.interrupt_controller_name.filter(|_| rng.below(2) == 0) {
        set_byte(blob, at + 1, b'X');
    }
}

/// Reads everything the reader offers, so that its every path meets the corruption.
fn walk_everything(blob: &[u8]) -> usize {
    let Ok(fdt) = Fdt::new(blob) else {
        return 0;
    };
    let mut seen = fdt.reservations().count();
    for (depth, node) in fdt.nodes() {
        seen += depth + node.name_without_address().len() + node.children().count();
        for property in node.properties() {
            seen += property.value().len();
            seen += property.as_u32().map_or(0, |value| value as usize & 1);
            seen += property.as_str().map_or(0, str::len);
            seen += property
                .as_string_list()
                .map_or(0, |list| list.iter().count());
            seen += property.cells().map_or(0, Iterator::count);
        }
        // A few phandle look-ups: each is a walk of the whole tree.
        if let Some(link) = node
            .property("interrupt-parent")
            .and_then(|link| link.as_u32())
            .filter(|_| depth < 2)
        {
            seen += usize::from(fdt.node_by_phandle(link).is_some());
        }
    }
    seen += usize::from(fdt.root().child(b"cpus").is_some());
    seen
}

/// What [`discover`] promises about any platform it returns.
fn check_invariants(platform: &Platform<'_>) {
    assert!(!platform.cpus.is_empty());
    assert!(!platform.memory.is_empty());
    assert!(platform.memory.iter().all(|region| region.size() > 0));
    assert!(platform.cpus.len() + platform.skipped_cpus.len() <= crate::MAX_CORES);
    let mpidrs: Vec<u64> = platform
        .cpus
        .iter()
        .map(|cpu| cpu.mpidr)
        .chain(platform.skipped_cpus.iter().map(|cpu| cpu.mpidr))
        .collect();
    for (index, mpidr) in mpidrs.iter().enumerate() {
        assert_eq!(mpidr & !super::MPIDR_AFFINITY_MASK, 0);
        assert!(!mpidrs[..index].contains(mpidr));
    }
    if let Gic::V3 { redistributors, .. } = &platform.gic {
        assert!(!redistributors.is_empty());
    }
    let timer = platform.timer;
    for intid in [
        timer.secure_phys,
        timer.nonsecure_phys,
        timer.virt,
        timer.hyp_phys,
    ] {
        assert!((16..32).contains(&intid));
    }
    if let Some(console) = &platform.console {
        assert!(!console.to_string().is_empty());
    }
    if let Some(serial) = &platform.serial {
        assert!(serial.uart.config().is_some());
        assert!(platform.stdout_problem().is_some());
    }
    let choice = platform.choose_console(None);
    assert_eq!(
        choice.is_some(),
        platform.stdout_problem().is_none() || platform.serial.is_some()
    );
    if let Some(choice) = choice {
        assert!(!choice.to_string().is_empty());
    }
}

/// What an accepted platform exercised: the console rule that picked its console (without
/// `earlycon=`), and whether its PSCI CPUs are left off for want of a `/psci` node.
fn paths_taken(platform: &Platform<'_>) -> [&'static str; 2] {
    let console = match platform.choose_console(None).map(|choice| choice.rule) {
        Some(ConsoleRule::StdoutPath(_)) => "console from stdout-path",
        Some(ConsoleRule::Serial(serial)) => match serial.found {
            SerialFound::Alias { .. } => "console from a serial alias",
            SerialFound::FirstNode => "console from the first UART node",
        },
        Some(ConsoleRule::Earlycon) => unreachable!("no earlycon= was given"),
        None => "no console",
    };
    let no_psci = platform
        .cpus
        .iter()
        .any(|cpu| platform.cannot_start(cpu) == Some(CannotStart::NoPsciNode));
    [
        console,
        if no_psci {
            "PSCI CPUs left off: no /psci"
        } else {
            "no CPU left off for want of /psci"
        },
    ]
}

/// The paths of [`paths_taken`] every run must reach.
const REQUIRED_PATHS: [&str; 5] = [
    "console from stdout-path",
    "console from a serial alias",
    "console from the first UART node",
    "no console",
    "PSCI CPUs left off: no /psci",
];

/// A number from the environment variable `name` (decimal or `0x` hex), or `default`.
fn from_env(name: &str, default: u64) -> u64 {
    let Ok(text) = std::env::var(name) else {
        return default;
    };
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.unwrap_or_else(|_| panic!("{name}={text:?} is not a number"))
}

/// What a fuzz run saw.
struct Outcome {
    accepted: usize,
    rejected: usize,
    /// Rejections by reason (the message without its numbers).
    reasons: BTreeMap<String, usize>,
    /// Accepted platforms by each of the [`paths_taken`].
    paths: BTreeMap<&'static str, usize>,
    slowest: Duration,
    elapsed: Duration,
}

/// Corrupts `blobs` copies of the saved DTBs, in turn, from `seed`, and checks each.
fn run(blobs: usize, seed: u64) -> Outcome {
    let maps: Vec<SeedMap> = ALL.iter().map(|&(_, blob)| SeedMap::new(blob)).collect();
    let mut rng = XorShift(seed | 1);
    let mut outcome = Outcome {
        accepted: 0,
        rejected: 0,
        reasons: BTreeMap::new(),
        paths: BTreeMap::new(),
        slowest: Duration::ZERO,
        elapsed: Duration::ZERO,
    };
    let start = Instant::now();
    let mut copy = Vec::new();
    for index in 0..blobs {
        let which = index % ALL.len();
        let (name, blob) = ALL[which];
        copy.clear();
        copy.extend_from_slice(blob);
        for _ in 0..1 + rng.below(2) {
            if !copy.is_empty() {
                corrupt(&mut copy, &maps[which], &mut rng);
            }
        }
        let began = Instant::now();
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            let _ = blob_size(&copy);
            walk_everything(&copy);
            // Every other pass over the seeds stands in RAM for a missing `/memory`, as `cargo
            // dtb` does, so that board DTBs without one reach the rest of discovery too.
            let discovered = if (index / ALL.len()).is_multiple_of(2) {
                discover(&copy)
            } else {
                discover_assuming_memory(&copy, ASSUMED_RAM)
            };
            match discovered {
                Ok(platform) => {
                    check_invariants(&platform);
                    Ok(paths_taken(&platform))
                }
                Err(error) => {
                    assert!(!error.to_string().is_empty());
                    Err(error.reason().to_string())
                }
            }
        }));
        let took = began.elapsed();
        let failure = match &result {
            Err(_) => Some("panicked"),
            Ok(_) if took > HANG => Some("took too long"),
            Ok(_) => None,
        };
        if let Some(failure) = failure {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/target/dtb-fuzz-failure.dtb");
            let saved = std::fs::write(path, &copy)
                .map_or(String::from("not saved"), |()| String::from(path));
            panic!("blob #{index} (from {name}, seed {seed:#x}) {failure} after {took:?}: {saved}");
        }
        match result {
            Ok(Ok(paths)) => {
                outcome.accepted += 1;
                for path in paths {
                    *outcome.paths.entry(path).or_default() += 1;
                }
            }
            Ok(Err(kind)) => {
                outcome.rejected += 1;
                *outcome.reasons.entry(kind).or_default() += 1;
            }
            Err(_) => {}
        }
        outcome.slowest = outcome.slowest.max(took);
    }
    outcome.elapsed = start.elapsed();
    outcome
}

/// Runs `default` blobs (or `CORESCHED_DTB_FUZZ_BLOBS`) and reports.
fn fuzz_with(default: usize) {
    let blobs = from_env("CORESCHED_DTB_FUZZ_BLOBS", default as u64) as usize;
    let seed = from_env("CORESCHED_DTB_FUZZ_SEED", DEFAULT_SEED);
    let outcome = run(blobs, seed);
    println!(
        "dtb fuzz: {blobs} blobs from seed {seed:#x} in {:.1} s: {} accepted, {} rejected, \
         slowest {:?}; no panic, no hang",
        outcome.elapsed.as_secs_f64(),
        outcome.accepted,
        outcome.rejected,
        outcome.slowest
    );
    let mut reasons: Vec<_> = outcome.reasons.iter().collect();
    reasons.sort_by_key(|&(_, count)| usize::MAX - count);
    for (kind, count) in reasons.into_iter().take(12) {
        println!("  {count:>7} {kind}");
    }
    for (path, count) in &outcome.paths {
        println!("  {count:>7} accepted: {path}");
    }
    for path in REQUIRED_PATHS {
        assert!(
            outcome.paths.contains_key(path),
            "no accepted blob had {path:?}"
        );
    }
    // Both outcomes are common: the corruption reaches past the reader into discovery.
    assert!(
        outcome.accepted * 20 > blobs && outcome.rejected * 20 > blobs,
        "{} accepted, {} rejected",
        outcome.accepted,
        outcome.rejected
    );
}

#[test]
fn fuzz() {
    fuzz_with(CI_BLOBS);
}

#[test]
#[ignore = "a long run: cargo test --release ... fuzz_long -- --ignored"]
fn fuzz_long() {
    fuzz_with(LONG_BLOBS);
}
