//! The scheduler timeline on the host: reading the kernel's dump out of the console
//! ([`dump`]), turning it into task runs, instants and wake-up flows ([`timeline`]), and
//! writing those as a Chrome trace that Perfetto opens ([`chrome`], `--trace FILE`) or as a
//! picture ([`picture`], `--trace-png FILE`).

pub mod chrome;
pub mod dump;
pub mod picture;
pub mod timeline;

pub use chrome::chrome_trace;
pub use dump::Dump;
pub use picture::timeline_png;
pub use timeline::Timeline;
