//! The rehearsal report: one self-contained HTML file (inline CSS and SVG, no scripts, no
//! CDN) with charts drawn by plotters: licensed users per product family over virtual time
//! (the line that must never dip), seats bought versus retired, and a per-customer timeline;
//! then who is at risk, what customers must do, and every violation.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use plotters::prelude::*;

use crate::rehearse::Rehearsal;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

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

type ChartResult = Result<(), Box<dyn std::error::Error>>;

/// Licensed users per family over virtual time, as steps.
fn licensed_chart(r: &Rehearsal, svg: &mut String) -> ChartResult {
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
fn seats_chart(r: &Rehearsal, svg: &mut String) -> ChartResult {
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
fn timeline_chart(r: &Rehearsal, svg: &mut String) -> ChartResult {
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

fn chart(draw: impl FnOnce(&mut String) -> ChartResult) -> String {
    let mut svg = String::new();
    match draw(&mut svg) {
        Ok(()) => svg,
        Err(e) => format!("<p class=\"bad\">chart could not be drawn: {}</p>", esc(&e.to_string())),
    }
}

/// The whole report.
pub fn render(r: &Rehearsal) -> String {
    let mut h = String::new();
    let verdict = if r.passed() {
        "<span class=\"ok\">every invariant held</span>".to_string()
    } else {
        format!("<span class=\"bad\">{} unexpected violation(s)</span>", r.unexpected.len())
    };
    let _ = write!(
        h,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>skuswap rehearsal: {name}</title>
<style>
body{{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:960px;color:#222;line-height:1.4}}
h1{{font-size:1.6rem;margin-bottom:.2rem}} h2{{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}}
table{{border-collapse:collapse;width:100%;font-size:.9rem}} td,th{{border-bottom:1px solid #eee;padding:.25rem .5rem;text-align:left;vertical-align:top}}
th{{background:#f6f6f6}} .ok{{color:#1a7f37;font-weight:600}} .bad{{color:#b00020;font-weight:600}} .muted{{color:#666}}
.kpi td:first-child{{width:40%;color:#555}} svg{{max-width:100%;height:auto}}
</style></head><body>
<h1>Rehearsal: {name}</h1><p class="muted">{desc}</p><p>Verdict: {verdict}</p>
"#,
        name = esc(&r.scenario),
        desc = esc(&r.description),
    );
    let planned: usize = r.waves.iter().map(|w| w.plan.customers.iter().filter(|c| !c.steps.is_empty()).count()).sum();
    let steps = |kind: &str| {
        r.waves.iter().flat_map(|w| &w.plan.customers).flat_map(|c| &c.steps).filter(|s| s.kind() == kind).count()
    };
    let _ = write!(
        h,
        "<table class=\"kpi\">\
<tr><td>Seed</td><td>{seed} (same seed, same tenants, same report)</td></tr>\
<tr><td>Tenants</td><td>{c} customers, {u} users, {s} subscriptions</td></tr>\
<tr><td>Virtual time</td><td>{start} to {end}</td></tr>\
<tr><td>Migration</td><td>{planned} customers in {waves} wave(s): {buys} purchases, {swaps} user swaps, {susp} suspensions</td></tr>\
<tr><td>Against Partner Center</td><td>{req} requests: about {dur} at {rate} requests/minute</td></tr>\
<tr><td>At risk if started at {start}</td><td>{risk} customer(s)</td></tr>\
<tr><td>Customer actions</td><td>{actions}</td></tr>\
<tr><td>Violations</td><td>{unexp} unexpected, {exp} expected (customers at risk or out of reach)</td></tr></table>",
        seed = r.seed,
        c = r.customers,
        u = r.users,
        s = r.subscriptions,
        start = r.start.format("%Y-%m-%d %H:%M"),
        end = r.end.format("%Y-%m-%d"),
        waves = r.waves.len(),
        buys = steps("buy"),
        swaps = steps("swap"),
        susp = steps("suspend"),
        req = r.requests,
        dur = skuswap_migrator::plan::human_minutes(r.migration_minutes),
        rate = r.rate,
        risk = r.at_risk.len(),
        actions = r.actions.len(),
        unexp = r.unexpected.len(),
        exp = r.expected.len(),
    );
    h.push_str("<h2>Licensed users over time</h2>");
    h.push_str(&chart(|s| licensed_chart(r, s)));
    let _ = write!(
        h,
        "<p class=\"muted\">Users holding an effective license in each family, judged from the mock's audit log. \
A drop is a user left without a license: here {exp} expected (at risk, or customers out of the partner's reach, \
listed under Violations) and <span class=\"{class}\">{unexp} unexpected</span>.</p>",
        exp = r.expected.len(),
        unexp = r.unexpected.len(),
        class = if r.unexpected.is_empty() { "ok" } else { "bad" },
    );
    h.push_str("<h2>Seats bought and retired</h2>");
    h.push_str(&chart(|s| seats_chart(r, s)));
    h.push_str("<h2>Customer timelines</h2><p class=\"muted\">The 40 earliest deadlines; a red deadline marks a customer the plan flagged at risk.</p>");
    h.push_str(&chart(|s| timeline_chart(r, s)));
    if let Some(f) = &r.faults {
        let _ = write!(
            h,
            "<h2>Faults met</h2><p>Plan: {plan}. The client waited {waited} of virtual time (Retry-After and back-off); \
{throttled} call(s) were refused by rate limits; {replayed} order(s) were answered from the MS-RequestId window \
instead of bought again; {resumed} resumed run(s) of apply.</p><table><tr><th>Effect</th><th>Calls</th></tr>",
            plan = esc(&f.plan),
            waited = skuswap_migrator::plan::human_minutes(f.waited_minutes),
            throttled = f.throttled,
            replayed = f.replayed_orders,
            resumed = f.resumed_runs,
        );
        for (effect, n) in &f.injected {
            let _ = write!(h, "<tr><td>{}</td><td>{n}</td></tr>", esc(effect));
        }
        h.push_str("</table>");
    }
    if !r.double_purchases.is_empty() {
        h.push_str("<h2 class=\"bad\">Bought twice</h2><ul>");
        for d in &r.double_purchases {
            let _ = write!(h, "<li>{}</li>", esc(d));
        }
        h.push_str("</ul>");
    }
    h.push_str("<h2>At risk if the migration started at the beginning</h2>");
    if r.at_risk.is_empty() {
        h.push_str("<p class=\"ok\">Nobody: every customer is reached before their end date.</p>");
    } else {
        h.push_str("<ul>");
        for n in r.at_risk.iter().take(200) {
            let _ = write!(h, "<li>{}</li>", esc(n));
        }
        h.push_str("</ul>");
    }
    h.push_str("<h2>What customers must do</h2>");
    if r.actions.is_empty() {
        h.push_str("<p>Nothing.</p>");
    } else {
        h.push_str("<table><tr><th>Customer</th><th>Action</th></tr>");
        for (c, a) in r.actions.iter().take(500) {
            let _ = write!(h, "<tr><td>{}</td><td>{}</td></tr>", esc(c), esc(a));
        }
        if r.actions.len() > 500 {
            let _ = write!(h, "<tr><td colspan=2 class=\"muted\">and {} more</td></tr>", r.actions.len() - 500);
        }
        h.push_str("</table>");
    }
    h.push_str("<h2>Violations</h2>");
    if r.unexpected.is_empty() && r.expected.is_empty() {
        h.push_str("<p class=\"ok\">None: no user was ever without a license.</p>");
    }
    if !r.unexpected.is_empty() {
        h.push_str("<h3 class=\"bad\">Unexpected</h3><table><tr><th>When</th><th>What</th></tr>");
        for v in r.unexpected.iter().take(200) {
            let _ = write!(h, "<tr><td>{}</td><td>{}</td></tr>", v.at.format("%Y-%m-%d %H:%M"), esc(&v.message));
        }
        h.push_str("</table><pre>");
        for l in &r.log_excerpt {
            h.push_str(&esc(l));
            h.push('\n');
        }
        h.push_str("</pre>");
    }
    if !r.expected.is_empty() {
        h.push_str("<h3>Expected</h3><table><tr><th>When</th><th>What</th><th>Why</th></tr>");
        for e in r.expected.iter().take(100) {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                e.violation.at.format("%Y-%m-%d %H:%M"),
                esc(&e.violation.message),
                esc(&e.reason)
            );
        }
        h.push_str("</table>");
    }
    h.push_str("<p class=\"muted\">Generated by skuswap rehearse. Virtual time only: nothing here touched Partner Center.</p></body></html>\n");
    h
}
