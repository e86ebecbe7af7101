//! The self-contained HTML report: tables, and per scenario two charts drawn with plotters as inline SVG
//! (latency percentiles per second; requests, errors and users per second).

use super::{ScenarioReport, SuiteReport, mib};
use crate::metrics::Point;
use plotters::prelude::*;
use std::fmt::Write as _;

const WIDTH: u32 = 960;
const HEIGHT: u32 = 300;
const P50: RGBColor = RGBColor(31, 119, 180);
const P95: RGBColor = RGBColor(255, 127, 14);
const P99: RGBColor = RGBColor(214, 39, 40);
const REQS: RGBColor = RGBColor(44, 160, 44);
const USERS: RGBColor = RGBColor(127, 127, 127);

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The whole report as one HTML document.
pub fn render(r: &SuiteReport) -> anyhow::Result<String> {
    let mut h = String::new();
    let verdict = |p: bool| if p { "<b class=pass>PASS</b>" } else { "<b class=fail>FAIL</b>" };
    let _ = write!(
        h,
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>pitchey-load report</title><style>\
         body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse;margin:.5em 0 1em}}\
         td,th{{border:1px solid #ccc;padding:.25em .6em;text-align:right}}td:first-child,th:first-child{{text-align:left}}\
         .pass{{color:#1a7f37}}.fail{{color:#cf222e}}section{{margin-top:2.5em}}code{{background:#f4f4f4}}\
         svg{{display:block;margin:.5em 0}}</style></head><body>\
         <h1>pitchey-load report {}</h1><p>Server <code>{}</code>, started {}, scale {}, pitchey-load {}.</p>",
        verdict(r.passed),
        esc(&r.host),
        esc(&r.started_at),
        r.scale,
        esc(&r.tool_version)
    );
    h.push_str(
        "<table><tr><th>scenario</th><th>requests</th><th>errors</th><th>error %</th><th>req/s</th><th>p50 ms</th>\
         <th>p95 ms</th><th>p99 ms</th><th>max ms</th><th>result</th></tr>",
    );
    for sc in &r.scenarios {
        let _ = write!(
            h,
            "<tr><td><a href=\"#{n}\">{n}</a></td><td>{}</td><td>{}</td><td>{:.2}</td><td>{:.1}</td><td>{:.1}</td>\
             <td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{}</td></tr>",
            sc.requests,
            sc.errors,
            sc.error_rate * 100.0,
            sc.throughput,
            sc.latency.p50,
            sc.latency.p95,
            sc.latency.p99,
            sc.latency.max,
            verdict(sc.passed),
            n = esc(&sc.name)
        );
    }
    h.push_str("</table>");
    for sc in &r.scenarios {
        scenario(&mut h, sc)?;
    }
    h.push_str("</body></html>\n");
    Ok(h)
}

fn scenario(h: &mut String, sc: &ScenarioReport) -> anyhow::Result<()> {
    let _ = write!(
        h,
        "<section id=\"{n}\"><h2>{n} {}</h2><p>{}<br>Shape: {}. Ran {:.1} s.</p><table><tr><th>threshold</th>\
         <th>limit</th><th>measured</th><th>result</th></tr>",
        if sc.passed { "<b class=pass>PASS</b>" } else { "<b class=fail>FAIL</b>" },
        esc(&sc.requests_description),
        esc(&sc.shape_description),
        sc.elapsed_secs,
        n = esc(&sc.name)
    );
    for c in &sc.thresholds {
        let (limit, actual) = match c.metric {
            crate::thresholds::Metric::ErrorRate => {
                (format!("{:.2} %", c.limit * 100.0), format!("{:.2} %", c.actual * 100.0))
            }
            _ => (format!("{:.0} ms", c.limit), format!("{:.1} ms", c.actual)),
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{limit}</td><td>{actual}</td><td>{}</td></tr>",
            c.metric,
            if c.passed { "<b class=pass>met</b>" } else { "<b class=fail>missed</b>" }
        );
    }
    h.push_str(
        "</table><table><tr><th>request</th><th>requests</th><th>errors</th><th>req/s</th><th>p50 ms</th><th>p95 ms</th>\
         <th>p99 ms</th><th>max ms</th><th>in percentiles</th></tr>",
    );
    for l in &sc.labels {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td>\
             <td>{}</td></tr>",
            esc(&l.label),
            l.requests,
            l.errors,
            l.throughput,
            l.latency.p50,
            l.latency.p95,
            l.latency.p99,
            l.latency.max,
            if l.primary { "yes" } else { "no" }
        );
    }
    h.push_str("</table>");
    let _ = write!(h, "<p>CPU time: {}</p>", esc(&sc.cpu_text()));
    if !sc.errors_by_kind.is_empty() {
        h.push_str("<table><tr><th>error</th><th>count</th><th>example</th></tr>");
        for e in &sc.errors_by_kind {
            let _ = write!(h, "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", esc(&e.kind), e.count, esc(&e.example));
        }
        h.push_str("</table>");
    }
    if !sc.slowest.is_empty() {
        h.push_str("<table><tr><th>slowest requests</th><th>ms</th><th>ok</th></tr>");
        for slow in &sc.slowest {
            let _ = write!(
                h,
                "<tr><td><code>{}</code></td><td>{:.1}</td><td>{}</td></tr>",
                esc(&slow.target),
                slow.ms,
                if slow.ok { "yes" } else { "no" }
            );
        }
        h.push_str("</table>");
    }
    if let Some(c) = &sc.connections {
        let _ = write!(
            h,
            "<table><tr><th>connections</th><th></th></tr><tr><td>requested / opened</td><td>{} / {}</td></tr>\
             <tr><td>open after the hold / answered</td><td>{} / {}</td></tr><tr><td>time to open</td><td>{:.1} s</td></tr>\
             <tr><td>steady p50 / p99 alone</td><td>{:.1} / {:.1} ms</td></tr>\
             <tr><td>steady p50 / p99 with the connections held</td><td>{:.1} / {:.1} ms</td></tr>\
             <tr><td>server RSS before / held / peak</td><td>{} / {} / {}</td></tr>\
             <tr><td>server anonymous RSS before / held</td><td>{} / {}</td></tr>\
             <tr><td>load tool RSS peak</td><td>{}</td></tr></table>",
            c.requested,
            c.opened,
            c.open_after_hold,
            c.answered_after_hold,
            c.open_secs,
            c.steady_baseline.p50,
            c.steady_baseline.p99,
            c.steady_held.p50,
            c.steady_held.p99,
            mib(c.server_rss_baseline_kib),
            mib(c.server_rss_held_kib),
            mib(c.server_rss_peak_kib),
            mib(c.server_anon_baseline_kib),
            mib(c.server_anon_held_kib),
            mib(c.client_rss_peak_kib)
        );
        for n in &c.notes {
            let _ = write!(h, "<p>Note: {}</p>", esc(n));
        }
    }
    h.push_str(&latency_chart(sc)?);
    h.push_str(&throughput_chart(sc)?);
    h.push_str("</section>");
    Ok(())
}

/// A chart line: legend name, colour, and the value it plots.
type Series = (&'static str, RGBColor, fn(&Point) -> f64);

/// p50, p95 and p99 of each second (seconds without a successful primary request are skipped).
fn latency_chart(sc: &ScenarioReport) -> anyhow::Result<String> {
    let points: Vec<&Point> = sc.timeline.iter().filter(|p| p.p99 > 0.0).collect();
    let x_max = sc.timeline.len().max(1) as f64;
    let y_max = points.iter().map(|p| p.p99).fold(1.0, f64::max) * 1.1;
    let series: [Series; 3] = [("p50", P50, |p| p.p50), ("p95", P95, |p| p.p95), ("p99", P99, |p| p.p99)];
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("{}: latency percentiles per second", sc.name), ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..x_max, 0f64..y_max)?;
        chart.configure_mesh().x_desc("seconds since the start").y_desc("latency (ms)").draw()?;
        for (name, color, value) in series {
            chart
                .draw_series(LineSeries::new(
                    points.iter().map(|p| (f64::from(p.second), value(p))),
                    color.stroke_width(2),
                ))?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
            // Dots too, so a run of one or two seconds still shows its values.
            chart
                .draw_series(points.iter().map(|p| Circle::new((f64::from(p.second), value(p)), 2, color.filled())))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
    }
    Ok(svg)
}

/// Requests and errors per second, and active users on the right-hand axis.
fn throughput_chart(sc: &ScenarioReport) -> anyhow::Result<String> {
    let t = &sc.timeline;
    let x_max = t.len().max(1) as f64;
    let y_max = t.iter().map(|p| p.requests as f64).fold(1.0, f64::max) * 1.1;
    let u_max = t.iter().map(|p| f64::from(p.users)).fold(1.0, f64::max) * 1.1;
    let xy = |f: fn(&Point) -> f64| t.iter().map(move |p| (f64::from(p.second), f(p)));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("{}: throughput", sc.name), ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(60)
            .right_y_label_area_size(50)
            .build_cartesian_2d(0f64..x_max, 0f64..y_max)?
            .set_secondary_coord(0f64..x_max, 0f64..u_max);
        chart.configure_mesh().x_desc("seconds since the start").y_desc("per second").draw()?;
        chart.configure_secondary_axes().y_desc("active users").draw()?;
        chart
            .draw_series(LineSeries::new(xy(|p| p.requests as f64), REQS.stroke_width(2)))?
            .label("requests/s")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], REQS.stroke_width(2)));
        chart
            .draw_series(LineSeries::new(xy(|p| p.errors as f64), P99.stroke_width(2)))?
            .label("errors/s")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], P99.stroke_width(2)));
        chart
            .draw_secondary_series(LineSeries::new(xy(|p| f64::from(p.users)), USERS.stroke_width(1)))?
            .label("active users (right axis)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], USERS.stroke_width(1)));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_svg_with_every_series() {
        let r = crate::report::tests::sample();
        let svg = latency_chart(&r.scenarios[0]).expect("chart");
        assert!(svg.starts_with("<svg"));
        for name in ["p50", "p95", "p99"] {
            assert!(svg.contains(name), "{name} in legend");
        }
        let svg = throughput_chart(&r.scenarios[0]).expect("chart");
        assert!(svg.contains("requests/s") && svg.contains("active users"));
    }

    #[test]
    fn an_empty_timeline_still_renders() {
        let mut r = crate::report::tests::sample();
        r.scenarios[0].timeline.clear();
        assert!(render(&r).is_ok_and(|h| h.contains("</html>")));
    }

    #[test]
    fn escapes() {
        assert_eq!(esc("<a href='x'>&\"</a>"), "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
    }
}
