//! The figures, each drawn once and rendered to SVG and PNG.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use faastwin_models::{Distribution, Metric};
use plotters::coord::Shift;
use plotters::data::Quartiles;
use plotters::prelude::*;

use crate::ReportError;

/// Okabe–Ito colours: told apart with colour-blindness and, by lightness, in greyscale.
const PALETTE: [RGBColor; 6] = [
    RGBColor(0, 0, 0),
    RGBColor(230, 159, 0),
    RGBColor(0, 114, 178),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
];

/// A series colour.
pub(crate) fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

const FONT: &str = "sans-serif";

/// Registers a TrueType font for text (plotters draws text itself, in SVG and PNG alike).
/// Looks at `FAASTWIN_FONT`, then the usual places of DejaVu Sans and Liberation Sans.
pub fn ensure_font() -> Result<(), ReportError> {
    static FONT_LOADED: OnceLock<Result<(), String>> = OnceLock::new();
    FONT_LOADED
        .get_or_init(|| {
            let mut candidates: Vec<PathBuf> = std::env::var_os("FAASTWIN_FONT").map(PathBuf::from).into_iter().collect();
            candidates.extend(
                [
                    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
                    "/usr/share/fonts/TTF/DejaVuSans.ttf",
                    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
                    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
                    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
                    "/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf",
                ]
                .map(PathBuf::from),
            );
            let bytes = candidates.iter().find_map(|p| std::fs::read(p).ok()).ok_or_else(|| {
                "no TrueType font found: install fonts-dejavu-core or point FAASTWIN_FONT at a .ttf file".to_owned()
            })?;
            // plotters keeps fonts for the whole process.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            plotters::style::register_font(FONT, FontStyle::Normal, bytes).map_err(|_| "the font file is not a usable TrueType font".to_owned())
        })
        .clone()
        .map_err(|detail| ReportError::Font { detail })
}

/// Something that can be drawn on any plotters backend.
pub(crate) trait Figure {
    /// Size in pixels.
    fn size(&self) -> (u32, u32) {
        (960, 560)
    }
    /// Draws the figure.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

/// Renders `figure` to `dir/name.svg` and `dir/name.png`; returns the SVG path.
pub(crate) fn render(figure: &impl Figure, dir: &Path, name: &str) -> Result<PathBuf, ReportError> {
    ensure_font()?;
    let (w, h) = figure.size();
    let svg = dir.join(format!("{name}.svg"));
    let png = dir.join(format!("{name}.png"));
    let fail = |detail: String| ReportError::Figure {
        name: name.to_owned(),
        detail,
    };
    {
        let root = SVGBackend::new(&svg, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(err).map_err(fail)?;
        figure.draw(&root).map_err(fail)?;
        root.present().map_err(err).map_err(fail)?;
    }
    {
        let root = BitMapBackend::new(&png, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(err).map_err(fail)?;
        figure.draw(&root).map_err(fail)?;
        root.present().map_err(err).map_err(fail)?;
    }
    Ok(svg)
}

/// Axis numbers without trailing zeros: 0.25, 1000, 2.5e-5.
fn pretty(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e6).contains(&a) {
        return format!("{v:.1e}");
    }
    let text = format!("{v:.4}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Slot of category `i` on a categorical axis of `n` categories. Segmented axes over `0..n-1`
/// have exactly `n` slots (`0..n` would add an empty one); one category alone would make the
/// degenerate range `0..0`, where plotters maps nothing, so it sits in the middle of three.
fn slot(i: usize, n: usize) -> usize {
    if n == 1 { i + 1 } else { i }
}

/// The axis range of `n` categories (see [`slot`]).
fn slots(n: usize) -> std::ops::Range<usize> {
    if n <= 1 { 0..2 } else { 0..n - 1 }
}

/// The label of a slot of a categorical axis of `labels`.
fn segment_label(labels: &[&str], v: &SegmentValue<usize>) -> String {
    match v {
        SegmentValue::CenterOf(s) => (0..labels.len())
            .find(|i| slot(*i, labels.len()) == *s)
            .map_or_else(String::new, |i| labels[i].to_owned()),
        _ => String::new(),
    }
}

/// The legend box every figure uses.
fn legend<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
    size: u32,
) -> Result<(), String> {
    chart
        .configure_series_labels()
        .position(position)
        .label_font((FONT, size))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
        .map_err(err)
}

fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
    if lo > hi {
        (0.0, 1.0)
    } else if lo == hi {
        (lo * 0.9, hi * 1.1 + 1e-9)
    } else {
        (lo, hi)
    }
}

/// Labelled ticks of a log axis over [lo, hi]: 1, 2 and 5 times the powers of ten inside it, or
/// every digit times them when those are fewer than four (a range within one decade would
/// otherwise have no label at all).
pub(crate) fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    if !(lo > 0.0 && hi > lo && hi.is_finite()) {
        return Vec::new();
    }
    let ticks = |mantissas: &[f64]| -> Vec<f64> {
        let (first, last) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
        (first..=last)
            .flat_map(|k| mantissas.iter().map(move |m| m * 10f64.powi(k)))
            .filter(|t| (lo..=hi).contains(t))
            .collect()
    };
    let coarse = ticks(&[1.0, 2.0, 5.0]);
    if coarse.len() >= 4 {
        coarse
    } else {
        ticks(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])
    }
}

/// Box plots of Job latency and, beside them, of the function body, one box per group.
pub(crate) struct LatencyBoxes {
    /// (label, Job latencies [s], function bodies [s]).
    pub(crate) groups: Vec<(String, Vec<f64>, Vec<f64>)>,
}

impl Figure for LatencyBoxes {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let panels = root.split_evenly((1, 2));
        let labels: Vec<&str> = self.groups.iter().map(|g| g.0.as_str()).collect();
        for (panel, (title, pick)) in panels.iter().zip([
            ("Job latency (submit → completion seen)", 0usize),
            ("Function body (worker's own clock)", 1),
        ]) {
            let data: Vec<&Vec<f64>> = self
                .groups
                .iter()
                .map(|g| if pick == 0 { &g.1 } else { &g.2 })
                .collect();
            let (lo, hi) = range(data.iter().flat_map(|v| v.iter().copied()));
            let (lo, hi) = ((lo.max(1e-6) * 0.8) as f32, (hi * 1.25) as f32);
            let mut chart = ChartBuilder::on(panel)
                .caption(title, (FONT, 18))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(70)
                .build_cartesian_2d(
                    slots(labels.len()).into_segmented(),
                    (lo..hi).log_scale().with_key_points(
                        log_ticks(f64::from(lo), f64::from(hi))
                            .into_iter()
                            .map(|t| t as f32)
                            .collect(),
                    ),
                )
                .map_err(err)?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .y_desc("seconds (log scale)")
                .y_label_formatter(&|v| pretty(f64::from(*v)))
                .x_label_formatter(&|v| segment_label(&labels, v))
                .label_style((FONT, 12))
                .draw()
                .map_err(err)?;
            for (i, values) in data.iter().enumerate() {
                if values.is_empty() {
                    continue;
                }
                let q = Quartiles::new(values);
                chart
                    .draw_series(std::iter::once(
                        Boxplot::new_vertical(SegmentValue::CenterOf(slot(i, labels.len())), &q)
                            .width(30)
                            .whisker_width(0.6)
                            .style(color(i).stroke_width(2)),
                    ))
                    .map_err(err)?;
            }
        }
        Ok(())
    }
}

/// Empirical CDFs of Job latency, one line per group.
pub(crate) struct Ecdf {
    /// (label, values [s]).
    pub(crate) series: Vec<(String, Vec<f64>)>,
}

impl Figure for Ecdf {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let (lo, hi) = range(self.series.iter().flat_map(|s| s.1.iter().copied()));
        let lo = lo.max(1e-6);
        let mut chart = ChartBuilder::on(root)
            .caption("Job latency, empirical CDF", (FONT, 20))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d(
                (lo * 0.9..hi * 1.1)
                    .log_scale()
                    .with_key_points(log_ticks(lo * 0.9, hi * 1.1)),
                0.0..1.0,
            )
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("Job latency [s] (log scale)")
            .y_desc("share of invocations")
            .x_label_formatter(&|v| pretty(*v))
            .label_style((FONT, 13))
            .draw()
            .map_err(err)?;
        for (i, (label, values)) in self.series.iter().enumerate() {
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            let n = sorted.len() as f64;
            let mut points = Vec::with_capacity(2 * sorted.len());
            for (k, v) in sorted.iter().enumerate() {
                points.push((*v, k as f64 / n));
                points.push((*v, (k + 1) as f64 / n));
            }
            let style = color(i).stroke_width(2);
            chart
                .draw_series(LineSeries::new(points, style))
                .map_err(err)?
                .label(label.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color(i).stroke_width(2))
                });
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight, 13)?;
        Ok(())
    }
}

/// Stacked bars of the mean latency decomposition, with the share of each stage.
pub(crate) struct Decomposition {
    /// (label, [(stage, mean seconds)]).
    pub(crate) bars: Vec<(String, Vec<(String, f64)>)>,
}

impl Figure for Decomposition {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let top = self
            .bars
            .iter()
            .map(|b| b.1.iter().map(|s| s.1.max(0.0)).sum::<f64>())
            .fold(0.0, f64::max)
            .max(1e-9);
        let labels: Vec<&str> = self.bars.iter().map(|b| b.0.as_str()).collect();
        let mut chart = ChartBuilder::on(root)
            .caption("Mean Job latency decomposition", (FONT, 20))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(slots(labels.len()).into_segmented(), 0.0..top * 1.15)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .y_desc("mean seconds per invocation")
            .y_label_formatter(&|v| pretty(*v))
            .x_label_formatter(&|v| segment_label(&labels, v))
            .label_style((FONT, 13))
            .draw()
            .map_err(err)?;
        let mut stages: Vec<String> = Vec::new();
        for (_, parts) in &self.bars {
            for (stage, _) in parts {
                if !stages.contains(stage) {
                    stages.push(stage.clone());
                }
            }
        }
        for (s, stage) in stages.iter().enumerate() {
            let mut rects = Vec::new();
            let mut texts = Vec::new();
            for (b, (_, parts)) in self.bars.iter().enumerate() {
                let total: f64 = parts.iter().map(|p| p.1.max(0.0)).sum();
                let below: f64 = parts
                    .iter()
                    .take_while(|p| &p.0 != stage)
                    .map(|p| p.1.max(0.0))
                    .sum();
                let Some((_, value)) = parts.iter().find(|p| &p.0 == stage) else {
                    continue;
                };
                let value = value.max(0.0);
                rects.push(Rectangle::new(
                    [
                        (SegmentValue::Exact(slot(b, labels.len())), below),
                        (
                            SegmentValue::Exact(slot(b, labels.len()) + 1),
                            below + value,
                        ),
                    ],
                    color(s).mix(0.85).filled(),
                ));
                if total > 0.0 && value / total >= 0.04 {
                    texts.push(Text::new(
                        format!("{:.1} %", 100.0 * value / total),
                        (
                            SegmentValue::CenterOf(slot(b, labels.len())),
                            below + value / 2.0,
                        ),
                        (FONT, 13)
                            .into_font()
                            .color(&if s == 0 { WHITE } else { BLACK }),
                    ));
                }
            }
            chart
                .draw_series(rects)
                .map_err(err)?
                .label(stage.clone())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 14, y + 6)], color(s).mix(0.85).filled())
                });
            chart.draw_series(texts).map_err(err)?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight, 13)?;
        Ok(())
    }
}

/// Fitted distributions over measured histograms, one panel per component.
pub(crate) struct Fits {
    /// Platform name.
    pub(crate) platform: String,
    /// (component, measured values, fitted model).
    pub(crate) panels: Vec<(String, Vec<f64>, Distribution)>,
}

impl Figure for Fits {
    fn size(&self) -> (u32, u32) {
        let rows = self.panels.len().div_ceil(3).max(1) as u32;
        (1200, 60 + 300 * rows)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let root = root
            .titled(
                &format!("{}: fitted models over measured values", self.platform),
                (FONT, 22),
            )
            .map_err(err)?;
        let rows = self.panels.len().div_ceil(3).max(1);
        let cells = root.split_evenly((rows, 3));
        for (cell, (component, values, model)) in cells.iter().zip(&self.panels) {
            // Readable units: per-byte costs in ns/B, short durations in ms.
            // Body parts are named `<body>.<part>` and drawn per byte; other names may hold a
            // decimal point ("completion less 0.82 s of service").
            let per_byte = [".read", ".compute", ".write"]
                .iter()
                .any(|part| component.ends_with(part));
            let top_value = model
                .quantile(0.99)
                .max(values.iter().copied().fold(0.0, f64::max));
            let (scale, unit) = if per_byte {
                (1e9, "ns per byte")
            } else if top_value < 1.0 {
                (1e3, "milliseconds")
            } else {
                (1.0, "seconds")
            };
            let scaled: Vec<f64> = values.iter().map(|v| v * scale).collect();
            let (lo, hi) = range(
                scaled
                    .iter()
                    .copied()
                    .chain([model.quantile(0.005) * scale, model.quantile(0.995) * scale]),
            );
            let bins = 30usize;
            let width = (hi - lo) / bins as f64;
            let mut counts = vec![0usize; bins];
            for v in &scaled {
                let b = (((v - lo) / width).max(0.0) as usize).min(bins - 1);
                counts[b] += 1;
            }
            // Shares per bin, and the model's probability of each bin-wide interval.
            let share: Vec<f64> = counts
                .iter()
                .map(|c| *c as f64 / scaled.len().max(1) as f64)
                .collect();
            let model_share = |x: f64| {
                model.cdf((x + width / 2.0) / scale) - model.cdf((x - width / 2.0) / scale)
            };
            let curve: Vec<(f64, f64)> = (0..=200)
                .map(|i| lo + (hi - lo) * i as f64 / 200.0)
                .map(|x| (x, model_share(x)))
                .collect();
            let top = share
                .iter()
                .copied()
                .chain(curve.iter().map(|c| c.1))
                .filter(|v| v.is_finite())
                .fold(0.0, f64::max)
                .max(1e-12);
            let mut chart = ChartBuilder::on(cell)
                .caption(
                    format!("{component} ({}, n = {})", model.family(), values.len()),
                    (FONT, 15),
                )
                .margin(10)
                .x_label_area_size(35)
                .y_label_area_size(50)
                .build_cartesian_2d(lo..hi, 0.0..top * 1.1)
                .map_err(err)?;
            chart
                .configure_mesh()
                .x_desc(unit)
                .y_desc("share per bin")
                .x_labels(5)
                .x_label_formatter(&|v| pretty(*v))
                .y_label_formatter(&|v| pretty(*v))
                .label_style((FONT, 11))
                .draw()
                .map_err(err)?;
            chart
                .draw_series(share.iter().enumerate().map(|(b, d)| {
                    let x0 = lo + b as f64 * width;
                    Rectangle::new([(x0, 0.0), (x0 + width, *d)], color(5).mix(0.5).filled())
                }))
                .map_err(err)?;
            chart
                .draw_series(LineSeries::new(curve, BLACK.stroke_width(2)))
                .map_err(err)?;
        }
        Ok(())
    }
}

/// Predicted against measured values, with the relative error, per run.
pub(crate) struct ValidationBars {
    /// (run label, metric, measured, predicted, relative error, prediction interval).
    pub(crate) rows: Vec<ValidationBar>,
}

/// One bar pair of [`ValidationBars`]: (run label, metric, measured, predicted, relative
/// error, the prediction interval (low, high) where there is one).
pub(crate) type ValidationBar = (String, Metric, f64, f64, f64, Option<(f64, f64)>);

impl Figure for ValidationBars {
    fn size(&self) -> (u32, u32) {
        (1200, 520)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let metrics = [
            Metric::WarmMakespanS,
            Metric::P50LatencyS,
            Metric::P95LatencyS,
        ];
        let panels = root.split_evenly((1, metrics.len()));
        for (panel, metric) in panels.iter().zip(metrics) {
            let rows: Vec<&ValidationBar> = self.rows.iter().filter(|r| r.1 == metric).collect();
            let labels: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
            let top = rows
                .iter()
                .flat_map(|r| [r.2, r.3, r.5.map_or(0.0, |i| i.1)])
                .fold(0.0, f64::max)
                .max(1e-9);
            let mut chart = ChartBuilder::on(panel)
                .caption(format!("{metric}: measured vs predicted"), (FONT, 15))
                .margin(10)
                .x_label_area_size(55)
                .y_label_area_size(60)
                .build_cartesian_2d(slots(labels.len()).into_segmented(), 0.0..top * 1.25)
                .map_err(err)?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .y_desc("seconds")
                .y_label_formatter(&|v| pretty(*v))
                .x_label_formatter(&|v| segment_label(&labels, v))
                .label_style((FONT, 11))
                .draw()
                .map_err(err)?;
            // Measured fills the left half of each run's slot, predicted the right half.
            for (k, name) in ["measured", "predicted"].into_iter().enumerate() {
                let shade = color(2 * k + 1).mix(if k == 0 { 0.9 } else { 0.6 });
                chart
                    .draw_series(rows.iter().enumerate().map(|(i, r)| {
                        let (from, to, v) = if k == 0 {
                            (
                                SegmentValue::Exact(slot(i, labels.len())),
                                SegmentValue::CenterOf(slot(i, labels.len())),
                                r.2,
                            )
                        } else {
                            (
                                SegmentValue::CenterOf(slot(i, labels.len())),
                                SegmentValue::Exact(slot(i, labels.len()) + 1),
                                r.3,
                            )
                        };
                        Rectangle::new([(from, 0.0), (to, v)], shade.filled())
                    }))
                    .map_err(err)?
                    .label(name)
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 6), (x + 14, y + 6)], shade.filled())
                    });
            }
            // The prediction interval as a whisker over the predicted bar.
            let whiskers = rows.iter().enumerate().filter_map(|(i, r)| {
                let (low, high) = r.5?;
                let x = SegmentValue::CenterOf(slot(i, labels.len()));
                Some(PathElement::new(
                    vec![(x.clone(), low), (x, high)],
                    BLACK.stroke_width(2),
                ))
            });
            chart
                .draw_series(whiskers)
                .map_err(err)?
                .label("prediction interval")
                .legend(|(x, y)| PathElement::new(vec![(x + 7, y - 6), (x + 7, y + 6)], BLACK));
            chart
                .draw_series(rows.iter().enumerate().map(|(i, r)| {
                    Text::new(
                        format!("{:+.1} %", 100.0 * r.4),
                        (
                            SegmentValue::CenterOf(slot(i, labels.len())),
                            r.2.max(r.3).max(r.5.map_or(0.0, |i| i.1)) * 1.08,
                        ),
                        (FONT, 13).into_font(),
                    )
                }))
                .map_err(err)?;
            legend(&mut chart, SeriesLabelPosition::UpperRight, 12)?;
        }
        Ok(())
    }
}

/// Warm makespan against a swept parameter, with its band (the prediction interval, or the
/// 95 % confidence interval of the mean), per platform.
pub(crate) struct SweepLines {
    /// The swept parameter.
    pub(crate) parameter: String,
    /// What the band is.
    pub(crate) band: String,
    /// Per platform: (value, median, CI low, CI high).
    pub(crate) series: Vec<crate::inputs::SweepSeries>,
}

impl Figure for SweepLines {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let (x0, x1) = range(self.series.iter().flat_map(|s| s.1.iter().map(|p| p.0)));
        let (_, y1) = range(
            self.series
                .iter()
                .flat_map(|s| s.1.iter().flat_map(|p| [p.1, p.3])),
        );
        let log_x = x0 > 0.0 && x1 / x0 >= 16.0;
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!(
                    "Warm makespan against {} (median, {} band)",
                    self.parameter, self.band
                ),
                (FONT, 20),
            )
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(75)
            .build_cartesian_2d(
                (x0..x1)
                    .log_scale()
                    .base(if log_x { 2.0 } else { 10.0 })
                    .zero_point(0.0),
                0.0..y1 * 1.1,
            )
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(self.parameter.as_str())
            .y_desc("warm makespan [s]")
            .x_label_formatter(&|v| pretty(*v))
            .y_label_formatter(&|v| pretty(*v))
            .label_style((FONT, 13))
            .draw()
            .map_err(err)?;
        for (i, (platform, points)) in self.series.iter().enumerate() {
            let band: Vec<(f64, f64)> = points
                .iter()
                .map(|p| (p.0, p.3))
                .chain(points.iter().rev().map(|p| (p.0, p.2)))
                .collect();
            chart
                .draw_series(std::iter::once(Polygon::new(band, color(i).mix(0.2))))
                .map_err(err)?;
            chart
                .draw_series(LineSeries::new(
                    points.iter().map(|p| (p.0, p.1)),
                    color(i).stroke_width(2),
                ))
                .map_err(err)?
                .label(platform.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color(i).stroke_width(2))
                });
            // Different markers per series so lines stay apart in greyscale.
            if i % 2 == 0 {
                chart
                    .draw_series(
                        points
                            .iter()
                            .map(|p| Circle::new((p.0, p.1), 4, color(i).filled())),
                    )
                    .map_err(err)?;
            } else {
                chart
                    .draw_series(
                        points
                            .iter()
                            .map(|p| TriangleMarker::new((p.0, p.1), 6, color(i).filled())),
                    )
                    .map_err(err)?;
            }
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight, 13)?;
        Ok(())
    }
}

/// One repetition on a load curve: (Jobs in flight, Job throughput [1/s], p50 Job latency [s]).
pub(crate) type LoadPoint = (f64, f64, f64);

/// Job throughput and latency against the Jobs in flight, one line per platform: how a shared
/// control plane saturates (one point per measured repetition, the line through the medians).
pub(crate) struct LoadCurve {
    /// Per platform: (Jobs in flight, Job throughput [1/s], p50 Job latency [s]) of each
    /// repetition.
    pub(crate) series: Vec<(String, Vec<LoadPoint>)>,
}

impl Figure for LoadCurve {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let panels = root.split_evenly((1, 2));
        let (x0, x1) = range(self.series.iter().flat_map(|s| s.1.iter().map(|p| p.0)));
        for (panel, (title, y_desc, pick)) in panels.iter().zip([
            ("Job throughput against load", "Jobs per second", 1usize),
            ("Job latency (p50) against load", "seconds", 2),
        ]) {
            let value = |p: &(f64, f64, f64)| if pick == 1 { p.1 } else { p.2 };
            let (_, y1) = range(self.series.iter().flat_map(|s| s.1.iter().map(value)));
            let mut chart = ChartBuilder::on(panel)
                .caption(title, (FONT, 18))
                .margin(12)
                .x_label_area_size(45)
                .y_label_area_size(65)
                .build_cartesian_2d(
                    (x0.max(1.0)..x1.max(2.0)).log_scale().base(2.0),
                    0.0..y1 * 1.15,
                )
                .map_err(err)?;
            chart
                .configure_mesh()
                .x_desc("Jobs in flight (partitions x window, log scale)")
                .y_desc(y_desc)
                .x_label_formatter(&|v| pretty(*v))
                .y_label_formatter(&|v| pretty(*v))
                .label_style((FONT, 12))
                .draw()
                .map_err(err)?;
            for (i, (platform, points)) in self.series.iter().enumerate() {
                let mut loads: Vec<f64> = points.iter().map(|p| p.0).collect();
                loads.sort_by(f64::total_cmp);
                loads.dedup();
                let medians: Vec<(f64, f64)> = loads
                    .iter()
                    .map(|l| {
                        let mut v: Vec<f64> =
                            points.iter().filter(|p| p.0 == *l).map(value).collect();
                        v.sort_by(f64::total_cmp);
                        (
                            *l,
                            faastwin_models::quantile::sorted(&v, 0.5).unwrap_or(f64::NAN),
                        )
                    })
                    .collect();
                chart
                    .draw_series(LineSeries::new(medians, color(i).stroke_width(2)))
                    .map_err(err)?
                    .label(platform.clone())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], color(i).stroke_width(2))
                    });
                chart
                    .draw_series(
                        points
                            .iter()
                            .map(|p| Circle::new((p.0, value(p)), 4, color(i).filled())),
                    )
                    .map_err(err)?;
            }
            legend(
                &mut chart,
                if pick == 1 {
                    SeriesLabelPosition::LowerRight
                } else {
                    SeriesLabelPosition::UpperLeft
                },
                12,
            )?;
        }
        Ok(())
    }
}

/// A plan's candidates: node-hours against the predicted time at the deadline's probability,
/// every candidate faint, each platform's frontier as a line, the deadline as a vertical line
/// and the choice ringed.
pub(crate) struct PlanFrontier<'a>(pub(crate) &'a faastwin_sim::plan::Plan);

impl Figure for PlanFrontier<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let plan = self.0;
        let minutes = |s: f64| s / 60.0;
        let (x0, x1) = range(
            plan.candidates
                .iter()
                .map(|c| minutes(c.time_s))
                .chain([minutes(plan.deadline_s)]),
        );
        let (y0, y1) = range(plan.candidates.iter().map(|c| c.node_hours));
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!(
                    "Cost against time at probability {} (deadline {} min)",
                    plan.probability,
                    pretty(minutes(plan.deadline_s))
                ),
                (FONT, 20),
            )
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(75)
            .build_cartesian_2d(
                (x0 * 0.9..x1 * 1.1)
                    .log_scale()
                    .with_key_points(log_ticks(x0 * 0.9, x1 * 1.1)),
                (y0 * 0.9..y1 * 1.1)
                    .log_scale()
                    .with_key_points(log_ticks(y0 * 0.9, y1 * 1.1)),
            )
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(format!(
                "time from booking to the last completion, {:.0}th percentile [min] (log scale)",
                100.0 * plan.probability
            ))
            .y_desc("node-hours (log scale)")
            .x_label_formatter(&|v| pretty(*v))
            .y_label_formatter(&|v| pretty(*v))
            .label_style((FONT, 13))
            .draw()
            .map_err(err)?;
        let deadline = minutes(plan.deadline_s);
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(deadline, y0 * 0.9), (deadline, y1 * 1.1)],
                BLACK.stroke_width(1),
            )))
            .map_err(err)?
            .label("deadline")
            .legend(|(x, y)| PathElement::new(vec![(x, y - 6), (x, y + 6)], BLACK));
        let frontier = plan.frontier();
        let mut platforms: Vec<&str> = plan
            .candidates
            .iter()
            .map(|c| c.platform.as_str())
            .collect();
        platforms.dedup();
        for (i, platform) in platforms.iter().enumerate() {
            let point = |c: &faastwin_sim::plan::Candidate| (minutes(c.time_s), c.node_hours);
            let all = plan.candidates.iter().filter(|c| c.platform == *platform);
            chart
                .draw_series(all.map(|c| Circle::new(point(c), 3, color(i).mix(0.3).filled())))
                .map_err(err)?;
            let line: Vec<(f64, f64)> = frontier
                .iter()
                .map(|&k| &plan.candidates[k])
                .filter(|c| c.platform == *platform)
                .map(point)
                .collect();
            chart
                .draw_series(LineSeries::new(line.clone(), color(i).stroke_width(2)))
                .map_err(err)?
                .label(format!("{platform} (frontier)"))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color(i).stroke_width(2))
                });
            chart
                .draw_series(line.iter().map(|p| Circle::new(*p, 4, color(i).filled())))
                .map_err(err)?;
        }
        if let Some(c) = plan.choice.map(|i| &plan.candidates[i]) {
            chart
                .draw_series(std::iter::once(Circle::new(
                    (minutes(c.time_s), c.node_hours),
                    9,
                    BLACK.stroke_width(2),
                )))
                .map_err(err)?
                .label(format!(
                    "choice: {}, {} node(s), {} partitions",
                    c.platform, c.nodes, c.partitions
                ))
                .legend(|(x, y)| Circle::new((x + 10, y), 6, BLACK.stroke_width(2)));
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight, 13)?;
        Ok(())
    }
}
