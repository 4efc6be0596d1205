//! What the breakdown needs from the kernel's ELF: its functions (demangled, without hashes) by
//! address, the benchmark's two window markers, and the code itself, to tell which
//! instructions read the generic timer's counter. Addresses here are the ELF's; the kernel is
//! position independent, so a guest address is an ELF address plus the load address.

use std::path::Path;

use object::{Object, ObjectSection, ObjectSymbol, SectionKind, SymbolKind};

/// The function the benchmark calls on the timing core just before a figure's clock starts.
pub const WINDOW_OPEN: &str = "coresched::bench::window_open";
/// The function it calls there just after the clock stops.
pub const WINDOW_CLOSE: &str = "coresched::bench::window_close";

/// One function: `[start, end)` in the ELF's addresses and its demangled name.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Function {
    start: u64,
    end: u64,
    name: String,
}

/// The kernel's functions and code, read from its ELF (or made up for tests).
#[derive(Clone, Debug, Default)]
pub struct Symbols {
    /// Sorted by start; no two overlap.
    functions: Vec<Function>,
    /// Executable sections: start address and bytes.
    code: Vec<(u64, Vec<u8>)>,
}

impl Symbols {
    /// Reads the symbol table and executable sections of the ELF at `path`; `Err` says why it
    /// could not.
    pub fn read(path: &Path) -> Result<Symbols, String> {
        let bytes = std::fs::read(path)
            .map_err(|error| format!("cannot read the kernel ELF {}: {error}", path.display()))?;
        Self::parse(&bytes).map_err(|why| format!("kernel ELF {}: {why}", path.display()))
    }

    /// The symbols of ELF `bytes`: every function symbol, and every named code symbol that is
    /// not an ELF mapping symbol (`$x`, `$d`), such as the assembly's entry points.
    pub fn parse(bytes: &[u8]) -> Result<Symbols, String> {
        let file = object::File::parse(bytes).map_err(|error| format!("not an ELF: {error}"))?;
        let code = file
            .sections()
            .filter(|section| section.kind() == SectionKind::Text)
            .map(|section| {
                let data = section
                    .data()
                    .map_err(|error| format!("unreadable code section: {error}"))?;
                Ok((section.address(), data.to_vec()))
            })
            .collect::<Result<Vec<_>, String>>()?;
        let functions = file
            .symbols()
            .filter(|symbol| {
                matches!(symbol.kind(), SymbolKind::Text | SymbolKind::Unknown)
                    && symbol.section_index().is_some_and(|index| {
                        file.section_by_index(index)
                            .is_ok_and(|section| section.kind() == SectionKind::Text)
                    })
            })
            .filter_map(|symbol| {
                let name = symbol.name().ok()?;
                (!name.is_empty() && !name.starts_with('$') && !name.starts_with(".L"))
                    .then(|| (name.to_owned(), symbol.address(), symbol.size()))
            })
            .collect();
        Ok(Self::new(functions, code))
    }

    /// Symbols from `(mangled or plain name, start, size)` triples (a size of 0 reaches to the
    /// next symbol) and the code at given addresses. Of several symbols at one address, the
    /// first is kept and any other is dropped only if its name is the same.
    pub fn new(symbols: Vec<(String, u64, u64)>, code: Vec<(u64, Vec<u8>)>) -> Symbols {
        let mut symbols: Vec<_> = symbols
            .into_iter()
            .map(|(name, start, size)| (start, size, demangled(&name)))
            .collect();
        symbols.sort();
        symbols.dedup();
        let starts: Vec<u64> = symbols.iter().map(|(start, ..)| *start).collect();
        let functions = symbols
            .iter()
            .enumerate()
            .map(|(index, (start, size, name))| {
                let next = starts[index + 1..]
                    .iter()
                    .copied()
                    .find(|next| next > start)
                    .unwrap_or(u64::MAX);
                let end = if *size == 0 { next } else { start + size };
                Function {
                    start: *start,
                    end: end.min(next),
                    name: name.clone(),
                }
            })
            .collect();
        Symbols { functions, code }
    }

    /// The name of the function holding ELF address `address`, if any does.
    pub fn function_at(&self, address: u64) -> Option<&str> {
        let after = self
            .functions
            .partition_point(|function| function.start <= address);
        let function = self.functions[..after].last()?;
        (address < function.end).then_some(function.name.as_str())
    }

    /// The entry of the one function called `name`; `Err` if there is none, or if another
    /// symbol shares its address (the marker would not be the only code there).
    pub fn entry_of(&self, name: &str) -> Result<u64, String> {
        let mut named = self
            .functions
            .iter()
            .filter(|function| function.name == name);
        let (Some(function), None) = (named.next(), named.next()) else {
            return Err(format!(
                "the kernel has no single function {name}: is it the benchmark kernel?"
            ));
        };
        let sharing: Vec<&str> = self
            .functions
            .iter()
            .filter(|other| other.start == function.start && other.name != name)
            .map(|other| other.name.as_str())
            .collect();
        if sharing.is_empty() {
            Ok(function.start)
        } else {
            Err(format!("{name} shares its address with {sharing:?}"))
        }
    }

    /// The 32-bit instruction at ELF address `address`, if it is in the code.
    pub fn instruction_at(&self, address: u64) -> Option<u32> {
        self.code.iter().find_map(|(start, bytes)| {
            let offset = usize::try_from(address.checked_sub(*start)?).ok()?;
            let word = bytes.get(offset..offset.checked_add(4)?)?;
            Some(u32::from_le_bytes(word.try_into().ok()?))
        })
    }

    /// The ELF address of every instruction that reads the generic timer's counter.
    pub fn counter_reads(&self) -> Vec<u64> {
        self.code
            .iter()
            .flat_map(|(start, bytes)| {
                bytes
                    .chunks_exact(4)
                    .enumerate()
                    .filter(|(_, word)| {
                        reads_counter(u32::from_le_bytes([word[0], word[1], word[2], word[3]]))
                    })
                    .map(move |(index, _)| start + 4 * index as u64)
            })
            .collect()
    }
}

/// Whether `instruction` is `mrs Xt, cntvct_el0` or `mrs Xt, cntpct_el0`: a clock read.
pub fn reads_counter(instruction: u32) -> bool {
    const MRS_CNTPCT_EL0: u32 = 0xd53b_e020;
    const MRS_CNTVCT_EL0: u32 = 0xd53b_e040;
    matches!(instruction & !0x1f, MRS_CNTPCT_EL0 | MRS_CNTVCT_EL0)
}

/// A symbol's name as Rust spells the path, without the hash (plain names as they are).
fn demangled(name: &str) -> String {
    format!("{:#}", rustc_demangle::demangle(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `_ZN9coresched5bench11window_open17h0123456789abcdefE`, mangled as rustc does.
    const OPEN_MANGLED: &str = "_ZN9coresched5bench11window_open17h0123456789abcdefE";

    fn symbols() -> Symbols {
        let code = [0xd503_201f_u32, 0xd53b_e043, 0xd65f_03c0, 0xd53b_e021]
            .iter()
            .flat_map(|word| word.to_le_bytes())
            .collect();
        Symbols::new(
            vec![
                ("start".into(), 0x0, 0),
                (OPEN_MANGLED.into(), 0x100, 8),
                ("asm_label".into(), 0x200, 0),
                ("last".into(), 0x300, 4),
            ],
            vec![(0x1000, code)],
        )
    }

    #[test]
    fn an_address_belongs_to_the_function_that_holds_it() {
        let symbols = symbols();
        assert_eq!(symbols.function_at(0x0), Some("start"));
        assert_eq!(symbols.function_at(0xfc), Some("start"));
        assert_eq!(symbols.function_at(0x104), Some(WINDOW_OPEN));
        assert_eq!(symbols.function_at(0x108), None, "past its size");
        assert_eq!(symbols.function_at(0x2fc), Some("asm_label"));
        assert_eq!(symbols.function_at(0x304), None);
        assert_eq!(symbols.entry_of(WINDOW_OPEN), Ok(0x100));
        assert!(symbols.entry_of(WINDOW_CLOSE).is_err());
    }

    #[test]
    fn a_marker_sharing_its_address_is_refused() {
        let merged = Symbols::new(
            vec![
                (OPEN_MANGLED.into(), 0x100, 4),
                ("empty_closure".into(), 0x100, 4),
            ],
            Vec::new(),
        );
        let error = merged.entry_of(WINDOW_OPEN).expect_err("not alone");
        assert!(error.contains("empty_closure"), "{error}");
    }

    #[test]
    fn counter_reads_are_found_in_the_code() {
        let symbols = symbols();
        assert_eq!(symbols.counter_reads(), [0x1004, 0x100c]);
        assert_eq!(symbols.instruction_at(0x1008), Some(0xd65f_03c0));
        assert_eq!(symbols.instruction_at(0x100e), None);
        assert!(
            !reads_counter(0xd53b_e000),
            "mrs x0, cntfrq_el0 is not a clock read"
        );
    }
}
