//! The timeline as a picture (`--trace-png FILE`): one row per core, a colored span per task
//! run (each task its own color, a pixel of gap where one run follows another), a tick per instant event (colored by kind), and a thin line
//! from each wake-up to the woken task's next run. No text, so no font is needed: the Chrome
//! trace has the names.

use plotters::prelude::*;

use super::timeline::{MarkKind, Timeline};

/// The picture's width in pixels.
const WIDTH: u32 = 1200;
/// Row height bounds in pixels: rows shrink with the core count down to the smallest.
const ROW_MAX: u32 = 40;
const ROW_MIN: u32 = 6;
/// The tallest picture rows are shrunk to fit, before the smallest row height takes over.
const ROWS_HEIGHT: u32 = 640;
/// Blank border around the rows, in pixels.
const MARGIN: u32 = 8;

/// Task colors, picked by a hash of the name: distinct, mid-dark, readable on white.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(255, 127, 14),
    RGBColor(82, 84, 163),
];

/// The PNG file of `timeline`'s picture.
pub fn timeline_png(timeline: &Timeline) -> Result<Vec<u8>, String> {
    let cores = timeline.cores.max(1);
    let row = (ROWS_HEIGHT / cores).clamp(ROW_MIN, ROW_MAX);
    let height = cores * row + 2 * MARGIN;
    let mut pixels = vec![0_u8; (WIDTH * height * 3) as usize];
    draw(timeline, row, height, &mut pixels).map_err(|error| format!("drawing: {error}"))?;
    let mut png = Vec::new();
    let mut encoder = png::Encoder::new(&mut png, WIDTH, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder
        .write_header()
        .and_then(|mut writer| writer.write_image_data(&pixels))
        .map_err(|error| format!("encoding the PNG: {error}"))?;
    Ok(png)
}

fn draw(
    timeline: &Timeline,
    row: u32,
    height: u32,
    pixels: &mut [u8],
) -> Result<(), Box<dyn std::error::Error>> {
    let area = BitMapBackend::with_buffer(pixels, (WIDTH, height)).into_drawing_area();
    area.fill(&WHITE)?;
    let span = (timeline.end_us - timeline.start_us).max(1.0);
    let x = |us: f64| {
        MARGIN as i32 + ((us - timeline.start_us) / span * f64::from(WIDTH - 2 * MARGIN)) as i32
    };
    let top = |core: u32| (MARGIN + core * row) as i32;
    let row = row as i32;
    for core in 0..timeline.cores {
        if core % 2 == 1 {
            let band = [(0, top(core)), (WIDTH as i32, top(core) + row)];
            area.draw(&Rectangle::new(band, RGBColor(242, 242, 242).filled()))?;
        }
    }
    for slice in &timeline.slices {
        // A run shorter than a pixel still shows as one pixel; a longer one leaves a pixel of
        // gap at its start, so back-to-back runs of one task stay apart.
        let start = x(slice.start_us);
        let end = x(slice.end_us).max(start + 1);
        let start = if end - start > 2 { start + 1 } else { start };
        let corners = [
            (start, top(slice.core) + 2),
            (end, top(slice.core) + row - 2),
        ];
        area.draw(&Rectangle::new(
            corners,
            color_of(slice.task, &slice.name).filled(),
        ))?;
    }
    for flow in &timeline.flows {
        let from = (x(flow.from_us), top(flow.from_core) + row / 2);
        let to = (x(flow.to_us), top(flow.to_core) + row / 2);
        area.draw(&PathElement::new(vec![from, to], RGBColor(90, 90, 90)))?;
    }
    for mark in &timeline.marks {
        let at = x(mark.at_us);
        let tick = [(at, top(mark.core)), (at, top(mark.core) + row / 3)];
        area.draw(&PathElement::new(tick.to_vec(), mark_color(mark.kind)))?;
    }
    area.present()?;
    Ok(())
}

/// The same color for the same task (id and name), in every picture.
fn color_of(task: u32, name: &str) -> RGBColor {
    // FNV-1a: stable across runs and Rust versions, unlike the standard hasher.
    let bytes = task.to_le_bytes().into_iter().chain(name.bytes());
    let hash = bytes.fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    PALETTE[(hash % PALETTE.len() as u64) as usize]
}

fn mark_color(kind: MarkKind) -> RGBColor {
    match kind {
        MarkKind::Wake => RGBColor(0, 150, 0),
        MarkKind::Steal => RGBColor(255, 140, 0),
        MarkKind::TimerArm => RGBColor(150, 150, 255),
        MarkKind::TimerFire => RGBColor(0, 0, 200),
        MarkKind::Sgi => RGBColor(200, 0, 0),
        MarkKind::Preempt => RGBColor(0, 0, 0),
        MarkKind::Monitor => RGBColor(150, 0, 150),
        MarkKind::Hotplug => RGBColor(120, 80, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::dump::{Dump, tests::SAMPLE};

    #[test]
    fn the_picture_is_a_png_with_a_row_per_core() {
        let timeline = Timeline::new(&Dump::parse(SAMPLE).unwrap());
        let png = timeline_png(&timeline).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let reader = decoder.read_info().unwrap();
        let info = reader.info();
        assert_eq!((info.width, info.height), (WIDTH, 2 * ROW_MAX + 2 * MARGIN));
    }

    #[test]
    fn a_task_keeps_its_color() {
        assert_eq!(color_of(6, "pong"), color_of(6, "pong"));
        let colors: std::collections::HashSet<_> = (0..6)
            .map(|task| {
                let RGBColor(r, g, b) = color_of(task, "worker");
                (r, g, b)
            })
            .collect();
        assert!(colors.len() > 1, "names spread over the palette");
    }
}
