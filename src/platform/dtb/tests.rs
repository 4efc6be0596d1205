//! Unit tests of [`discover`] and [`blob_size`] against the saved QEMU virt DTBs, the
//! hand-written board, and board DTBs from Debian's kernel package (`tests/data/README.md`).

use super::*;
use crate::platform::uart::UartConfig;

pub(super) const GICV3_SMP1: &[u8] = include_bytes!("../../../tests/data/virt-gicv3-smp1.dtb");
pub(super) const GICV3_SMP4: &[u8] = include_bytes!("../../../tests/data/virt-gicv3-smp4.dtb");
pub(super) const GICV3_SMP124: &[u8] = include_bytes!("../../../tests/data/virt-gicv3-smp124.dtb");
pub(super) const GICV3_SMP512: &[u8] = include_bytes!("../../../tests/data/virt-gicv3-smp512.dtb");
pub(super) const GICV2_SMP8: &[u8] = include_bytes!("../../../tests/data/virt-gicv2-smp8.dtb");
pub(super) const GICV3_EL2_SMP4: &[u8] =
    include_bytes!("../../../tests/data/virt-gicv3-el2-smp4.dtb");
pub(super) const GICV3_BOOTARGS: &[u8] =
    include_bytes!("../../../tests/data/virt-gicv3-bootargs.dtb");
pub(super) const BOARD_SPIN_TABLE: &[u8] =
    include_bytes!("../../../tests/data/board-spin-table.dtb");
pub(super) const TOO_MANY_CPUS: &[u8] = include_bytes!("../../../tests/data/too-many-cpus.dtb");
/// Board DTBs from Debian's Linux 6.1 package.
pub(super) const ZCU102: &[u8] =
    include_bytes!("../../../tests/data/linux-zynqmp-zcu102-rev1.0.dtb");
pub(super) const ROCK_PI_4B: &[u8] =
    include_bytes!("../../../tests/data/linux-rk3399-rock-pi-4b.dtb");
pub(super) const RZG2M: &[u8] =
    include_bytes!("../../../tests/data/linux-r8a774a1-hihope-rzg2m.dtb");
pub(super) const APQ8016_SBC: &[u8] = include_bytes!("../../../tests/data/linux-apq8016-sbc.dtb");
pub(super) const RPI_3B: &[u8] = include_bytes!("../../../tests/data/linux-bcm2837-rpi-3-b.dtb");
pub(super) const LS1028A_KBOX: &[u8] =
    include_bytes!("../../../tests/data/linux-fsl-ls1028a-kontron-kbox-a-230-ls.dtb");
pub(super) const XPERIA_AKARI: &[u8] =
    include_bytes!("../../../tests/data/linux-sdm845-sony-xperia-tama-akari.dtb");

/// Every saved DTB.
pub(super) const ALL: &[(&str, &[u8])] = &[
    ("virt-gicv3-smp1", GICV3_SMP1),
    ("virt-gicv3-smp4", GICV3_SMP4),
    ("virt-gicv3-smp124", GICV3_SMP124),
    ("virt-gicv3-smp512", GICV3_SMP512),
    ("virt-gicv2-smp8", GICV2_SMP8),
    ("virt-gicv3-el2-smp4", GICV3_EL2_SMP4),
    ("virt-gicv3-bootargs", GICV3_BOOTARGS),
    ("board-spin-table", BOARD_SPIN_TABLE),
    ("too-many-cpus", TOO_MANY_CPUS),
    ("linux-zynqmp-zcu102-rev1.0", ZCU102),
    ("linux-rk3399-rock-pi-4b", ROCK_PI_4B),
    ("linux-r8a774a1-hihope-rzg2m", RZG2M),
    ("linux-apq8016-sbc", APQ8016_SBC),
    ("linux-bcm2837-rpi-3-b", RPI_3B),
    ("linux-fsl-ls1028a-kontron-kbox-a-230-ls", LS1028A_KBOX),
    ("linux-sdm845-sony-xperia-tama-akari", XPERIA_AKARI),
];

fn region(base: u64, size: u64) -> PhysRegion {
    PhysRegion::new(base, size).unwrap()
}

/// QEMU virt's fixed layout, which the tests (not the code) know.
const VIRT_GICD: PhysRegion = PhysRegion {
    base: 0x800_0000,
    size: 0x1_0000,
};
const VIRT_GICR: PhysRegion = PhysRegion {
    base: 0x80a_0000,
    size: 0xf6_0000,
};
const VIRT_GICR_HIGH: PhysRegion = PhysRegion {
    base: 0x40_0000_0000,
    size: 0x400_0000,
};
const VIRT_UART: PhysRegion = PhysRegion {
    base: 0x900_0000,
    size: 0x1000,
};
/// QEMU virt's timer PPIs 13, 14, 11, 10.
const VIRT_TIMER: TimerInterrupts = TimerInterrupts {
    secure_phys: 29,
    nonsecure_phys: 30,
    virt: 27,
    hyp_phys: 26,
};

/// The MPIDR QEMU virt gives vCPU `index`: 16 per cluster with GICv3, 8 with GICv2.
fn virt_mpidr(index: u64, cluster_size: u64) -> u64 {
    ((index / cluster_size) << 8) | (index % cluster_size)
}

fn assert_virt_cpus(platform: &Platform<'_>, count: u64, cluster_size: u64) {
    let mpidrs: std::vec::Vec<u64> = platform.cpus.iter().map(|cpu| cpu.mpidr).collect();
    let expected: std::vec::Vec<u64> = (0..count)
        .map(|index| virt_mpidr(index, cluster_size))
        .collect();
    assert_eq!(mpidrs, expected);
    let method = if count == 1 {
        EnableMethod::Missing
    } else {
        EnableMethod::Psci
    };
    assert!(platform.cpus.iter().all(|cpu| cpu.enable_method == method));
}

fn gicv3(redistributors: &[PhysRegion]) -> Gic {
    Gic::V3 {
        distributor: VIRT_GICD,
        redistributors: Vec::from_slice(redistributors).unwrap(),
    }
}

/// `blob` with `from` (which must occur exactly once) replaced by `to`, of the same length.
fn patched(blob: &[u8], from: &[u8], to: &[u8]) -> std::vec::Vec<u8> {
    assert_eq!(from.len(), to.len());
    let positions: std::vec::Vec<usize> = blob
        .windows(from.len())
        .enumerate()
        .filter(|(_, window)| *window == from)
        .map(|(position, _)| position)
        .collect();
    assert_eq!(positions.len(), 1, "{:?}", String::from_utf8_lossy(from));
    let mut blob = blob.to_vec();
    blob[positions[0]..positions[0] + to.len()].copy_from_slice(to);
    blob
}

/// `blob` with the first occurrence of `from` replaced by `to`, of the same length.
fn patched_first(blob: &[u8], from: &[u8], to: &[u8]) -> std::vec::Vec<u8> {
    assert_eq!(from.len(), to.len());
    let position = blob
        .windows(from.len())
        .position(|window| window == from)
        .expect("the DTB holds the text to patch");
    let mut blob = blob.to_vec();
    blob[position..position + to.len()].copy_from_slice(to);
    blob
}

fn discover_err(blob: &[u8]) -> DtbError {
    discover(blob).expect_err("the DTB should be rejected")
}

fn console_regs(platform: &Platform<'_>) -> Option<PhysRegion> {
    platform.console.map(|uart| uart.regs)
}

#[test]
fn blob_size_reads_totalsize() {
    for &(name, blob) in ALL {
        assert_eq!(blob_size(blob), Ok(blob.len()), "{name}");
        assert_eq!(blob_size(&blob[..HEADER_SIZE]), Ok(blob.len()), "{name}");
    }
}

#[test]
fn blob_size_rejects_bad_headers() {
    assert_eq!(
        blob_size(&GICV3_SMP1[..HEADER_SIZE - 1]),
        Err(DtbError::HeaderTruncated { available: 39 })
    );
    let mut header = GICV3_SMP1[..HEADER_SIZE].to_vec();
    header[0] = 0xd1;
    assert_eq!(
        blob_size(&header),
        Err(DtbError::BadMagic { found: 0xd10d_feed })
    );
    for totalsize in [0, 39, MAX_BLOB_SIZE as u32 + 1, u32::MAX] {
        header[..8].copy_from_slice(
            &[0xd0, 0x0d, 0xfe, 0xed]
                .into_iter()
                .chain(totalsize.to_be_bytes())
                .collect::<std::vec::Vec<u8>>(),
        );
        assert_eq!(
            blob_size(&header),
            Err(DtbError::BadTotalSize { totalsize })
        );
    }
}

#[test]
fn gicv3_single_cpu() {
    let platform = discover(GICV3_SMP1).unwrap();
    assert_virt_cpus(&platform, 1, 16);
    assert_eq!(platform.memory.as_slice(), [region(0x4000_0000, 1 << 30)]);
    assert!(platform.reserved.is_empty());
    assert_eq!(platform.psci, Some(PsciConduit::Hvc));
    assert_eq!(platform.gic, gicv3(&[VIRT_GICR]));
    assert_eq!(console_regs(&platform), Some(VIRT_UART));
    assert_eq!(platform.timer, VIRT_TIMER);
    assert_eq!(platform.bootargs, "");
}

#[test]
fn gicv3_four_cpus() {
    let platform = discover(GICV3_SMP4).unwrap();
    assert_virt_cpus(&platform, 4, 16);
    assert_eq!(platform.gic, gicv3(&[VIRT_GICR]));
    assert_eq!(platform.psci, Some(PsciConduit::Hvc));
    assert_eq!(
        platform
            .interrupt_controller_regions()
            .collect::<std::vec::Vec<_>>(),
        [VIRT_GICD, VIRT_GICR]
    );
}

#[test]
fn gicv3_124_cpus_have_two_redistributor_regions() {
    let platform = discover(GICV3_SMP124).unwrap();
    assert_virt_cpus(&platform, 124, 16);
    assert_eq!(platform.cpus[16].mpidr, 0x100);
    assert_eq!(platform.cpus[123].mpidr, 0x70b);
    assert_eq!(platform.gic, gicv3(&[VIRT_GICR, VIRT_GICR_HIGH]));
    assert_eq!(
        platform
            .interrupt_controller_regions()
            .collect::<std::vec::Vec<_>>(),
        [VIRT_GICD, VIRT_GICR, VIRT_GICR_HIGH]
    );
}

#[test]
fn gicv3_512_cpus() {
    let platform = discover(GICV3_SMP512).unwrap();
    assert_virt_cpus(&platform, 512, 16);
    assert_eq!(platform.cpus[511].mpidr, 0x1f0f);
    assert_eq!(platform.memory.as_slice(), [region(0x4000_0000, 2 << 30)]);
    assert_eq!(platform.gic, gicv3(&[VIRT_GICR, VIRT_GICR_HIGH]));
    assert_eq!(platform.timer, VIRT_TIMER);
}

#[test]
fn gicv2_eight_cpus() {
    let platform = discover(GICV2_SMP8).unwrap();
    assert_virt_cpus(&platform, 8, 8);
    let cpu_interface = region(0x801_0000, 0x1_0000);
    assert_eq!(
        platform.gic,
        Gic::V2 {
            distributor: VIRT_GICD,
            cpu_interface,
        }
    );
    assert_eq!(
        platform
            .interrupt_controller_regions()
            .collect::<std::vec::Vec<_>>(),
        [VIRT_GICD, cpu_interface]
    );
    assert_eq!(platform.timer, VIRT_TIMER);
}

#[test]
fn virtualization_uses_smc() {
    let platform = discover(GICV3_EL2_SMP4).unwrap();
    assert_eq!(platform.psci, Some(PsciConduit::Smc));
    assert_virt_cpus(&platform, 4, 16);
}

#[test]
fn bootargs_come_from_chosen() {
    let platform = discover(GICV3_BOOTARGS).unwrap();
    assert_eq!(platform.bootargs, "test=all log=debug");
    let args = crate::platform::bootargs::parse(platform.bootargs).unwrap();
    assert_eq!(args.log_level, log::LevelFilter::Debug);
}

#[test]
fn board_with_bus_translation_spin_table_and_reservations() {
    let platform = discover(BOARD_SPIN_TABLE).unwrap();
    assert_eq!(
        platform.memory.as_slice(),
        [
            region(0, 0x3b40_0000),
            region(0x4000_0000, 0x4000_0000),
            region(0x8000_0000, 0x1000_0000),
        ]
    );
    // The /memreserve/ entry, then the one static, enabled /reserved-memory child.
    assert_eq!(
        platform.reserved.as_slice(),
        [region(0, 0x1000), region(0x3b30_0000, 0x10_0000)]
    );
    let spin_table = |release_addr| EnableMethod::SpinTable {
        release_addr: NonZeroU64::new(release_addr).unwrap(),
    };
    assert_eq!(
        platform.cpus.as_slice(),
        [
            Cpu {
                mpidr: 0,
                enable_method: spin_table(0xd8),
            },
            Cpu {
                mpidr: 0x1_0000_0000,
                enable_method: spin_table(0xe0),
            },
        ]
    );
    assert_eq!(platform.psci, None);
    // /soc maps 0x7e000000.. to 0xfe000000.. and 0x40000000.. to 0xff800000..
    assert_eq!(
        platform.gic,
        Gic::V2 {
            distributor: region(0xff84_1000, 0x1000),
            cpu_interface: region(0xff84_2000, 0x2000),
        }
    );
    assert_eq!(console_regs(&platform), Some(region(0xfe20_1000, 0x200)));
    assert_eq!(platform.timer, VIRT_TIMER);
    assert_eq!(
        platform.bootargs,
        "console=ttyAMA0 log=warn  test=sched::,boot::cores_online"
    );
}

#[test]
fn padding_and_trailing_bytes_are_accepted() {
    let expected = discover(GICV3_SMP4).unwrap();
    let mut padded = GICV3_SMP4.to_vec();
    padded.resize(1 << 20, 0);
    padded[4..8].copy_from_slice(&(1u32 << 20).to_be_bytes());
    assert_eq!(discover(&padded), Ok(expected.clone()));
    let mut trailing = GICV3_SMP4.to_vec();
    trailing.extend_from_slice(&[0xff; 100]);
    assert_eq!(discover(&trailing), Ok(expected));
}

#[test]
fn rejects_more_cpus_than_max_cores() {
    assert_eq!(
        discover_err(TOO_MANY_CPUS),
        DtbError::TooManyCpus {
            limit: crate::MAX_CORES
        }
    );
}

#[test]
fn rejects_missing_or_unsupported_parts() {
    /// A saved DTB, a byte string in it, its same-length replacement, the error expected.
    type Case = (&'static [u8], &'static [u8], &'static [u8], DtbError);
    let cases: &[Case] = &[
        (
            GICV3_SMP1,
            b"cpus\0",
            b"cpuz\0",
            DtbError::MissingNode("/cpus"),
        ),
        (
            GICV3_SMP1,
            b"arm,gic-v3\0",
            b"arm,gic-v9\0",
            DtbError::NoInterruptController,
        ),
        (
            GICV3_SMP1,
            b"hvc\0",
            b"svc\0",
            DtbError::BadProperty {
                node: "/psci",
                property: "method",
                expected: "\"hvc\" or \"smc\"",
            },
        ),
        (
            GICV3_SMP1,
            b"arm,armv8-timer\0arm,armv7-timer\0",
            b"arm,armv8-timex\0arm,armv7-timex\0",
            DtbError::MissingNode("arm,armv8-timer"),
        ),
        (
            GICV3_SMP1,
            b"#interrupt-cells\0",
            b"#interrupt-cellz\0",
            DtbError::BadProperty {
                node: "GIC node",
                property: "#interrupt-cells",
                expected: "3 or 4",
            },
        ),
        (
            BOARD_SPIN_TABLE,
            b"cpu-release-addr\0",
            b"cpu-release-adds\0",
            DtbError::BadCpu {
                index: 0,
                property: "cpu-release-addr",
                expected: "a non-zero 64-bit address",
            },
        ),
        (
            BOARD_SPIN_TABLE,
            &[0, 0, 0, 0, 0, 0, 0, 0xd8],
            &[0; 8],
            DtbError::BadCpu {
                index: 0,
                property: "cpu-release-addr",
                expected: "a non-zero 64-bit address",
            },
        ),
        // Without `ranges`, /soc is not memory-mapped: its devices cannot be reached.
        (
            BOARD_SPIN_TABLE,
            b"ranges\0",
            b"rangez\0",
            DtbError::BadProperty {
                node: "GIC node",
                property: "reg",
                expected: "address/size pairs that the parent buses' ranges map",
            },
        ),
    ];
    for (blob, from, to, expected) in cases {
        let name = String::from_utf8_lossy(from);
        assert_eq!(&discover_err(&patched(blob, from, to)), expected, "{name}");
    }
}

#[test]
fn rejects_missing_memory() {
    let blob = patched(GICV3_SMP1, b"memory@40000000\0", b"memorx@40000000\0");
    let blob = patched(&blob, b"memory\0", b"memorx\0");
    assert_eq!(
        discover_err(&blob),
        DtbError::MissingNode("non-empty /memory")
    );
}

#[test]
fn rejects_duplicate_mpidrs() {
    // The third CPU repeats the second's MPIDR but is disabled; renaming `status` enables it.
    assert!(discover(BOARD_SPIN_TABLE).is_ok());
    let blob = patched(BOARD_SPIN_TABLE, b"status\0", b"statuz\0");
    assert_eq!(
        discover_err(&blob),
        DtbError::DuplicateMpidr {
            mpidr: 0x1_0000_0000
        }
    );
}

#[test]
fn errors_say_what_is_wrong() {
    let messages = [
        (DtbError::BadMagic { found: 0 }, "magic 0x00000000"),
        (
            DtbError::Truncated {
                totalsize: 100,
                available: 50,
            },
            "truncated",
        ),
        (DtbError::MissingNode("/cpus"), "no /cpus node"),
        (
            DtbError::NoInterruptController,
            "no supported interrupt controller",
        ),
        (DtbError::TooManyCpus { limit: 512 }, "more than 512 CPUs"),
        (
            DtbError::BadCpu {
                index: 3,
                property: "reg",
                expected: "MPIDR affinity bits",
            },
            "CPU node #3: `reg`",
        ),
    ];
    for (error, fragment) in messages {
        let message = error.to_string();
        assert!(message.contains(fragment), "{message:?} lacks {fragment:?}");
    }
    // The root node's FDT_BEGIN_NODE token becomes an unknown token 7.
    let mut blob = GICV3_SMP1.to_vec();
    let structure = usize::try_from(fdt::be32(&blob, 8).unwrap()).unwrap();
    blob[structure + 3] = 7;
    let malformed = discover_err(&blob);
    assert!(matches!(malformed, DtbError::Malformed(_)), "{malformed:?}");
    assert!(malformed.to_string().starts_with("malformed DTB: "));
}

/// `Platform` lives in a static on the board; two tables of 512 CPUs (usable and skipped) of
/// 24 bytes each make most of it, then 128 reserved regions of 16.
#[test]
fn platform_stays_small() {
    assert!(core::mem::size_of::<Platform<'_>>() <= 28 * 1024);
}

/// The parsed tree of a saved DTB, for the tests that look past a refusal.
fn fdt(blob: &[u8]) -> Fdt<'_> {
    Fdt::new(blob).expect("a saved DTB is well formed")
}

/// The GIC that discovery finds in `blob`, and its node.
fn gic_of(blob: &[u8]) -> (Gic, Located<'_>) {
    let located = find(&fdt(blob), |node| {
        is_available(node) && compatible(node).contains_any(GIC_COMPATIBLES)
    })
    .expect("a GIC");
    (interrupt_controller(&located).unwrap(), located)
}

#[test]
fn every_saved_dtb_is_well_formed() {
    for &(name, blob) in ALL {
        assert!(Fdt::new(blob).is_ok(), "{name}");
    }
}

#[test]
fn zcu102_has_gic400_psci_and_a_cadence_console() {
    let platform = discover(ZCU102).unwrap();
    assert_eq!(
        platform.memory.as_slice(),
        [region(0, 0x8000_0000), region(0x8_0000_0000, 0x8000_0000)]
    );
    assert_eq!(platform.psci, Some(PsciConduit::Smc));
    let mpidrs: std::vec::Vec<u64> = platform.cpus.iter().map(|cpu| cpu.mpidr).collect();
    assert_eq!(mpidrs, [0, 1, 2, 3]);
    assert!(platform.skipped_cpus.is_empty());
    assert_eq!(
        platform.gic,
        Gic::V2 {
            distributor: region(0xf901_0000, 0x1_0000),
            cpu_interface: region(0xf902_0000, 0x2_0000),
        }
    );
    assert_eq!(platform.timer, VIRT_TIMER);
    let console = platform.console.unwrap();
    assert_eq!(console.regs, region(0xff00_0000, 0x1000));
    assert_eq!(console.name, "serial@ff000000");
    assert_eq!(
        console.compatible.iter().collect::<std::vec::Vec<_>>(),
        ["xlnx,zynqmp-uart", "cdns,uart-r1p12"]
    );
    assert_eq!(
        console.to_string(),
        "console: xlnx,zynqmp-uart at 0xff000000"
    );
    assert_eq!(
        platform.serial, None,
        "only looked for without a stdout console"
    );
    assert_eq!((console.reg_shift, console.reg_io_width), (None, None));
}

#[test]
fn rock_pi_4b_has_an_8250_console_and_four_cell_gic_specifiers() {
    // Its memory node is an empty placeholder for the bootloader to fill.
    assert_eq!(
        discover_err(ROCK_PI_4B),
        DtbError::MissingNode("non-empty /memory")
    );
    let console = console::stdout(&fdt(ROCK_PI_4B)).unwrap().unwrap();
    assert_eq!(console.regs, region(0xff1a_0000, 0x100));
    assert!(console.compatible.contains("snps,dw-apb-uart"));
    assert_eq!(console.compatible.first(), Some("rockchip,rk3399-uart"));
    assert_eq!(
        (console.reg_shift, console.reg_io_width),
        (Some(2), Some(4))
    );
    let (gic, located) = gic_of(ROCK_PI_4B);
    assert!(matches!(gic, Gic::V3 { .. }));
    assert_eq!(
        timer_interrupts(&fdt(ROCK_PI_4B), &located, &gic),
        Ok(VIRT_TIMER)
    );
}

#[test]
fn rzg2m_timer_uses_interrupts_extended() {
    let platform = discover(RZG2M).unwrap();
    assert_eq!(platform.timer, VIRT_TIMER);
    assert_eq!(
        platform.console.unwrap().compatible.first(),
        Some("renesas,scif-r8a774a1")
    );
}

#[test]
fn qualcomm_qgic2_is_a_gicv2() {
    assert!(matches!(gic_of(APQ8016_SBC).0, Gic::V2 { .. }));
}

#[test]
fn gic_compatible_is_matched_anywhere_in_the_list() {
    let blob = patched(
        GICV2_SMP8,
        b"arm,cortex-a15-gic\0",
        b"qcom,x\0arm,gic-400\0",
    );
    assert_eq!(
        discover(&blob).unwrap().gic,
        discover(GICV2_SMP8).unwrap().gic
    );
}

#[test]
fn raspberry_pi_3_has_the_bcm2836_per_core_controller_and_spin_tables() {
    let platform = discover(RPI_3B).unwrap();
    // Behind the soc bus's second range, which maps it 1:1.
    assert_eq!(
        platform.gic,
        Gic::Bcm2836Local {
            registers: region(0x4000_0000, 0x100)
        }
    );
    // Local interrupts 0, 1, 3, 2 in the DTB's order: the virtual timer is local 3, PPI 3.
    assert_eq!(
        platform.timer,
        TimerInterrupts {
            secure_phys: 16,
            nonsecure_phys: 17,
            virt: 19,
            hyp_phys: 18,
        }
    );
    assert!(platform.skipped_cpus.is_empty());
    let release: std::vec::Vec<_> = platform
        .cpus
        .iter()
        .map(|cpu| match cpu.enable_method {
            EnableMethod::SpinTable { release_addr } => release_addr.get(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(release, [0xd8, 0xe0, 0xe8, 0xf0]);
    let console = platform.console.unwrap();
    assert_eq!(console.compatible.first(), Some("brcm,bcm2835-aux-uart"));
    assert_eq!(console.regs, region(0x3f21_5040, 0x40));
    assert_eq!(
        platform
            .interrupt_controller_regions()
            .collect::<std::vec::Vec<_>>(),
        [region(0x4000_0000, 0x100)]
    );
}

#[test]
fn a_bcm2836_controller_needs_its_registers_and_two_cell_specifiers() {
    // `reg = <0x40000000 0x100>` shrunk to 0xf0 bytes: too short for the mailboxes.
    let short = patched(
        RPI_3B,
        &[0x40, 0, 0, 0, 0, 0, 1, 0],
        &[0x40, 0, 0, 0, 0, 0, 0, 0xf0],
    );
    assert_eq!(
        discover_err(&short),
        DtbError::BadProperty {
            node: "brcm,bcm2836-l1-intc node",
            property: "reg",
            expected: "a region of at least 0x100 bytes",
        }
    );
    // Without it, or a GIC, there is no interrupt controller.
    assert_eq!(
        discover_err(&patched(
            RPI_3B,
            b"brcm,bcm2836-l1-intc\0",
            b"brcm,bcm2836-l1-intx\0"
        )),
        DtbError::NoInterruptController
    );
}

#[test]
fn console_is_none_without_a_named_node() {
    for blob in [
        patched(GICV3_SMP1, b"stdout-path\0", b"stdout-patx\0"),
        patched(BOARD_SPIN_TABLE, b"serial1\0", b"serialX\0"),
        patched(GICV3_BOOTARGS, b"chosen\0", b"chosex\0"),
    ] {
        let platform = discover(&blob).unwrap();
        assert_eq!(platform.console, None);
        let gic_frames = match &platform.gic {
            Gic::V2 { .. } => 2,
            Gic::V3 { redistributors, .. } => 1 + redistributors.len(),
            Gic::Bcm2836Local { .. } => 1,
        };
        assert_eq!(platform.interrupt_controller_regions().count(), gic_frames);
    }
    let no_chosen = patched(GICV3_BOOTARGS, b"chosen\0", b"chosex\0");
    assert_eq!(discover(&no_chosen).unwrap().bootargs, "");
}

#[test]
fn a_console_without_a_driver_is_reported_not_refused() {
    let blob = patched(GICV3_SMP1, b"arm,pl011\0", b"arm,pl012\0");
    let platform = discover(&blob).unwrap();
    let console = platform.console.unwrap();
    assert_eq!(console.config(), None);
    assert_eq!(console.regs, VIRT_UART);
    assert_eq!(
        console.to_string(),
        "console: arm,pl012 at 0x9000000, no driver"
    );
    assert_eq!(
        platform.stdout_problem(),
        Some(StdoutProblem::NoDriver("arm,pl012"))
    );
    let pl011 = discover(GICV3_SMP1).unwrap().console.unwrap();
    assert_eq!(pl011.to_string(), "console: arm,pl011 at 0x9000000");
}

#[test]
fn unknown_psci_methods_are_refused() {
    let expected = DtbError::BadProperty {
        node: "/psci",
        property: "method",
        expected: "\"hvc\" or \"smc\"",
    };
    // "smc2" without its NUL, and "hv" followed by two NULs: neither is exactly hvc or smc.
    for method in [b"smc2", b"hv\0\0"] {
        let blob = patched(GICV3_SMP1, b"hvc\0", method);
        assert_eq!(discover_err(&blob), expected);
    }
}

#[test]
fn cpus_with_an_unknown_enable_method_are_skipped() {
    let blob = patched_first(BOARD_SPIN_TABLE, b"spin-table\0", b"spin-tablX\0");
    let platform = discover(&blob).unwrap();
    assert_eq!(
        platform.skipped_cpus.as_slice(),
        [SkippedCpu {
            mpidr: 0,
            enable_method: "spin-tablX"
        }]
    );
    let mpidrs: std::vec::Vec<u64> = platform.cpus.iter().map(|cpu| cpu.mpidr).collect();
    assert_eq!(mpidrs, [0x1_0000_0000]);
    // With every CPU skipped, nothing is left to run on.
    let none_left = patched_first(&blob, b"spin-table\0", b"spin-tablX\0");
    assert_eq!(discover_err(&none_left), DtbError::NoCpus);
}

#[test]
fn truncated_blobs_are_rejected() {
    let word = |blob: &[u8], at: usize| u32::from_be_bytes(blob[at..at + 4].try_into().unwrap());
    let set_word = |blob: &mut [u8], at: usize, value: u32| {
        blob[at..at + 4].copy_from_slice(&value.to_be_bytes());
    };
    for &(name, blob) in ALL {
        let step = 1 + blob.len() / 1_000;
        for len in (0..blob.len()).step_by(step) {
            let cut = &blob[..len];
            assert!(discover(cut).is_err(), "{name} cut to {len}");
            if len < HEADER_SIZE {
                continue;
            }
            // The same cut with a header that claims it, its blocks shrunk to what is
            // left, so that the parser meets the truncated structure or strings itself.
            let mut relabelled = cut.to_vec();
            let len32 = len as u32;
            set_word(&mut relabelled, fdt::OFF_TOTALSIZE, len32);
            for (offset, size) in [
                (fdt::OFF_DT_STRUCT, fdt::OFF_SIZE_DT_STRUCT),
                (fdt::OFF_DT_STRINGS, fdt::OFF_SIZE_DT_STRINGS),
            ] {
                let left = len32.saturating_sub(word(cut, offset));
                let shrunk = word(cut, size).min(left);
                set_word(&mut relabelled, size, shrunk);
            }
            assert!(discover(&relabelled).is_err(), "{name} relabelled to {len}");
        }
    }
}

#[test]
fn assumed_memory_stands_in_only_where_the_dtb_has_none() {
    assert_eq!(
        discover_err(ROCK_PI_4B),
        DtbError::MissingNode("non-empty /memory")
    );
    let ram = region(0x8000_0000, 0x1000_0000);
    let platform = discover_assuming_memory(ROCK_PI_4B, ram).unwrap();
    assert_eq!(platform.memory.as_slice(), &[ram]);
    let platform = discover_assuming_memory(GICV3_SMP4, ram).unwrap();
    assert_eq!(platform.memory, discover(GICV3_SMP4).unwrap().memory);
    assert_ne!(platform.memory.as_slice(), &[ram]);
}

#[test]
fn a_reason_writes_numbers_as_n_but_keeps_digits_inside_words() {
    let error = DtbError::BadCpu {
        index: 12,
        property: "reg",
        expected: "pl011 at 0x9000000",
    };
    assert_eq!(
        error.reason().to_string(),
        "DTB CPU node #N: `reg` missing or unusable (expected pl011 at N)"
    );
}

#[test]
fn without_a_psci_node_psci_cpus_stay_off_but_the_boot_cpu_runs() {
    let blob = patched(
        GICV3_SMP4,
        b"arm,psci-1.0\0arm,psci-0.2\0",
        b"arm,psci-1.x\0arm,psci-0.x\0",
    );
    let platform = discover(&blob).unwrap();
    assert_eq!(platform.psci, None);
    assert_virt_cpus(&platform, 4, 16);
    for cpu in &platform.cpus {
        assert_eq!(platform.cannot_start(cpu), Some(CannotStart::NoPsciNode));
    }
    // With the node, every CPU can be started.
    let platform = discover(GICV3_SMP4).unwrap();
    assert!(
        platform
            .cpus
            .iter()
            .all(|cpu| platform.cannot_start(cpu).is_none())
    );
    // Layerscape DTBs leave the node to the firmware.
    let platform = discover_assuming_memory(LS1028A_KBOX, region(0x8000_0000, 1 << 30)).unwrap();
    assert_eq!(platform.psci, None);
    assert_eq!(platform.cpus.len(), 2);
    assert_eq!(
        CannotStart::NoPsciNode.to_string(),
        "enable-method psci, but the DTB has no /psci node"
    );
}

#[test]
fn a_cpu_without_an_enable_method_cannot_be_started() {
    let platform = discover(GICV3_SMP1).unwrap();
    assert_eq!(
        platform.cannot_start(&platform.cpus[0]),
        Some(CannotStart::NoEnableMethod)
    );
    let spin_table = discover(BOARD_SPIN_TABLE).unwrap();
    assert_eq!(spin_table.cannot_start(&spin_table.cpus[0]), None);
}

/// The console `discover` and [`Platform::choose_console`] pick, as `cargo dtb -v` says it.
fn chosen_console(blob: &[u8], earlycon: Option<UartConfig>) -> Option<std::string::String> {
    let platform = discover_assuming_memory(blob, region(0x8000_0000, 1 << 30)).unwrap();
    platform
        .choose_console(earlycon)
        .map(|choice| std::format!("{choice}"))
}

/// BOARD_SPIN_TABLE without `/chosen/stdout-path`.
fn spin_table_without_stdout() -> std::vec::Vec<u8> {
    patched(BOARD_SPIN_TABLE, b"stdout-path\0", b"stdout-patx\0")
}

#[test]
fn rule_1_the_stdout_path_uart_wins_over_earlycon() {
    assert_eq!(
        chosen_console(BOARD_SPIN_TABLE, Some(UartConfig::pl011(0x1000))).as_deref(),
        Some("/chosen/stdout-path serial@7e201000 (pl011 driver)")
    );
    let platform = discover(BOARD_SPIN_TABLE).unwrap();
    assert_eq!(platform.stdout_problem(), None);
    assert_eq!(platform.serial, None);
}

#[test]
fn rule_2_earlycon_comes_before_the_aliases() {
    let blob = spin_table_without_stdout();
    assert_eq!(
        chosen_console(&blob, Some(UartConfig::pl011(0x900_0000))).as_deref(),
        Some("earlycon= at 0x9000000 (pl011 driver)")
    );
    // And when stdout-path names a UART without a driver.
    let blob = patched(BOARD_SPIN_TABLE, b"arm,pl011\0", b"arm,pl012\0");
    let choice = discover(&blob)
        .unwrap()
        .choose_console(Some(UartConfig::pl011(0x900_0000)))
        .unwrap();
    assert_eq!(choice.rule, ConsoleRule::Earlycon);
    assert_eq!(choice.uart(), None);
}

#[test]
fn rule_3_the_lowest_serial_alias_with_an_enabled_node_and_a_driver() {
    // serial0 names a disabled UART, so serial1 is taken.
    let blob = spin_table_without_stdout();
    assert_eq!(
        chosen_console(&blob, None).as_deref(),
        Some("serial1 alias /soc@7e000000/serial@7e201000 (pl011 driver)")
    );
    let platform = discover(&blob).unwrap();
    assert_eq!(platform.stdout_problem(), Some(StdoutProblem::Missing));
    let serial = platform.serial.unwrap();
    assert_eq!(serial.uart.regs, region(0xfe20_1000, 0x200));
    // Once serial0 names an enabled UART, it comes first.
    let enabled = patched(
        &blob,
        b"/soc@7e000000/serial@7e215040",
        b"/soc@7e000000/serial@7e201000",
    );
    assert_eq!(
        chosen_console(&enabled, None).as_deref(),
        Some("serial0 alias /soc@7e000000/serial@7e201000 (pl011 driver)")
    );
    // A phone whose stdout-path names a high-speed GENI port, which has no console driver
    // (as in Linux): serial1, its debug UART, is the console.
    assert_eq!(
        chosen_console(XPERIA_AKARI, None).as_deref(),
        Some("serial1 alias /soc@0/geniqup@ac0000/serial@a84000 (qcom-geni driver)")
    );
    let akari = discover_assuming_memory(XPERIA_AKARI, region(0x8000_0000, 1 << 30)).unwrap();
    assert_eq!(
        akari
            .stdout_problem()
            .map(|problem| std::format!("{problem}")),
        Some("stdout UART qcom,geni-uart has no console driver".into())
    );
}

#[test]
fn rule_4_the_first_enabled_uart_node_with_a_driver() {
    let blob = patched(
        &spin_table_without_stdout(),
        b"serial0\0serial1\0",
        b"serialA\0serialB\0",
    );
    assert_eq!(
        chosen_console(&blob, None).as_deref(),
        Some("first enabled UART with a driver, serial@7e201000 (pl011 driver)")
    );
    // A UART on a disabled bus is not enabled either.
    let bus_off = patched(&blob, b"okay\0", b"fail\0");
    assert_eq!(chosen_console(&bus_off, None), None);
}

#[test]
fn no_rule_gives_a_console_without_a_uart_that_has_a_driver() {
    let blob = patched(
        &patched(
            &spin_table_without_stdout(),
            b"serial0\0serial1\0",
            b"serialA\0serialB\0",
        ),
        b"arm,pl011\0",
        b"arm,pl012\0",
    );
    assert_eq!(chosen_console(&blob, None), None);
    assert_eq!(discover(&blob).unwrap().serial, None);
}

#[test]
fn only_decimal_serial_aliases_count() {
    assert_eq!(console::serial_number(b"serial0"), Some(0));
    assert_eq!(console::serial_number(b"serial12"), Some(12));
    for name in [
        &b"serial"[..],
        b"serialA",
        b"serial-1",
        b"uart0",
        b"serial0x",
    ] {
        assert_eq!(console::serial_number(name), None);
    }
}
