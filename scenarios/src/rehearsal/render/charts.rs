//! The report's charts, drawn by plotters as inline SVG: licensed users per product family
//! over virtual time (the line that must never dip), seats bought versus retired, and a
//! per-customer timeline.

use chrono::{DateTime, Utc};
use plotters::prelude::*;

use crate::rehearsal::Rehearsal;

fn days(r: &Rehearsal, t: DateTime<Utc>) -> f64 {
    (t - r.start).num_seconds() as f64 / 86_400.0
}

const PALETTE: [RGBColor; 6] = [
    RGBColor(0x1f, 0x6f, 0xb4),
    RGBColor(0xd9, 0x5f, 0x02),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
];

pub type ChartResult = Result<(), Box<dyn std::error::Error>>;

/// Licensed users per family over virtual time, as steps.
pub fn licensed_chart(r: &Rehearsal, svg: &mut String) -> ChartResult {
    let root = SVGBackend::with_string(svg, (900, 360)).into_drawing_area();
    root.fill(&WHITE)?;
    let families: Vec<String> = {
        let mut f: Vec<String> = r.series.iter().flat_map(|p| p.licensed.keys().cloned()).collect();
        f.sort();
        f.dedup();
        f
    };
    let max_x = days(r, r.end).max(1.0);
    let max_y = r.series.iter().flat_map(|p| p.licensed.values()).copied().max().unwrap_or(1).max(1) as f64 * 1.1;
    let mut chart = ChartBuilder::on(&root)
        .caption("Licensed users per product family (must never dip)", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..max_x, 0f64..max_y)?;
    chart.configure_mesh().x_desc("days of virtual time from the start").y_desc("users").draw()?;
    for (i, family) in families.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let mut points: Vec<(f64, f64)> = Vec::new();
        let mut last = 0.0;
        for p in &r.series {
            let x = days(r, p.at).max(0.0);
            let y = p.licensed.get(family).copied().unwrap_or(0) as f64;
            points.push((x, last));
            points.push((x, y));
            last = y;
        }
        points.push((max_x, last));
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(family.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
    }
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    root.present()?;
    Ok(())
}

/// Seats bought versus seats retired, per product.
pub fn seats_chart(r: &Rehearsal, svg: &mut String) -> ChartResult {
    let rows = &r.seats;
    let height = 80 + 26 * rows.len().max(1) as u32;
    let root = SVGBackend::with_string(svg, (900, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let max = rows.iter().map(|s| s.bought.max(s.retired)).max().unwrap_or(1).max(1) as f64 * 1.15;
    let n = rows.len().max(1) as f64;
    let (label_area, chart_area) = root.split_horizontally(330);
    let mut chart = ChartBuilder::on(&chart_area)
        .caption("Seats bought (blue) and retired (orange)", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(30)
        .build_cartesian_2d(0f64..max, 0f64..n)?;
    chart.configure_mesh().disable_y_mesh().disable_y_axis().x_desc("seats").draw()?;
    let blue = PALETTE[0];
    let orange = PALETTE[1];
    chart.draw_series(rows.iter().enumerate().map(|(i, s)| {
        let y = n - i as f64 - 1.0;
        Rectangle::new([(0.0, y + 0.52), (s.bought as f64, y + 0.9)], blue.filled())
    }))?;
    chart.draw_series(rows.iter().enumerate().map(|(i, s)| {
        let y = n - i as f64 - 1.0;
        Rectangle::new([(0.0, y + 0.1), (s.retired as f64, y + 0.48)], orange.filled())
    }))?;
    let top = 12 + 26;
    let usable = f64::from(height - top - 12 - 30);
    for (i, s) in rows.iter().enumerate() {
        let y = top as f64 + usable * (i as f64 + 0.5) / n;
        label_area.draw(&Text::new(
            format!("{} ({} / {})", s.product, s.bought, s.retired),
            (8, y as i32 - 6),
            ("sans-serif", 12).into_font(),
        ))?;
    }
    root.present()?;
    Ok(())
}

/// One row per customer (earliest deadlines first): purchase, swaps, suspension,
/// de-provisioning, and the deadline.
pub fn timeline_chart(r: &Rehearsal, svg: &mut String) -> ChartResult {
    let rows: Vec<_> = r.timelines.iter().take(40).collect();
    let row_height = 22;
    let height = 90 + row_height * rows.len().max(1) as u32;
    let root = SVGBackend::with_string(svg, (900, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let max_x = days(r, r.end).max(1.0);
    let n = rows.len().max(1) as f64;
    // Names beside the rows, drawn by hand as in the seats chart: plotters' own y labels land
    // on "nice" numbers, not on one row each.
    let (label_area, chart_area) = root.split_horizontally(220);
    let top = 12 + 22;
    let usable = f64::from(height - top - 12 - 30);
    for (i, t) in rows.iter().enumerate() {
        let y = f64::from(top) + usable * (i as f64 + 0.5) / n;
        let mut name: String = t.name.chars().take(30).collect();
        if t.at_risk {
            name.push_str(" (at risk)");
        }
        label_area.draw(&Text::new(name, (8, y as i32 - 6), ("sans-serif", 12).into_font()))?;
    }
    let mut chart = ChartBuilder::on(&chart_area)
        .caption("bought ●  swapped ━  suspended ▲  de-provisioned ✕  deadline |", ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(10)
        .build_cartesian_2d(0f64..max_x, 0f64..n)?;
    chart.configure_mesh().disable_y_mesh().disable_y_axis().x_desc("days of virtual time from the start").draw()?;
    let y_of = |i: usize| n - i as f64 - 0.5;
    for (i, t) in rows.iter().enumerate() {
        let y = y_of(i);
        if let Some(d) = t.deadline {
            let color = if t.at_risk { RED } else { RGBColor(0x99, 0x99, 0x99) };
            let x = days(r, d);
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(x, y - 0.4), (x, y + 0.4)],
                color.stroke_width(2),
            )))?;
        }
        if let (Some(a), Some(b)) = (t.first_swap, t.last_swap) {
            let (xa, xb) = (days(r, a), days(r, b).max(days(r, a) + max_x / 400.0));
            chart.draw_series(std::iter::once(PathElement::new(vec![(xa, y), (xb, y)], PALETTE[2].stroke_width(4))))?;
        }
        if let Some(p) = t.purchased {
            chart.draw_series(std::iter::once(Circle::new((days(r, p), y), 4, PALETTE[0].filled())))?;
        }
        if let Some(s) = t.suspended {
            chart.draw_series(std::iter::once(TriangleMarker::new((days(r, s), y), 5, PALETTE[1].filled())))?;
        }
        if let Some(d) = t.deprovisioned {
            chart.draw_series(std::iter::once(Cross::new((days(r, d), y), 4, BLACK.stroke_width(2))))?;
        }
    }
    root.present()?;
    Ok(())
}

/// Draw one chart to SVG text; a chart that cannot be drawn says so in its place.
pub fn svg(draw: impl FnOnce(&mut String) -> ChartResult) -> Result<String, String> {
    let mut svg = String::new();
    match draw(&mut svg) {
        Ok(()) => Ok(svg),
        Err(e) => Err(format!("chart could not be drawn: {e}")),
    }
}
