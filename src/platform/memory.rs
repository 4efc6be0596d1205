//! The boot-time memory allocator: carves page-aligned blocks (stacks, with guard pages) out
//! of the RAM the DTB describes, around the kernel image, the DTB and reserved ranges.
//!
//! It only ever hands memory out (stacks and pools live as long as the kernel), which keeps it
//! trivially correct; it runs on the boot core before other cores exist.

use heapless::Vec;

/// The page size of the identity map.
pub const PAGE_SIZE: usize = 4096;

/// A half-open physical address range `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Range {
    fn overlaps(&self, other: &Range) -> bool {
        self.start < other.end && other.start < self.end
    }
}

impl From<crate::platform::dtb::PhysRegion> for Range {
    fn from(region: crate::platform::dtb::PhysRegion) -> Self {
        Self {
            start: region.base() as usize,
            end: region.end() as usize,
        }
    }
}

/// A stack: `[guard, bottom)` is an unmapped guard page, `[bottom, top)` the usable stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stack {
    /// The guard page's first byte; touching `[guard, bottom)` faults.
    pub guard: usize,
    /// Lowest usable byte.
    pub bottom: usize,
    /// One past the highest usable byte: the initial stack pointer.
    pub top: usize,
}

/// Why an allocation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutOfMemory {
    /// No free RAM range had room for the request.
    Exhausted {
        /// Bytes asked for.
        requested: usize,
    },
    /// More guard pages than the allocator tracks.
    TooManyGuards,
}

impl core::fmt::Display for OutOfMemory {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Exhausted { requested } => {
                write!(f, "out of boot memory: {requested} bytes requested")
            }
            Self::TooManyGuards => write!(f, "too many guard pages to track"),
        }
    }
}

/// Most guard pages tracked: two stacks per core plus the task-stack pool.
pub const MAX_GUARDS: usize = 4 * crate::MAX_CORES;

/// Hands out page-aligned memory from the free parts of RAM, remembering guard pages.
pub struct BootAllocator {
    free: Vec<Range, 16>,
    guards: Vec<usize, MAX_GUARDS>,
}

impl BootAllocator {
    /// Free memory is `ram` minus every range in `reserved`, shrunk to whole pages.
    pub fn new(ram: &[Range], reserved: &[Range]) -> Self {
        let mut free: Vec<Range, 16> = Vec::new();
        for region in ram {
            let mut pieces: Vec<Range, 16> = Vec::new();
            // Cannot fail: a fresh vector has room for one.
            pieces.push(*region).unwrap();
            for hole in reserved {
                let mut next: Vec<Range, 16> = Vec::new();
                for piece in &pieces {
                    if !piece.overlaps(hole) {
                        let _ = next.push(*piece);
                        continue;
                    }
                    if piece.start < hole.start {
                        let _ = next.push(Range {
                            start: piece.start,
                            end: hole.start,
                        });
                    }
                    if hole.end < piece.end {
                        let _ = next.push(Range {
                            start: hole.end,
                            end: piece.end,
                        });
                    }
                }
                pieces = next;
            }
            for piece in pieces {
                let start = piece.start.next_multiple_of(PAGE_SIZE);
                let end = piece.end & !(PAGE_SIZE - 1);
                if start < end {
                    let _ = free.push(Range { start, end });
                }
            }
        }
        Self {
            free,
            guards: Vec::new(),
        }
    }

    /// Allocates `size` bytes (rounded up to pages), page aligned, from the highest free range
    /// that fits, so low memory stays free for loaders.
    pub fn allocate(&mut self, size: usize) -> Result<usize, OutOfMemory> {
        let size = size.next_multiple_of(PAGE_SIZE);
        let range = self
            .free
            .iter_mut()
            .filter(|range| range.end - range.start >= size)
            .max_by_key(|range| range.end)
            .ok_or(OutOfMemory::Exhausted { requested: size })?;
        range.end -= size;
        Ok(range.end)
    }

    /// Allocates a stack of `size` bytes with an unmapped guard page below it.
    pub fn allocate_stack(&mut self, size: usize) -> Result<Stack, OutOfMemory> {
        if self.guards.is_full() {
            return Err(OutOfMemory::TooManyGuards);
        }
        let guard = self.allocate(size + PAGE_SIZE)?;
        // Cannot fail: checked for room above.
        self.guards.push(guard).unwrap();
        let bottom = guard + PAGE_SIZE;
        Ok(Stack {
            guard,
            bottom,
            top: bottom + size.next_multiple_of(PAGE_SIZE),
        })
    }

    /// The size of the largest free range left.
    pub fn largest_free(&self) -> usize {
        self.free
            .iter()
            .map(|range| range.end - range.start)
            .max()
            .unwrap_or(0)
    }

    /// Every guard page handed out so far: the identity map leaves them unmapped.
    pub fn guard_pages(&self) -> &[usize] {
        &self.guards
    }

    /// The guard page containing `address`, if `address` is in one.
    pub fn guard_containing(&self, address: usize) -> Option<usize> {
        self.guards
            .iter()
            .copied()
            .find(|guard| (*guard..guard + PAGE_SIZE).contains(&address))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: usize = 1 << 20;

    #[test]
    fn allocations_avoid_reserved_ranges_and_are_page_aligned() {
        let ram = [Range {
            start: 0x4000_0000,
            end: 0x4000_0000 + 64 * MIB,
        }];
        let image = Range {
            start: 0x4008_0000,
            end: 0x4010_0123,
        };
        let dtb = Range {
            start: 0x43f0_0000 + 17,
            end: 0x43f1_0000,
        };
        let mut allocator = BootAllocator::new(&ram, &[image, dtb]);
        for _ in 0..200 {
            let block = allocator.allocate(3 * PAGE_SIZE + 1).unwrap();
            assert_eq!(block % PAGE_SIZE, 0);
            let range = Range {
                start: block,
                end: block + 4 * PAGE_SIZE,
            };
            assert!(
                !range.overlaps(&image) && !range.overlaps(&dtb),
                "{range:x?}"
            );
            assert!(block >= ram[0].start && range.end <= ram[0].end);
        }
    }

    #[test]
    fn stacks_have_guard_pages_and_are_remembered() {
        let ram = [Range {
            start: 0x4000_0000,
            end: 0x4000_0000 + 8 * MIB,
        }];
        let mut allocator = BootAllocator::new(&ram, &[]);
        let first = allocator.allocate_stack(32 * 1024).unwrap();
        let second = allocator.allocate_stack(32 * 1024).unwrap();
        assert_eq!(first.bottom, first.guard + PAGE_SIZE);
        assert_eq!(first.top - first.bottom, 32 * 1024);
        assert!(second.top <= first.guard, "stacks must not overlap");
        assert_eq!(allocator.guard_pages(), &[first.guard, second.guard]);
        assert_eq!(
            allocator.guard_containing(second.guard + 100),
            Some(second.guard)
        );
        assert_eq!(allocator.guard_containing(second.bottom), None);
    }

    #[test]
    fn running_out_is_an_error() {
        let ram = [Range {
            start: 0x4000_0000,
            end: 0x4000_0000 + 16 * PAGE_SIZE,
        }];
        let mut allocator = BootAllocator::new(&ram, &[]);
        assert!(allocator.allocate(16 * PAGE_SIZE).is_ok());
        assert_eq!(
            allocator.allocate(PAGE_SIZE),
            Err(OutOfMemory::Exhausted {
                requested: PAGE_SIZE
            })
        );
    }
}
