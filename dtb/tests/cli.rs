//! Runs the `coresched-dtb` binary (`cargo dtb`) on DTBs from `tests/data/`: one line per file
//! and the exit status (0 all ok, 1 any refused, 2 bad usage).

use std::process::{Command, Output};

/// Runs the binary with `args`, from the repository root.
fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coresched-dtb"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("the binary runs")
}

#[test]
fn two_ok_boards_print_one_line_each_and_exit_0() {
    let output = run(&[
        "tests/data/virt-gicv3-smp4.dtb",
        "tests/data/linux-zynqmp-zcu102-rev1.0.dtb",
    ]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        "tests/data/virt-gicv3-smp4.dtb: ok 4 cores (psci/hvc), GICv3, console=arm,pl011, \
         1 GiB in 1 region\n\
         tests/data/linux-zynqmp-zcu102-rev1.0.dtb: ok 4 cores (psci/smc), GICv2, \
         console=xlnx,zynqmp-uart, 4 GiB in 2 regions\n"
    );
}

#[test]
fn a_refused_board_exits_1_and_verbose_adds_details() {
    let output = run(&[
        "-v",
        "tests/data/virt-gicv3-smp4.dtb",
        "tests/data/too-many-cpus.dtb",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<_> = stdout.lines().collect();
    assert!(lines[0].starts_with("tests/data/virt-gicv3-smp4.dtb: ok 4 cores"));
    assert_eq!(lines[1], "    cpu 0x0: psci over hvc");
    assert_eq!(
        lines.last(),
        Some(
            &"tests/data/too-many-cpus.dtb: refused: DTB lists more than 512 CPUs, the kernel's \
               limit"
        )
    );
}

#[test]
fn bad_usage_is_one_line_and_exit_2() {
    for args in [&[][..], &["--bogus", "tests/data/virt-gicv3-smp4.dtb"]] {
        let output = run(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(output.stdout.is_empty());
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("usage: cargo dtb"), "{stderr}");
    }
}

#[test]
fn a_missing_file_is_refused() {
    let output = run(&["tests/data/no-such.dtb"]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.starts_with("tests/data/no-such.dtb: refused: cannot read: "),
        "{stdout}"
    );
}
