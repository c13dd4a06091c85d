//! Line charts of latency percentiles against offered load, drawn into an RGB raster and encoded as PNG.

// Until the report code calls `render` or `render_grid`, nothing in this module is reachable from
// `main`; this keeps the binary free of dead-code warnings meanwhile.

/// A line chart: latency percentiles against offered load.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Title drawn centred above the plot.
    pub title: String,
    /// Label under the x axis, e.g. "offered load (req/s)".
    pub x_label: String,
    /// Label drawn horizontally above the y axis, e.g. "latency (ms)".
    pub y_label: String,
    /// Logarithmic y axis (base 10) when true; non-positive values are then skipped.
    pub log_y: bool,
    /// The lines to draw; a series' colour is chosen by its index.
    pub series: Vec<Series>,
}

/// One line of a chart.
#[derive(Debug, Clone)]
pub struct Series {
    /// Name shown in the legend.
    pub name: String,
    /// Points as (x, y); plotted sorted by x, joined by lines, each marked by a small square.
    pub points: Vec<(f64, f64)>,
    /// Draw the line dashed (used to tell p50 from p99).
    pub dashed: bool,
}

type Rgb = [u8; 3];

const PANEL_W: usize = 800;
const PANEL_H: usize = 500;
const WHITE: Rgb = [255, 255, 255];
const TEXT: Rgb = [30, 30, 30];
const AXIS: Rgb = [70, 70, 70];
const GRID: Rgb = [222, 222, 222];
const MINOR_GRID: Rgb = [242, 242, 242];
const LEGEND_BORDER: Rgb = [170, 170, 170];

/// Text scales: the title, and everything else (ticks, axis labels, legend).
const TITLE_SCALE: i64 = 2;
const LABEL_SCALE: i64 = 2;

/// Values are clamped to this magnitude so that ranges and steps never overflow to infinity.
const MAX_MAGNITUDE: f64 = 1e250;

/// Series colours, by series index (wrapping around).
const PALETTE: [Rgb; 10] = [
    [214, 39, 40],   // red
    [31, 119, 180],  // blue
    [44, 160, 44],   // green
    [255, 127, 14],  // orange
    [148, 103, 189], // purple
    [140, 86, 75],   // brown
    [227, 119, 194], // pink
    [127, 127, 127], // grey
    [188, 189, 34],  // olive
    [23, 190, 207],  // cyan
];

/// A 5x8 bitmap font for ASCII 0x20..=0x7E: five columns per glyph, bit 0 is the top row and
/// bit 7 the descender row.
#[rustfmt::skip]
const FONT: [[u8; 5]; 95] = [
    [0x00, 0x00, 0x00, 0x00, 0x00], [0x00, 0x00, 0x5F, 0x00, 0x00], [0x00, 0x07, 0x00, 0x07, 0x00], //  !"
    [0x14, 0x7F, 0x14, 0x7F, 0x14], [0x24, 0x2A, 0x7F, 0x2A, 0x12], [0x23, 0x13, 0x08, 0x64, 0x62], // #$%
    [0x36, 0x49, 0x55, 0x22, 0x50], [0x00, 0x05, 0x03, 0x00, 0x00], [0x00, 0x1C, 0x22, 0x41, 0x00], // &'(
    [0x00, 0x41, 0x22, 0x1C, 0x00], [0x14, 0x08, 0x3E, 0x08, 0x14], [0x08, 0x08, 0x3E, 0x08, 0x08], // )*+
    [0x00, 0x50, 0x30, 0x00, 0x00], [0x08, 0x08, 0x08, 0x08, 0x08], [0x00, 0x60, 0x60, 0x00, 0x00], // ,-.
    [0x20, 0x10, 0x08, 0x04, 0x02], [0x3E, 0x51, 0x49, 0x45, 0x3E], [0x00, 0x42, 0x7F, 0x40, 0x00], // /01
    [0x42, 0x61, 0x51, 0x49, 0x46], [0x21, 0x41, 0x45, 0x4B, 0x31], [0x18, 0x14, 0x12, 0x7F, 0x10], // 234
    [0x27, 0x45, 0x45, 0x45, 0x39], [0x3C, 0x4A, 0x49, 0x49, 0x30], [0x01, 0x71, 0x09, 0x05, 0x03], // 567
    [0x36, 0x49, 0x49, 0x49, 0x36], [0x06, 0x49, 0x49, 0x29, 0x1E], [0x00, 0x36, 0x36, 0x00, 0x00], // 89:
    [0x00, 0x56, 0x36, 0x00, 0x00], [0x08, 0x14, 0x22, 0x41, 0x00], [0x14, 0x14, 0x14, 0x14, 0x14], // ;<=
    [0x00, 0x41, 0x22, 0x14, 0x08], [0x02, 0x01, 0x51, 0x09, 0x06], [0x32, 0x49, 0x79, 0x41, 0x3E], // >?@
    [0x7E, 0x11, 0x11, 0x11, 0x7E], [0x7F, 0x49, 0x49, 0x49, 0x36], [0x3E, 0x41, 0x41, 0x41, 0x22], // ABC
    [0x7F, 0x41, 0x41, 0x22, 0x1C], [0x7F, 0x49, 0x49, 0x49, 0x41], [0x7F, 0x09, 0x09, 0x09, 0x01], // DEF
    [0x3E, 0x41, 0x49, 0x49, 0x7A], [0x7F, 0x08, 0x08, 0x08, 0x7F], [0x00, 0x41, 0x7F, 0x41, 0x00], // GHI
    [0x20, 0x40, 0x41, 0x3F, 0x01], [0x7F, 0x08, 0x14, 0x22, 0x41], [0x7F, 0x40, 0x40, 0x40, 0x40], // JKL
    [0x7F, 0x02, 0x0C, 0x02, 0x7F], [0x7F, 0x04, 0x08, 0x10, 0x7F], [0x3E, 0x41, 0x41, 0x41, 0x3E], // MNO
    [0x7F, 0x09, 0x09, 0x09, 0x06], [0x3E, 0x41, 0x51, 0x21, 0x5E], [0x7F, 0x09, 0x19, 0x29, 0x46], // PQR
    [0x46, 0x49, 0x49, 0x49, 0x31], [0x01, 0x01, 0x7F, 0x01, 0x01], [0x3F, 0x40, 0x40, 0x40, 0x3F], // STU
    [0x1F, 0x20, 0x40, 0x20, 0x1F], [0x3F, 0x40, 0x38, 0x40, 0x3F], [0x63, 0x14, 0x08, 0x14, 0x63], // VWX
    [0x07, 0x08, 0x70, 0x08, 0x07], [0x61, 0x51, 0x49, 0x45, 0x43], [0x00, 0x7F, 0x41, 0x41, 0x00], // YZ[
    [0x02, 0x04, 0x08, 0x10, 0x20], [0x00, 0x41, 0x41, 0x7F, 0x00], [0x04, 0x02, 0x01, 0x02, 0x04], // \]^
    [0x80, 0x80, 0x80, 0x80, 0x80], [0x00, 0x01, 0x02, 0x04, 0x00], [0x20, 0x54, 0x54, 0x54, 0x78], // _`a
    [0x7F, 0x48, 0x44, 0x44, 0x38], [0x38, 0x44, 0x44, 0x44, 0x20], [0x38, 0x44, 0x44, 0x48, 0x7F], // bcd
    [0x38, 0x54, 0x54, 0x54, 0x18], [0x08, 0x7E, 0x09, 0x01, 0x02], [0x98, 0xA4, 0xA4, 0xA4, 0x7C], // efg
    [0x7F, 0x08, 0x04, 0x04, 0x78], [0x00, 0x44, 0x7D, 0x40, 0x00], [0x40, 0x80, 0x80, 0x7D, 0x00], // hij
    [0x7F, 0x10, 0x28, 0x44, 0x00], [0x00, 0x41, 0x7F, 0x40, 0x00], [0x7C, 0x04, 0x18, 0x04, 0x78], // klm
    [0x7C, 0x08, 0x04, 0x04, 0x78], [0x38, 0x44, 0x44, 0x44, 0x38], [0xFC, 0x24, 0x24, 0x24, 0x18], // nop
    [0x18, 0x24, 0x24, 0x24, 0xFC], [0x7C, 0x08, 0x04, 0x04, 0x08], [0x48, 0x54, 0x54, 0x54, 0x20], // qrs
    [0x04, 0x3F, 0x44, 0x40, 0x20], [0x3C, 0x40, 0x40, 0x20, 0x7C], [0x1C, 0x20, 0x40, 0x20, 0x1C], // tuv
    [0x3C, 0x40, 0x30, 0x40, 0x3C], [0x44, 0x28, 0x10, 0x28, 0x44], [0x1C, 0xA0, 0xA0, 0xA0, 0x7C], // wxy
    [0x44, 0x64, 0x54, 0x4C, 0x44], [0x00, 0x08, 0x36, 0x41, 0x00], [0x00, 0x00, 0x7F, 0x00, 0x00], // z{|
    [0x00, 0x41, 0x36, 0x08, 0x00], [0x08, 0x04, 0x08, 0x10, 0x08], // }~
];

/// The glyph for a character; anything outside printable ASCII is drawn as '?'.
fn glyph(c: char) -> [u8; 5] {
    let code = u32::from(c);
    let index = if (0x20..=0x7E).contains(&code) { code - 0x20 } else { u32::from('?') - 0x20 };
    FONT[index as usize]
}

/// Width in pixels of a string drawn at `scale` (6 pixels per glyph including spacing).
fn text_width(s: &str, scale: i64) -> i64 {
    let n = i64::try_from(s.chars().count()).unwrap_or(i64::MAX / 64);
    if n == 0 { 0 } else { (n * 6 - 1) * scale }
}

/// Height in pixels of a line of text at `scale`, descenders included.
fn text_height(scale: i64) -> i64 {
    8 * scale
}

/// An RGB8 pixel buffer; every drawing call clips to its bounds.
#[derive(Debug)]
struct Canvas {
    width: usize,
    height: usize,
    pixels: Vec<u8>,
}

impl Canvas {
    fn new(width: usize, height: usize) -> Self {
        Self { width, height, pixels: vec![255; width * height * 3] }
    }

    fn set(&mut self, x: i64, y: i64, colour: Rgb) {
        let (Ok(x), Ok(y)) = (usize::try_from(x), usize::try_from(y)) else { return };
        if x < self.width && y < self.height {
            let i = (y * self.width + x) * 3;
            self.pixels[i..i + 3].copy_from_slice(&colour);
        }
    }

    fn fill_rect(&mut self, x: i64, y: i64, w: i64, h: i64, colour: Rgb) {
        let (w_max, h_max) = (self.width as i64, self.height as i64);
        for yy in y.max(0)..y.saturating_add(h).min(h_max) {
            for xx in x.max(0)..x.saturating_add(w).min(w_max) {
                self.set(xx, yy, colour);
            }
        }
    }

    fn stroke_rect(&mut self, x: i64, y: i64, w: i64, h: i64, colour: Rgb) {
        self.fill_rect(x, y, w, 1, colour);
        self.fill_rect(x, y + h - 1, w, 1, colour);
        self.fill_rect(x, y, 1, h, colour);
        self.fill_rect(x + w - 1, y, 1, h, colour);
    }

    fn text(&mut self, x: i64, y: i64, s: &str, scale: i64, colour: Rgb) {
        for (i, c) in s.chars().enumerate() {
            let gx = x + i64::try_from(i).unwrap_or(i64::MAX / 64).saturating_mul(6 * scale);
            if gx >= self.width as i64 {
                break;
            }
            for (col, bits) in (0_i64..).zip(glyph(c)) {
                for row in 0..8 {
                    if bits >> row & 1 == 1 {
                        self.fill_rect(gx + col * scale, y + row * scale, scale, scale, colour);
                    }
                }
            }
        }
    }

    /// Copies `panel` into this canvas with its top-left corner at (`ox`, `oy`).
    fn blit(&mut self, panel: &Canvas, ox: usize, oy: usize) {
        for row in 0..panel.height.min(self.height.saturating_sub(oy)) {
            let n = panel.width.min(self.width.saturating_sub(ox)) * 3;
            let src = row * panel.width * 3;
            let dst = ((oy + row) * self.width + ox) * 3;
            self.pixels[dst..dst + n].copy_from_slice(&panel.pixels[src..src + n]);
        }
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, self.width as u32, self.height as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().expect("writing a PNG header into memory");
        writer.write_image_data(&self.pixels).expect("encoding PNG image data into memory");
        writer.finish().expect("finishing a PNG in memory");
        out
    }
}

/// The state of a line being drawn: its colour and, for dashes, how far along the pattern it is.
#[derive(Debug)]
struct Pen {
    colour: Rgb,
    dashed: bool,
    step: u32,
}

impl Pen {
    /// Draws a 2 px thick line with Bresenham's algorithm, keeping the dash pattern across calls.
    fn line(&mut self, canvas: &mut Canvas, from: (i64, i64), to: (i64, i64)) {
        let (mut x, mut y) = from;
        let (dx, dy) = ((to.0 - x).abs(), -(to.1 - y).abs());
        let (sx, sy) = (if x < to.0 { 1 } else { -1 }, if y < to.1 { 1 } else { -1 });
        let mut err = dx + dy;
        loop {
            if !self.dashed || self.step % 14 < 8 {
                canvas.fill_rect(x, y, 2, 2, self.colour);
            }
            self.step = self.step.wrapping_add(1);
            if x == to.0 && y == to.1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }
}

/// The plot area in panel pixels.
#[derive(Debug, Clone, Copy)]
struct Rect {
    left: f64,
    top: f64,
    right: f64,
    bottom: f64,
}

/// Clips a segment to `r` (Liang-Barsky); `None` when it lies entirely outside.
fn clip_segment(a: (f64, f64), b: (f64, f64), r: Rect) -> Option<((f64, f64), (f64, f64))> {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut t0, mut t1) = (0.0_f64, 1.0_f64);
    for (p, q) in [(-dx, a.0 - r.left), (dx, r.right - a.0), (-dy, a.1 - r.top), (dy, r.bottom - a.1)] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let t = q / p;
            if p < 0.0 {
                t0 = t0.max(t);
            } else {
                t1 = t1.min(t);
            }
            if t0 > t1 {
                return None;
            }
        }
    }
    Some(((a.0 + t0 * dx, a.1 + t0 * dy), (a.0 + t1 * dx, a.1 + t1 * dy)))
}

/// One axis: its range (in log10 units on a log axis), labelled ticks and unlabelled minor lines.
#[derive(Debug)]
struct Axis {
    lo: f64,
    hi: f64,
    log: bool,
    ticks: Vec<(f64, String)>,
    minor: Vec<f64>,
}

impl Axis {
    /// Where `v` falls on the axis, 0.0 at the low end and 1.0 at the high end.
    fn frac(&self, v: f64) -> f64 {
        let v = if self.log { v.log10() } else { v };
        (v - self.lo) / (self.hi - self.lo)
    }
}

/// The 1-2-5 step nearest above `raw`.
fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let magnitude = 10_f64.powf(raw.log10().floor());
    let f = raw / magnitude;
    let nice = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * magnitude
}

/// Formats a tick value compactly: integers without decimals, otherwise as many decimals as the
/// step needs, and scientific notation for very large or very small numbers.
fn fmt_tick(v: f64, step: f64) -> String {
    if !v.is_finite() {
        return "?".to_owned();
    }
    let step = step.abs();
    if v.abs() <= step * 1e-6 {
        return "0".to_owned();
    }
    if v.abs().max(step) >= 1e7 || step < 1e-4 {
        let s = format!("{v:.2e}");
        let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
        return format!("{}e{exponent}", mantissa.trim_end_matches('0').trim_end_matches('.'));
    }
    let decimals = if step >= 1.0 { 0 } else { (-step.log10().floor()).clamp(0.0, 4.0) as usize };
    let s = format!("{v:.decimals$}");
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_owned() } else { s }
}

/// A linear axis over `lo..=hi` with about `target` nice ticks.
fn linear_axis(lo: f64, hi: f64, target: f64) -> Axis {
    let (lo, hi) = if hi > lo { (lo, hi) } else { (lo, lo + lo.abs().max(1.0)) };
    let step = nice_step((hi - lo) / target);
    let mut start = (lo / step).floor() * step;
    let mut end = (hi / step).ceil() * step;
    if !(end > start && start.is_finite() && end.is_finite()) {
        (start, end) = (lo, hi);
    }
    let n = ((end - start) / step).round().clamp(1.0, 100.0) as usize;
    let ticks = (0..=n).map(|i| start + i as f64 * step).map(|v| (v, fmt_tick(v, step))).collect();
    Axis { lo: start, hi: end, log: false, ticks, minor: Vec::new() }
}

/// A base-10 log axis covering `min..=max` (both positive), ticks at powers of ten.
fn log_axis(min: f64, max: f64) -> Axis {
    let lo = min.log10().floor();
    let mut hi = max.log10().ceil().max(lo + 1.0);
    // Label every k-th decade so that there are at most eight labelled ticks.
    let k = ((hi - lo) / 8.0).ceil().max(1.0);
    hi = lo + ((hi - lo) / k).ceil() * k;
    let n = ((hi - lo) / k).round().clamp(1.0, 100.0) as usize;
    let ticks = (0..=n).map(|i| 10_f64.powf(lo + i as f64 * k)).map(|v| (v, fmt_tick(v, v))).collect();
    let mut minor = Vec::new();
    if k == 1.0 && n <= 8 {
        for i in 0..n {
            let decade = 10_f64.powf(lo + i as f64);
            minor.extend((2..=9).map(|m| f64::from(m) * decade));
        }
    }
    Axis { lo, hi, log: true, ticks, minor }
}

/// Rounds a pixel coordinate, keeping it in a range where integer arithmetic cannot overflow.
fn px(v: f64) -> i64 {
    v.round().clamp(-1e6, 1e6) as i64
}

/// A series' drawable points: finite, positive on a log axis, clamped, sorted by x.
fn clean_points(series: &Series, log_y: bool) -> Vec<(f64, f64)> {
    let mut points: Vec<(f64, f64)> = series
        .points
        .iter()
        .filter(|(x, y)| x.is_finite() && y.is_finite() && (!log_y || *y > 0.0))
        .map(|&(x, y)| {
            let y_min = if log_y { 1.0 / MAX_MAGNITUDE } else { -MAX_MAGNITUDE };
            (x.clamp(-MAX_MAGNITUDE, MAX_MAGNITUDE), y.clamp(y_min, MAX_MAGNITUDE))
        })
        .collect();
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    points
}

fn draw_panel(chart: &Chart) -> Canvas {
    let mut c = Canvas::new(PANEL_W, PANEL_H);
    let (w, h) = (PANEL_W as i64, PANEL_H as i64);
    let lines: Vec<Vec<(f64, f64)>> = chart.series.iter().map(|s| clean_points(s, chart.log_y)).collect();
    let all = lines.iter().flatten();
    let x_max = all.clone().map(|p| p.0).fold(0.0_f64, f64::max);
    let (y_min, y_max) =
        all.map(|p| p.1).fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), y| (lo.min(y), hi.max(y)));

    let y_axis = if chart.log_y {
        if y_min <= y_max { log_axis(y_min, y_max) } else { log_axis(1.0, 100.0) }
    } else if y_min <= y_max {
        // A little headroom so that the highest point does not sit on the top edge.
        linear_axis(y_min.min(0.0), y_max.max(0.0) * 1.05, 6.0)
    } else {
        linear_axis(0.0, 1.0, 6.0)
    };
    let label_h = text_height(LABEL_SCALE);
    let y_label_w = y_axis.ticks.iter().map(|t| text_width(&t.1, LABEL_SCALE)).max().unwrap_or(0);
    let left = (y_label_w + 18).clamp(50, w / 2);
    let (top, right, bottom) = (64, w - 28, h - 30 - 2 * label_h);
    let plot = Rect { left: left as f64, top: top as f64, right: right as f64, bottom: bottom as f64 };

    // Fewer x ticks until their labels no longer crowd each other.
    let mut x_axis = linear_axis(0.0, x_max, 8.0);
    for target in [6.0, 4.0, 3.0, 2.0, 1.0] {
        let widest = x_axis.ticks.iter().map(|t| text_width(&t.1, LABEL_SCALE)).max().unwrap_or(0);
        let gaps = i64::try_from(x_axis.ticks.len().max(2) - 1).unwrap_or(1);
        if widest + 16 <= (right - left) / gaps {
            break;
        }
        x_axis = linear_axis(0.0, x_max, target);
    }
    let to_px = |x: f64, y: f64| {
        let px = plot.left + x_axis.frac(x) * (plot.right - plot.left);
        (px, plot.bottom - y_axis.frac(y) * (plot.bottom - plot.top))
    };

    // Grid lines, ticks and tick labels.
    for &v in &y_axis.minor {
        c.fill_rect(left + 1, px(to_px(0.0, v).1), right - left, 1, MINOR_GRID);
    }
    for (v, label) in &y_axis.ticks {
        let py = px(to_px(0.0, *v).1);
        c.fill_rect(left + 1, py, right - left, 1, GRID);
        c.fill_rect(left - 5, py, 5, 1, AXIS);
        c.text(left - 8 - text_width(label, LABEL_SCALE), py - label_h / 2 + 1, label, LABEL_SCALE, TEXT);
    }
    for (v, label) in &x_axis.ticks {
        let px = px(to_px(*v, 1.0).0);
        c.fill_rect(px, top, 1, bottom - top, GRID);
        c.fill_rect(px, bottom, 1, 5, AXIS);
        c.text(px - text_width(label, LABEL_SCALE) / 2, bottom + 9, label, LABEL_SCALE, TEXT);
    }
    c.fill_rect(left, top, 1, bottom - top + 1, AXIS);
    c.fill_rect(left, bottom, right - left + 1, 1, AXIS);

    // Series: clipped line segments, then point markers on top.
    for (i, points) in lines.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let mut pen = Pen { colour, dashed: chart.series[i].dashed, step: 0 };
        let mapped: Vec<(f64, f64)> = points.iter().map(|&(x, y)| to_px(x, y)).collect();
        for pair in mapped.windows(2) {
            if let Some((a, b)) = clip_segment(pair[0], pair[1], plot) {
                pen.line(&mut c, (px(a.0), px(a.1)), (px(b.0), px(b.1)));
            }
        }
        for &(x, y) in &mapped {
            if (plot.left - 0.5..=plot.right + 0.5).contains(&x) && (plot.top - 0.5..=plot.bottom + 0.5).contains(&y) {
                c.fill_rect(px(x) - 2, px(y) - 2, 6, 6, colour);
            }
        }
    }

    // Legend box in the top-right corner of the plot.
    if !chart.series.is_empty() {
        let row_h = label_h + 8;
        let names_w = chart.series.iter().map(|s| text_width(&s.name, LABEL_SCALE)).max().unwrap_or(0);
        let rows = i64::try_from(chart.series.len()).unwrap_or(i64::MAX / 64);
        let (box_w, box_h) = (names_w + 62, rows.saturating_mul(row_h).saturating_add(10));
        let (bx, by) = (right - 10 - box_w, top + 10);
        c.fill_rect(bx, by, box_w, box_h, WHITE);
        c.stroke_rect(bx, by, box_w, box_h, LEGEND_BORDER);
        for (i, s) in chart.series.iter().enumerate() {
            let colour = PALETTE[i % PALETTE.len()];
            let cy = by + 5 + i64::try_from(i).unwrap_or(0) * row_h + row_h / 2;
            Pen { colour, dashed: s.dashed, step: 0 }.line(&mut c, (bx + 10, cy - 1), (bx + 40, cy - 1));
            c.fill_rect(bx + 22, cy - 3, 6, 6, colour);
            c.text(bx + 50, cy - label_h / 2, &s.name, LABEL_SCALE, TEXT);
        }
    }

    // Title, y label above the axis, x label under the tick labels.
    let title_w = text_width(&chart.title, TITLE_SCALE);
    let title_x = ((w - title_w) / 2).max(8);
    c.text(title_x, 12, &chart.title, TITLE_SCALE, TEXT);
    c.text(title_x + 1, 12, &chart.title, TITLE_SCALE, TEXT);
    c.text(8, top - label_h - 10, &chart.y_label, LABEL_SCALE, TEXT);
    let x_label_x = (left + right - text_width(&chart.x_label, LABEL_SCALE)) / 2;
    c.text(x_label_x.max(8), bottom + label_h + 18, &chart.x_label, LABEL_SCALE, TEXT);
    c
}

/// Several charts laid out in a grid (`columns` per row), one PNG.
///
/// Each chart is an 800x500 panel; the image is `800 * columns` wide and `500 * rows` high, with
/// `columns` clamped to at least 1 and at most the number of charts. No charts give one blank panel.
pub fn render_grid(charts: &[Chart], columns: usize) -> Vec<u8> {
    let columns = columns.clamp(1, charts.len().max(1));
    let rows = charts.len().div_ceil(columns).max(1);
    let mut grid = Canvas::new(PANEL_W * columns, PANEL_H * rows);
    for (i, chart) in charts.iter().enumerate() {
        grid.blit(&draw_panel(chart), (i % columns) * PANEL_W, (i / columns) * PANEL_H);
    }
    grid.encode()
}

/// One chart as a PNG (RGB8), 800x500 pixels.
#[cfg_attr(not(test), allow(dead_code))]
pub fn render(chart: &Chart) -> Vec<u8> {
    draw_panel(chart).encode()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes a PNG into (width, height, RGB8 pixels).
    fn decode(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().expect("a valid PNG header");
        let mut buf = vec![0; reader.output_buffer_size().expect("a buffer size")];
        let info = reader.next_frame(&mut buf).expect("a valid PNG frame");
        assert_eq!(info.color_type, png::ColorType::Rgb);
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    fn pixel(pixels: &[u8], width: u32, x: u32, y: u32) -> Rgb {
        let i = ((y * width + x) * 3) as usize;
        [pixels[i], pixels[i + 1], pixels[i + 2]]
    }

    fn chart(log_y: bool, series: Vec<Series>) -> Chart {
        Chart {
            title: "Latency".into(),
            x_label: "offered load (req/s)".into(),
            y_label: "latency (ms)".into(),
            log_y,
            series,
        }
    }

    fn series(name: &str, points: &[(f64, f64)], dashed: bool) -> Series {
        Series { name: name.into(), points: points.to_vec(), dashed }
    }

    fn example() -> Chart {
        let loads = [50.0, 100.0, 150.0, 200.0, 250.0, 300.0, 350.0, 400.0];
        let p50: Vec<(f64, f64)> = loads.iter().map(|&l| (l, 2.0 + l * l / 40_000.0)).collect();
        let p99: Vec<(f64, f64)> = loads.iter().map(|&l| (l, 8.0 + (l / 60.0).exp())).collect();
        chart(true, vec![series("dui p50", &p50, true), series("dui p99", &p99, false)])
    }

    #[test]
    fn render_has_panel_dimensions() {
        let (w, h, pixels) = decode(&render(&example()));
        assert_eq!((w, h), (800, 500));
        assert_eq!(pixels.len(), 800 * 500 * 3);
    }

    #[test]
    fn grid_of_three_in_two_columns_is_two_rows() {
        let charts = vec![example(), chart(false, Vec::new()), example()];
        let (w, h, _) = decode(&render_grid(&charts, 2));
        assert_eq!((w, h), (1600, 1000));
        let (w, h, _) = decode(&render_grid(&[], 0));
        assert_eq!((w, h), (800, 500));
    }

    #[test]
    fn series_colour_appears_in_plot_and_corners_stay_white() {
        let c = chart(false, vec![series("red", &[(0.0, 0.0), (100.0, 50.0), (200.0, 100.0)], false)]);
        let (w, h, pixels) = decode(&render(&c));
        let in_plot = (150..650)
            .flat_map(|x| (100..400).map(move |y| (x, y)))
            .filter(|&(x, y)| pixel(&pixels, w, x, y) == PALETTE[0])
            .count();
        assert!(in_plot > 500, "only {in_plot} series pixels in the plot area");
        assert_eq!(pixel(&pixels, w, 0, 0), WHITE);
        assert_eq!(pixel(&pixels, w, w - 1, h - 1), WHITE);
    }

    #[test]
    fn degenerate_inputs_render() {
        let nan = f64::NAN;
        let inf = f64::INFINITY;
        let cases = vec![
            chart(false, Vec::new()),
            chart(true, Vec::new()),
            chart(false, vec![series("empty", &[], false)]),
            chart(true, vec![series("one", &[(10.0, 5.0)], true)]),
            chart(false, vec![series("one", &[(0.0, 0.0)], false)]),
            chart(false, vec![series("flat", &[(1.0, 3.0), (2.0, 3.0), (3.0, 3.0)], false)]),
            chart(true, vec![series("flat", &[(1.0, 3.0), (2.0, 3.0)], false)]),
            chart(true, vec![series("bad", &[(0.0, 0.0), (1.0, -1.0), (nan, 1.0), (2.0, nan), (3.0, inf)], false)]),
            chart(false, vec![series("nan", &[(nan, nan), (inf, -inf), (1.0, nan)], false)]),
            chart(false, vec![series("neg", &[(-5.0, -2.0), (4.0, -7.0)], true)]),
            chart(false, vec![series("huge", &[(0.0, f64::MAX), (f64::MAX, -f64::MAX), (1.0, 1e300)], false)]),
            chart(true, vec![series("wide", &[(1.0, f64::MIN_POSITIVE), (2.0, f64::MAX)], false)]),
            chart(true, vec![series("subnormal", &[(1.0, 5e-324), (2.0, 1e-310)], false)]),
            chart(false, vec![series("tiny", &[(1e-9, 1e-9), (2e-9, 3e-9)], false)]),
            Chart { title: "Ünïcödé ✓".into(), ..chart(false, vec![series("名前", &[(1.0, 1.0)], false)]) },
        ];
        for c in &cases {
            let (w, h, _) = decode(&render(c));
            assert_eq!((w, h), (800, 500), "{c:?}");
        }
        let (w, h, _) = decode(&render_grid(&cases, 4));
        assert_eq!((w, h), (3200, 2000));
    }

    #[test]
    fn font_covers_printable_ascii() {
        assert_eq!(glyph(' '), [0; 5]);
        for code in 0x21_u8..=0x7E {
            assert_ne!(glyph(char::from(code)), [0; 5], "blank glyph for {:?}", char::from(code));
        }
        assert_eq!(glyph('é'), glyph('?'));
    }

    #[test]
    fn tick_labels_are_compact() {
        let log: Vec<String> = log_axis(0.5, 800.0).ticks.into_iter().map(|t| t.1).collect();
        assert_eq!(log, ["0.1", "1", "10", "100", "1000"]);
        let linear: Vec<String> = linear_axis(0.0, 400.0, 8.0).ticks.into_iter().map(|t| t.1).collect();
        assert_eq!(linear, ["0", "50", "100", "150", "200", "250", "300", "350", "400"]);
        assert_eq!(fmt_tick(0.30000000000000004, 0.1), "0.3");
        assert_eq!(fmt_tick(2.5, 0.5), "2.5");
        assert_eq!(fmt_tick(0.05, 0.05), "0.05");
        assert_eq!(fmt_tick(1e9, 1e9), "1e9");
        assert_eq!(fmt_tick(-0.0, 1.0), "0");
    }
}
