//! Reading QEMU's execution log (`-d exec,nochain`): each line
//! `Trace <cpu>: <host pointer> [<cs_base>/<pc>/<flags>/<cflags>] ...` says that vCPU `cpu`
//! ran the translation block at guest address `pc`; with one instruction per block, one
//! instruction. A block QEMU enters but leaves before its first instruction (under `-icount`,
//! when the vCPU's turn or budget ends there) is followed at once by
//! `Stopped execution of TB chain before <host pointer> [<pc>] ...`: that instruction did not
//! run then (it runs, and is logged again, later), so it is not a step. Other lines are
//! skipped.

use std::io::{self, BufRead};

/// One executed instruction: which vCPU ran it, and its guest (virtual) address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// The vCPU's index, as QEMU numbers them (0 is the first).
    pub cpu: u32,
    /// The instruction's guest virtual address.
    pub pc: u64,
}

/// The step a log line records, or `None` for a line that is not a well-formed `Trace` line.
pub fn parse_line(line: &[u8]) -> Option<Step> {
    let rest = line.strip_prefix(b"Trace ")?;
    let colon = rest.iter().position(|&byte| byte == b':')?;
    let cpu = decimal(&rest[..colon])?;
    let rest = &rest[colon..];
    let open = rest.iter().position(|&byte| byte == b'[')?;
    let mut fields = rest[open + 1..].split(|&byte| byte == b'/');
    let _cs_base = fields.next()?;
    let pc = hexadecimal(fields.next()?)?;
    fields.next()?;
    Some(Step { cpu, pc })
}

/// The guest address of a `Stopped execution of TB chain before ... [<pc>]` line: the block
/// logged just before did not run.
pub fn parse_stop(line: &[u8]) -> Option<u64> {
    let rest = line.strip_prefix(b"Stopped execution of TB chain before ")?;
    let open = rest.iter().position(|&byte| byte == b'[')?;
    let rest = &rest[open + 1..];
    let close = rest.iter().position(|&byte| byte == b']')?;
    hexadecimal(&rest[..close])
}

/// Calls `each` with every step in `log` that ran, in the log's order, until the log ends;
/// `Err` if it cannot be read.
pub fn for_each_step(mut log: impl BufRead, mut each: impl FnMut(Step)) -> io::Result<()> {
    let mut line = Vec::with_capacity(128);
    // The last step, held back until the next line shows it was not stopped before it ran.
    let mut held: Option<Step> = None;
    loop {
        line.clear();
        if log.read_until(b'\n', &mut line)? == 0 {
            held.into_iter().for_each(&mut each);
            return Ok(());
        }
        if let Some(step) = parse_line(&line) {
            held.replace(step).into_iter().for_each(&mut each);
        } else if let Some(stopped) = parse_stop(&line)
            && held.is_some_and(|step| step.pc == stopped)
        {
            held = None;
        }
    }
}

fn decimal(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() || digits.len() > 9 {
        return None;
    }
    digits.iter().try_fold(0_u32, |value, &digit| {
        digit
            .is_ascii_digit()
            .then(|| value * 10 + u32::from(digit - b'0'))
    })
}

fn hexadecimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    digits.iter().try_fold(0_u64, |value, &digit| {
        let nibble = char::from(digit).to_digit(16)?;
        Some(value << 4 | u64::from(nibble))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trace_line_gives_its_cpu_and_pc() {
        let line =
            b"Trace 3: 0x7f8fdc000280 [0000000000004000/0000000040080004/00000121/ff020201] \n";
        assert_eq!(
            parse_line(line),
            Some(Step {
                cpu: 3,
                pc: 0x4008_0004
            })
        );
        let named =
            b"Trace 12: 0x7f00 [0000000000000000/ffff000040081a2c/00000121/ff020201] start\n";
        assert_eq!(
            parse_line(named),
            Some(Step {
                cpu: 12,
                pc: 0xffff_0000_4008_1a2c
            })
        );
    }

    #[test]
    fn other_and_garbled_lines_are_skipped() {
        for line in [
            &b"Trace x: 0x7f00 [0/40080000/0/0]\n"[..],
            b"Trace 1: 0x7f00 [0/4008zz00/0/0]\n",
            b"Trace 1: 0x7f00 [0/40080000]\n",
            b"Trace 1: 0x7f00 [0/00000000400800001/0/0]\n",
            b"Trace 1 0x7f00\n",
            b"",
        ] {
            assert_eq!(
                parse_line(line),
                None,
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn a_block_stopped_before_it_ran_is_not_a_step() {
        let log = "Trace 0: 0x1 [0/40080000/0/0] \n\
                   Trace 0: 0x2 [0/40080004/0/0] \n\
                   Stopped execution of TB chain before 0x2 [0000000040080004] \n\
                   Trace 1: 0x3 [0/40080100/0/0] \n\
                   Stopped execution of TB chain before 0x9 [0000000040080999] \n\
                   Trace 0: 0x2 [0/40080004/0/0] \n";
        let mut steps = Vec::new();
        for_each_step(log.as_bytes(), |step| steps.push((step.cpu, step.pc))).expect("in memory");
        assert_eq!(
            steps,
            [(0, 0x4008_0000), (1, 0x4008_0100), (0, 0x4008_0004)],
            "the first 0x40080004 did not run; a stop naming another block changes nothing"
        );
        assert_eq!(
            parse_stop(b"Stopped execution of TB chain before 0x7f [0000000040080004] f\n"),
            Some(0x4008_0004)
        );
        assert_eq!(parse_stop(b"Trace 0: 0x2 [0/40080004/0/0]"), None);
    }

    #[test]
    fn every_trace_line_of_a_log_is_a_step_in_order() {
        let log = "Trace 0: 0x1 [0/40080000/0/0] \nqemu says hello\nTrace 1: 0x2 [0/40080010/0/0] \nTrace 0: 0x3 [0/40080004/0/0]";
        let mut steps = Vec::new();
        for_each_step(log.as_bytes(), |step| steps.push((step.cpu, step.pc))).expect("in memory");
        assert_eq!(
            steps,
            [(0, 0x4008_0000), (1, 0x4008_0010), (0, 0x4008_0004)]
        );
    }
}
