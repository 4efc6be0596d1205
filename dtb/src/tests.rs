//! The verdict lines on the DTBs committed in `tests/data/` (QEMU virt, a hand-written board,
//! and real boards from Debian's kernel package), and the details `-v` adds.

use super::*;

/// A DTB from `tests/data/`.
fn data(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// The verdict line (after `<file>: `) for a DTB from `tests/data/`.
fn line(name: &str) -> String {
    check(&data(name)).verdict.to_string()
}

#[test]
fn qemu_virt_dtbs_are_ok_with_their_cores_gic_console_and_memory() {
    let cases = [
        (
            "virt-gicv3-smp1.dtb",
            "ok 1 core (boot core only), GICv3, console=arm,pl011, 1 GiB in 1 region",
        ),
        (
            "virt-gicv3-smp4.dtb",
            "ok 4 cores (psci/hvc), GICv3, console=arm,pl011, 1 GiB in 1 region",
        ),
        (
            "virt-gicv3-el2-smp4.dtb",
            "ok 4 cores (psci/smc), GICv3, console=arm,pl011, 1 GiB in 1 region",
        ),
        (
            "virt-gicv2-smp8.dtb",
            "ok 8 cores (psci/hvc), GICv2, console=arm,pl011, 1 GiB in 1 region",
        ),
        (
            "virt-gicv3-smp512.dtb",
            "ok 512 cores (psci/hvc), GICv3, console=arm,pl011, 2 GiB in 1 region",
        ),
        (
            "board-spin-table.dtb",
            "ok 2 cores (spin-table), GICv2, console=arm,pl011, 2228 MiB in 3 regions",
        ),
    ];
    for (name, expected) in cases {
        assert_eq!(line(name), expected, "{name}");
    }
}

#[test]
fn real_boards_are_ok_with_their_uart_family_and_a_bootloader_added_memory() {
    let cases = [
        (
            "linux-zynqmp-zcu102-rev1.0.dtb",
            "ok 4 cores (psci/smc), GICv2, console=xlnx,zynqmp-uart, 4 GiB in 2 regions",
        ),
        (
            "linux-rk3399-rock-pi-4b.dtb",
            "ok 6 cores (psci/smc), GICv3, console=rockchip,rk3399-uart, \
             memory=none in the DTB (a bootloader adds it)",
        ),
        (
            "linux-r8a774a1-hihope-rzg2m.dtb",
            "ok 6 cores (psci/smc), GICv2, console=renesas,scif-r8a774a1, 3968 MiB in 2 regions",
        ),
        (
            "linux-apq8016-sbc.dtb",
            "ok 4 cores (psci/smc), GICv2, console=qcom,msm-uartdm-v1.4, \
             memory=none in the DTB (a bootloader adds it)",
        ),
        (
            "linux-bcm2837-rpi-3-b.dtb",
            "ok 4 cores (spin-table), BCM2836 per-core controller, \
             console=brcm,bcm2835-aux-uart, 1 GiB in 1 region",
        ),
    ];
    for (name, expected) in cases {
        assert_eq!(line(name), expected, "{name}");
    }
}

#[test]
fn cpus_that_cannot_be_started_are_counted_and_named() {
    assert_eq!(
        line("linux-fsl-ls1028a-kontron-kbox-a-230-ls.dtb"),
        "ok 1 of 2 cores (boot core only; 1 left off: enable-method psci, but the DTB has no \
         /psci node), GICv3, console=fsl,ns16550, memory=none in the DTB (a bootloader adds it)"
    );
    let details = check(&data("linux-fsl-ls1028a-kontron-kbox-a-230-ls.dtb"))
        .details
        .join("\n");
    assert!(
        details.contains(
            "cpu 0x1: left off unless it is the boot CPU: enable-method psci, but the DTB has \
             no /psci node"
        ),
        "{details}"
    );
}

#[test]
fn the_console_rule_is_named_when_stdout_path_gives_none() {
    let report = check(&data("linux-sdm845-sony-xperia-tama-akari.dtb"));
    assert_eq!(
        report.verdict.to_string(),
        "ok 8 cores (psci/smc), GICv3, console=qcom,geni-debug-uart, \
         memory=none in the DTB (a bootloader adds it)"
    );
    let details = report.details.join("\n");
    for expected in [
        "console: stdout UART qcom,geni-uart has no console driver",
        "console: serial1 alias /soc@0/geniqup@ac0000/serial@a84000 (qcom-geni driver)",
    ] {
        assert!(details.contains(expected), "{expected:?} not in\n{details}");
    }
}

#[test]
fn what_cannot_work_is_refused_with_the_kernels_message() {
    assert_eq!(
        line("too-many-cpus.dtb"),
        "refused: DTB lists more than 512 CPUs, the kernel's limit"
    );
    assert_eq!(
        line("virt-gicv3-smp4.dtb").get(..2),
        Some("ok"),
        "the refusals above are about those DTBs"
    );
    let report = check(b"not a DTB at all, but long enough for a header");
    assert!(!report.verdict.is_ok());
    assert!(report.details.is_empty());
}

#[test]
fn details_name_each_cpu_region_and_the_console_driver() {
    let report = check(&data("linux-rk3399-rock-pi-4b.dtb"));
    let details = report.details.join("\n");
    for expected in [
        "cpu 0x0: psci over smc",
        "cpu 0x101: psci over smc",
        "GICv3: distributor 0xfee00000..0xfee10000 (64 KiB), redistributors 0xfef00000..0xfefc0000 (768 KiB)",
        "memory: none in the DTB; checked with 0x40000000..0x80000000 (1 GiB) added, as a bootloader would",
        "console UART: rockchip,rk3399-uart snps,dw-apb-uart at 0xff1a0000, reg-shift 2, reg-io-width 4",
        "console: /chosen/stdout-path serial@ff1a0000 (8250 driver)",
    ] {
        assert!(details.contains(expected), "{expected:?} not in\n{details}");
    }
    let details = check(&data("board-spin-table.dtb")).details.join("\n");
    for expected in [
        "cpu 0x100000000: spin-table, release address 0xe0",
        "memory 0x80000000..0x90000000 (256 MiB)",
        "reserved 0x3b300000..0x3b400000 (1 MiB)",
        "console UART: arm,pl011 arm,primecell at 0xfe201000, reg-shift default, reg-io-width default",
        "console: /chosen/stdout-path serial@7e201000 (pl011 driver)",
    ] {
        assert!(details.contains(expected), "{expected:?} not in\n{details}");
    }
}

#[test]
fn sizes_use_the_largest_unit_that_divides_them() {
    assert_eq!(size_text(2 << 30), "2 GiB");
    assert_eq!(size_text(1536 << 20), "1536 MiB");
    assert_eq!(size_text(12), "12 B");
    assert_eq!(size_text(0), "0 B");
}

#[test]
fn a_tally_counts_outcomes_with_an_example_each() {
    let mut tally = Tally::default();
    for name in [
        "virt-gicv3-smp4.dtb",
        "virt-gicv2-smp8.dtb",
        "linux-fsl-ls1028a-kontron-kbox-a-230-ls.dtb",
        "too-many-cpus.dtb",
    ] {
        tally.add(name, &check(&data(name)).verdict);
    }
    assert_eq!(
        tally.to_string(),
        "| outcome | DTBs | e.g. |\n\
         | --- | ---: | --- |\n\
         | ok, console (pl011 driver) | 2 | virt-gicv3-smp4.dtb |\n\
         | ok, console (8250 driver), cores left off: enable-method psci, but the DTB has no /psci node | 1 | linux-fsl-ls1028a-kontron-kbox-a-230-ls.dtb |\n\
         | refused: DTB lists more than N CPUs, the kernel's limit | 1 | too-many-cpus.dtb |\n\
         | total | 4 | |"
    );
}

#[test]
fn dtb_files_finds_every_dtb_under_a_directory_sorted() {
    let files = dtb_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data")).unwrap();
    let names: Vec<_> = files
        .iter()
        .filter_map(|file| file.file_name()?.to_str())
        .collect();
    assert!(names.contains(&"virt-gicv3-smp4.dtb"));
    assert!(names.iter().all(|name| name.ends_with(".dtb")));
    assert!(names.is_sorted());
}
