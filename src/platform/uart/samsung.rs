//! Samsung S3C/S5P/Exynos UARTs (and their descendants in Google Tensor, Tesla FSD, Axis
//! ARTPEC-8 and Apple S5L), as Linux's earlycon drives them: in FIFO mode (UFCON bit 0) wait
//! while UFSTAT's TX-full bit is set, whose position depends on the SoC generation; otherwise
//! wait for UTRSTAT's TX-buffer-empty bit. Bytes go to UTXH with `reg-io-width` (8-bit unless
//! it says 4).

use super::{Access, Io, Transmitter};

const UFCON: usize = 0x08;
const UFCON_FIFO_MODE: u32 = 1 << 0;
const UTRSTAT: usize = 0x10;
const UTRSTAT_TX_EMPTY: u32 = 1 << 1;
const UFSTAT: usize = 0x18;
const UTXH: usize = 0x20;

/// UFSTAT's TX-full bit on the S3C2410 and Apple S5L.
const S3C2410_TX_FULL: u32 = 1 << 9;
/// UFSTAT's TX-full bit on the S3C2412, S3C2440 and S3C6400.
const S3C2440_TX_FULL: u32 = 1 << 14;
/// UFSTAT's TX-full bit from the S5PV210 on, every Exynos included.
const S5PV210_TX_FULL: u32 = 1 << 24;

/// The Samsung UART driver, for one generation's TX-full bit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Samsung {
    tx_full: u32,
    access: Access,
}

/// The driver for `compatible`, if it names a Samsung-style UART. A `reg_io_width` of 4 makes
/// UTXH writes 32-bit (Google's GS101 needs it); anything else, or none, keeps them 8-bit.
pub(super) fn probe(compatible: &str, reg_io_width: Option<u32>) -> Option<Samsung> {
    let tx_full = match compatible {
        "samsung,s3c2410-uart" | "apple,s5l-uart" => S3C2410_TX_FULL,
        "samsung,s3c2412-uart" | "samsung,s3c2440-uart" | "samsung,s3c6400-uart" => S3C2440_TX_FULL,
        "samsung,s5pv210-uart"
        | "samsung,exynos4210-uart"
        | "samsung,exynos5433-uart"
        | "samsung,exynos850-uart"
        | "google,gs101-uart"
        | "tesla,fsd-uart"
        | "axis,artpec8-uart" => S5PV210_TX_FULL,
        _ => return None,
    };
    let access = if reg_io_width == Some(4) {
        Access::U32
    } else {
        Access::U8
    };
    Some(Samsung { tx_full, access })
}

impl Transmitter for Samsung {
    fn ready(&self, io: &impl Io) -> bool {
        if io.read(UFCON, Access::U32) & UFCON_FIFO_MODE != 0 {
            io.read(UFSTAT, Access::U32) & self.tx_full == 0
        } else {
            io.read(UTRSTAT, Access::U32) & UTRSTAT_TX_EMPTY != 0
        }
    }

    fn send(&self, io: &impl Io, byte: u8) {
        io.write(UTXH, self.access, byte.into());
    }
}

#[cfg(test)]
mod tests {
    use super::super::UartConfig;
    use super::super::sim::Family;
    use super::*;

    #[test]
    fn in_fifo_mode_waits_on_the_generations_tx_full_bit() {
        let cases = [
            ("samsung,exynos4210-uart", S5PV210_TX_FULL),
            ("samsung,s3c2440-uart", S3C2440_TX_FULL),
            ("apple,s5l-uart", S3C2410_TX_FULL),
        ];
        for (compatible, tx_full) in cases {
            Family {
                config: UartConfig::from_compatible([compatible], 0, None, None).unwrap(),
                fixed: &[(UFCON, UFCON_FIFO_MODE)],
                status: (UFSTAT, !tx_full, tx_full),
                data: (UTXH, Access::U8),
            }
            .check();
        }
    }

    #[test]
    fn without_the_fifo_waits_for_the_buffer_to_empty() {
        Family {
            config: UartConfig::from_compatible(["samsung,exynos5433-uart"], 0, None, None)
                .unwrap(),
            fixed: &[(UFCON, 0)],
            status: (UTRSTAT, UTRSTAT_TX_EMPTY, 0),
            data: (UTXH, Access::U8),
        }
        .check();
    }

    #[test]
    fn reg_io_width_4_makes_data_writes_32_bit() {
        Family {
            config: UartConfig::from_compatible(["google,gs101-uart"], 0, None, Some(4)).unwrap(),
            fixed: &[(UFCON, UFCON_FIFO_MODE)],
            status: (UFSTAT, 0, S5PV210_TX_FULL),
            data: (UTXH, Access::U32),
        }
        .check();
    }
}
