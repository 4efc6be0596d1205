//! One figure's breakdown: the instructions of its window per operation, by function, checked
//! against the figure the kernel printed, and printed sorted with the small ones folded.

use std::collections::HashMap;
use std::fmt;

use super::symbols::Symbols;
use super::windows::Window;

/// The benchmark's control figure: a loop of two instructions, `subs` and `b.ne`, per turn.
pub const CONTROL_FIGURE: &str = "control_loop";

/// Instructions per counter tick: the clock the kernel times with ticks at 62.5 MHz on the
/// CPUs QEMU models here (16 ns, so 16 instructions under `-icount shift=0`), so a window may
/// hold up to one tick more or less than the figure's clock saw.
const TICK_INSTRUCTIONS: u64 = 16;

/// Functions under this share of a figure (in thousandths) are folded into "other".
const FOLD_PER_MILLE: u64 = 10;

/// Where a figure's instructions went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Breakdown {
    /// The figure's name, e.g. `yield_switch`.
    pub name: String,
    /// The figure the kernel printed, instructions per operation.
    pub figure: u64,
    /// Operations the window timed.
    pub operations: u64,
    /// The vCPU that timed it.
    pub cpu: u32,
    /// Instructions per function in the window, most first (ties by name); code outside every
    /// function is counted under its address.
    pub functions: Vec<(String, u64)>,
}

impl Breakdown {
    /// Attributes `window`, which timed `operations` operations of figure `name` (printed as
    /// `figure`), to the functions of `symbols`, the kernel loaded at `load_address`. `Err` if
    /// the window does not hold what the figure measured: its total per operation must round
    /// down to the figure, give or take a counter tick.
    pub fn new(
        name: &str,
        figure: u64,
        operations: u64,
        window: &Window,
        symbols: &Symbols,
        load_address: u64,
    ) -> Result<Breakdown, String> {
        let mut by_function: HashMap<String, u64> = HashMap::new();
        for (&pc, &count) in &window.counts {
            let name = pc
                .checked_sub(load_address)
                .and_then(|address| symbols.function_at(address))
                .map_or_else(
                    || format!("{pc:#x} (outside the kernel's functions)"),
                    str::to_owned,
                );
            *by_function.entry(name).or_default() += count;
        }
        let mut functions: Vec<(String, u64)> = by_function.into_iter().collect();
        functions.sort_by(|(a_name, a), (b_name, b)| b.cmp(a).then_with(|| a_name.cmp(b_name)));
        let breakdown = Breakdown {
            name: name.to_owned(),
            figure,
            operations,
            cpu: window.cpu,
            functions,
        };
        let total = breakdown.total();
        let low = (figure * operations).saturating_sub(TICK_INSTRUCTIONS);
        let high = (figure + 1) * operations + TICK_INSTRUCTIONS;
        if operations == 0 || !(low..high).contains(&total) {
            return Err(format!(
                "{name}: the window holds {total} instructions for {operations} operations, \
                 which is not the figure {figure} per operation"
            ));
        }
        Ok(breakdown)
    }

    /// Every instruction in the window.
    pub fn total(&self) -> u64 {
        self.functions.iter().map(|(_, count)| count).sum()
    }

    /// Checks that this, the control's breakdown, is its loop and nothing else: the two
    /// instructions that ran most ran once per turn each, one after the other, the second a
    /// conditional branch back to the first, and the rest of the window is less than one
    /// instruction per turn (the clock reads' arithmetic).
    pub fn check_control(
        window: &Window,
        operations: u64,
        symbols: &Symbols,
        load_address: u64,
    ) -> Result<(), String> {
        let mut hottest: Vec<(u64, u64)> = window.counts.iter().map(|(&pc, &n)| (pc, n)).collect();
        hottest.sort_by_key(|&(pc, count)| (std::cmp::Reverse(count), pc));
        let fail = |why: &str| {
            Err(format!(
                "the control's window is not its 2-instruction loop: {why}"
            ))
        };
        let [(first, first_count), (second, second_count), ..] = hottest[..] else {
            return fail("it ran fewer than two instructions");
        };
        let (top, bottom) = (first.min(second), first.max(second));
        if first_count != operations || second_count != operations {
            return fail(&format!(
                "its hottest instructions ran {first_count} and {second_count} times, not {operations}"
            ));
        }
        let branch = bottom
            .checked_sub(load_address)
            .and_then(|address| symbols.instruction_at(address));
        if bottom != top + 4 || !branch.is_some_and(is_branch_back_one) {
            return fail(&format!(
                "{top:#x} and {bottom:#x} are not an instruction and a branch back to it"
            ));
        }
        let rest = window.total() - 2 * operations;
        if rest >= operations {
            return fail(&format!("{rest} other instructions ran in it"));
        }
        Ok(())
    }
}

/// Whether `instruction` is a conditional branch (`b.<cond>`) to the instruction before it.
fn is_branch_back_one(instruction: u32) -> bool {
    const B_COND: u32 = 0x5400_0000;
    const B_COND_MASK: u32 = 0xff00_0010;
    const IMM19_MINUS_ONE: u32 = 0x7ffff;
    instruction & B_COND_MASK == B_COND && (instruction >> 5) & 0x7ffff == IMM19_MINUS_ONE
}

impl fmt::Display for Breakdown {
    /// A header line, then one line per function with its instructions per operation (most
    /// first), the small ones folded into one "other" line, and the total, which rounds down to
    /// the figure.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.total();
        writeln!(
            f,
            "breakdown {}: {} instructions per operation, {} operations timed on vCPU {}, {} instructions in the window",
            self.name, self.figure, self.operations, self.cpu, total
        )?;
        let per_operation = |count: u64| count as f64 / self.operations as f64;
        let (shown, folded): (Vec<_>, Vec<_>) = self
            .functions
            .iter()
            .partition(|(_, count)| count * 1000 >= total * FOLD_PER_MILLE);
        for (name, count) in &shown {
            writeln!(f, "  {:>9.2}  {name}", per_operation(*count))?;
        }
        if !folded.is_empty() {
            let count = folded.iter().map(|(_, count)| count).sum();
            writeln!(
                f,
                "  {:>9.2}  other ({} functions, each under 1%)",
                per_operation(count),
                folded.len()
            )?;
        }
        writeln!(f, "  {:>9.2}  total", per_operation(total))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOAD: u64 = 0x4008_0000;
    /// `subs x8, x8, #1` then `b.ne` back to it.
    const SUBS: u32 = 0xf100_0508;
    const B_NE_BACK: u32 = 0x54ff_ffe1;

    fn symbols() -> Symbols {
        let code = [SUBS, B_NE_BACK, 0xd65f_03c0]
            .iter()
            .flat_map(|word| word.to_le_bytes())
            .collect();
        Symbols::new(
            vec![
                ("control".into(), 0x1000, 12),
                ("schedule".into(), 0x2000, 0x100),
                ("pick_next".into(), 0x2100, 0x100),
                ("tiny".into(), 0x2200, 0x10),
            ],
            vec![(0x1000, code)],
        )
    }

    fn window(counts: &[(u64, u64)]) -> Window {
        Window {
            cpu: 1,
            counts: counts
                .iter()
                .map(|&(address, n)| (LOAD + address, n))
                .collect(),
        }
    }

    #[test]
    fn instructions_go_to_their_functions_most_first() {
        let window = window(&[(0x2000, 300), (0x2004, 300), (0x2100, 390), (0x2200, 10)]);
        let breakdown =
            Breakdown::new("yield_switch", 100, 10, &window, &symbols(), LOAD).expect("sums up");
        assert_eq!(
            breakdown.functions,
            [
                ("schedule".to_owned(), 600),
                ("pick_next".to_owned(), 390),
                ("tiny".to_owned(), 10)
            ]
        );
        assert_eq!(
            breakdown.to_string(),
            "breakdown yield_switch: 100 instructions per operation, 10 operations timed on vCPU 1, 1000 instructions in the window\n\
             \x20     60.00  schedule\n\
             \x20     39.00  pick_next\n\
             \x20      1.00  tiny\n\
             \x20    100.00  total\n"
        );
    }

    #[test]
    fn small_functions_are_folded_and_unknown_code_is_named_by_address() {
        let window = window(&[(0x2000, 995), (0x2200, 4), (0x9000, 1)]);
        let breakdown = Breakdown::new("f", 1, 1000, &window, &symbols(), LOAD).expect("sums up");
        let printed = breakdown.to_string();
        assert!(
            printed.contains("0.01  other (2 functions, each under 1%)"),
            "{printed}"
        );
        assert!(
            breakdown
                .functions
                .iter()
                .any(|(name, _)| name == "0x40089000 (outside the kernel's functions)"),
            "{:?}",
            breakdown.functions
        );
    }

    #[test]
    fn a_window_that_does_not_add_up_to_the_figure_is_refused() {
        let symbols = symbols();
        let exact = window(&[(0x2000, 100_000)]);
        assert!(Breakdown::new("f", 100, 1000, &exact, &symbols, LOAD).is_ok());
        assert!(
            Breakdown::new("f", 99, 1000, &exact, &symbols, LOAD).is_ok(),
            "rounded down"
        );
        let within_a_tick = window(&[(0x2000, 100_000 + TICK_INSTRUCTIONS - 1)]);
        assert!(Breakdown::new("f", 99, 1000, &within_a_tick, &symbols, LOAD).is_ok());
        for (figure, operations) in [(101, 1000), (98, 1000), (100, 2000), (100, 0)] {
            assert!(
                Breakdown::new("f", figure, operations, &exact, &symbols, LOAD).is_err(),
                "{figure} x {operations}"
            );
        }
    }

    #[test]
    fn the_control_must_be_its_loop() {
        let symbols = symbols();
        let turns = 1000;
        let check = |counts: &[(u64, u64)]| {
            Breakdown::check_control(&window(counts), turns, &symbols, LOAD)
        };
        assert_eq!(
            check(&[(0x1000, turns), (0x1004, turns), (0x1008, 5)]),
            Ok(())
        );
        for wrong in [
            &[(0x1000, turns), (0x1004, turns - 1), (0x1008, 5)][..],
            &[(0x1000, turns), (0x2000, turns)],
            &[(0x2000, turns), (0x2004, turns)],
            &[(0x1000, turns), (0x1004, turns), (0x2000, turns)],
            &[(0x1000, turns)],
        ] {
            assert!(check(wrong).is_err(), "{wrong:?}");
        }
    }
}
