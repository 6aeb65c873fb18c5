//! ReportAgent's charts: self-contained SVG rendered with the `svg` crate, no fonts (a generic
//! family), no scripts, no links.
//!
//! Every text built from user data (field names, strings) goes into text nodes, which the
//! crate escapes (`&`, `<`, `>`): a string item never becomes markup or script. Attributes
//! hold only numbers and Rift's own words, since the crate does not escape quotes in them.
//! Each bar carries its count in `data-count`, so a page (and the dashboard test) can check a
//! chart against the data.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use svg::{
    Document,
    node::element::{Group, Rectangle, Text, Title},
};

use super::profile::{Histogram, Profile, ValueProfile};

/// What a chart shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChartKind {
    /// The numbers' histogram.
    Histogram,
    /// The most frequent strings.
    TopStrings,
    /// Values by JSON type.
    TypeMix,
}

impl ChartKind {
    /// The name the SVG's `data-kind` and the JSON carry.
    pub fn as_str(self) -> &'static str {
        match self {
            ChartKind::Histogram => "histogram",
            ChartKind::TopStrings => "top_strings",
            ChartKind::TypeMix => "type_mix",
        }
    }
}

/// One chart of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Chart {
    /// What it shows.
    pub kind: ChartKind,
    /// The record field it is about; empty for the items themselves.
    pub field: String,
    /// A caption, for a person.
    pub title: String,
    /// The SVG document.
    pub svg: String,
}

const WIDTH: f64 = 480.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 28.0;
const PLOT_HEIGHT: f64 = 160.0;
const BOTTOM: f64 = 28.0;
const ROW: f64 = 22.0;
/// Characters of a bar's label shown before it is cut with `…`.
const LABEL_CHARS: usize = 24;
const BAR_COLOUR: &str = "#4e79a7";

/// The charts of `profile`: the items' type mix, histogram and top strings, then each
/// record field's histogram and top strings.
pub fn of(profile: &Profile) -> Vec<Chart> {
    let mut charts = vec![type_mix("", "Items by type", &profile.values)];
    charts.extend(value_charts("", "items", &profile.values));
    if let Some(records) = &profile.records {
        for field in &records.fields {
            charts.extend(value_charts(
                &field.name,
                &format!("field {}", field.name),
                &field.values,
            ));
        }
    }
    charts
}

fn value_charts(field: &str, what: &str, values: &ValueProfile) -> Vec<Chart> {
    let mut charts = Vec::new();
    if let Some(numbers) = &values.numbers {
        let title = format!(
            "Numbers of {what}{}",
            if numbers.exact { "" } else { " (estimated)" }
        );
        charts.push(Chart {
            kind: ChartKind::Histogram,
            field: field.to_owned(),
            svg: histogram(&title, &numbers.histogram),
            title,
        });
    }
    if let Some(strings) = &values.strings {
        let title = format!("Most frequent strings of {what}");
        let bars: Vec<(String, u64)> = strings
            .top
            .iter()
            .map(|top| (top.value.clone(), top.count))
            .collect();
        charts.push(Chart {
            kind: ChartKind::TopStrings,
            field: field.to_owned(),
            svg: bars_chart(ChartKind::TopStrings, &title, &bars),
            title,
        });
    }
    charts
}

fn type_mix(field: &str, title: &str, values: &ValueProfile) -> Chart {
    let types = &values.types;
    let bars: Vec<(String, u64)> = [
        ("strings", types.strings),
        ("numbers", types.numbers),
        ("booleans", types.booleans),
        ("nulls", types.nulls),
        ("lists", types.lists),
        ("objects", types.objects),
    ]
    .into_iter()
    .map(|(name, count)| (name.to_owned(), count))
    .collect();
    Chart {
        kind: ChartKind::TypeMix,
        field: field.to_owned(),
        title: title.to_owned(),
        svg: bars_chart(ChartKind::TypeMix, title, &bars),
    }
}

fn document(kind: ChartKind, title: &str, height: f64) -> Document {
    Document::new()
        .set("xmlns", "http://www.w3.org/2000/svg")
        .set("viewBox", (0.0, 0.0, WIDTH, height))
        .set("width", WIDTH)
        .set("height", height)
        .set("class", "rift-chart")
        .set("data-kind", kind.as_str())
        .set("font-family", "sans-serif")
        .set("font-size", 11)
        .add(Title::new(title))
        .add(
            Text::new(title)
                .set("x", LEFT)
                .set("y", 16)
                .set("font-size", 13)
                .set("font-weight", "bold"),
        )
}

/// One bar per bin, heights proportional to the counts; the range below, the top count left.
fn histogram(title: &str, histogram: &Histogram) -> String {
    let height = TOP + PLOT_HEIGHT + BOTTOM;
    let plot_width = WIDTH - LEFT - RIGHT;
    let bins = histogram.counts.len().max(1);
    let bar_width = plot_width / bins as f64;
    let highest = histogram.counts.iter().copied().max().unwrap_or(0).max(1);
    let mut bars = Group::new().set("class", "bars");
    for (bin, &count) in histogram.counts.iter().enumerate() {
        let bar_height = PLOT_HEIGHT * count as f64 / highest as f64;
        let from = histogram.start + histogram.width * bin as f64;
        bars = bars.add(
            Rectangle::new()
                .set("class", "bar")
                .set("data-count", count)
                .set("x", LEFT + bar_width * bin as f64 + 1.0)
                .set("y", TOP + PLOT_HEIGHT - bar_height)
                .set("width", (bar_width - 2.0).max(1.0))
                .set("height", bar_height)
                .set("fill", BAR_COLOUR)
                .add(Title::new(format!(
                    "{} to {}: {count}",
                    number(from),
                    number(from + histogram.width)
                ))),
        );
    }
    let end = histogram.start + histogram.width * histogram.counts.len() as f64;
    document(ChartKind::Histogram, title, height)
        .add(bars)
        .add(label(LEFT, height - 8.0, "start", &number(histogram.start)))
        .add(label(WIDTH - RIGHT, height - 8.0, "end", &number(end)))
        .add(label(LEFT - 4.0, TOP + 10.0, "end", &highest.to_string()))
        .add(label(LEFT - 4.0, TOP + PLOT_HEIGHT, "end", "0"))
        .to_string()
}

/// Horizontal bars, one row per label, widths proportional to the counts.
fn bars_chart(kind: ChartKind, title: &str, bars: &[(String, u64)]) -> String {
    let height = TOP + ROW * bars.len().max(1) as f64 + 8.0;
    let label_width = 150.0;
    let plot_width = WIDTH - label_width - RIGHT - 40.0;
    let highest = bars
        .iter()
        .map(|(_, count)| *count)
        .max()
        .unwrap_or(0)
        .max(1);
    let mut group = Group::new().set("class", "bars");
    for (row, (name, count)) in bars.iter().enumerate() {
        let y = TOP + ROW * row as f64;
        let width = plot_width * *count as f64 / highest as f64;
        group = group
            .add(label(label_width - 6.0, y + 14.0, "end", &shortened(name)))
            .add(
                Rectangle::new()
                    .set("class", "bar")
                    .set("data-count", *count)
                    .set("x", label_width)
                    .set("y", y + 3.0)
                    .set("width", width)
                    .set("height", ROW - 6.0)
                    .set("fill", BAR_COLOUR)
                    .add(Title::new(format!("{name}: {count}"))),
            )
            .add(label(
                label_width + width + 4.0,
                y + 14.0,
                "start",
                &count.to_string(),
            ));
    }
    document(kind, title, height).add(group).to_string()
}

fn label(x: f64, y: f64, anchor: &str, text: &str) -> Text {
    Text::new(text)
        .set("x", x)
        .set("y", y)
        .set("text-anchor", anchor)
}

/// At most [`LABEL_CHARS`] characters, `…` when cut.
fn shortened(text: &str) -> String {
    if text.chars().count() <= LABEL_CHARS {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(LABEL_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// A number for a label: integers as such, others to four significant digits.
fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        let digits = (4 - x.abs().log10().ceil() as i32).clamp(0, 10) as usize;
        format!("{x:.digits$}")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn profile(value: Value) -> Profile {
        match value {
            Value::Array(items) => Profile::of(&items),
            _ => Profile::of(&[]),
        }
    }

    fn bar_counts(svg: &str) -> Vec<u64> {
        svg.split("data-count=\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next()?.parse().ok())
            .collect()
    }

    #[test]
    fn a_histogram_has_a_bar_per_bin_with_its_count() {
        let charts = of(&profile(json!([1, 2, 3, 4, 10])));
        let kinds: Vec<ChartKind> = charts.iter().map(|chart| chart.kind).collect();
        assert_eq!(kinds, [ChartKind::TypeMix, ChartKind::Histogram]);
        let histogram = &charts[1].svg;
        assert!(histogram.starts_with("<svg"), "{histogram}");
        assert!(histogram.contains("data-kind=\"histogram\""));
        assert_eq!(bar_counts(histogram), [3, 1, 0, 1]);
        assert_eq!(bar_counts(&charts[0].svg), [0, 5, 0, 0, 0, 0]);
    }

    #[test]
    fn user_strings_never_become_markup() {
        let hostile = "<script>alert(1)</script>\" onload=\"x";
        let charts = of(&profile(json!([hostile, hostile, {"<b>": "</svg>"}])));
        for chart in &charts {
            // Text cannot hold `<` (escaped), so every `<` opens one of the chart's own tags.
            let tags: Vec<&str> = chart
                .svg
                .split('<')
                .skip(1)
                .filter_map(|tag| tag.split('>').next())
                .collect();
            for tag in &tags {
                let name = tag.trim_start_matches('/').split([' ', '/']).next();
                assert!(
                    matches!(name, Some("svg" | "title" | "text" | "g" | "rect")),
                    "{tag} in {}",
                    chart.svg
                );
                assert!(!tag.contains("onload"), "{tag}");
            }
        }
        let top = charts
            .iter()
            .find(|chart| chart.kind == ChartKind::TopStrings && chart.field.is_empty())
            .expect("top strings of the items");
        assert!(top.svg.contains("&lt;script&gt;"), "{}", top.svg);
        assert_eq!(bar_counts(&top.svg), [2]);
        // The field's own charts are there, its name escaped in their titles.
        let field = charts
            .iter()
            .find(|chart| chart.field == "<b>")
            .expect("the field's chart");
        assert!(field.svg.contains("field &lt;b&gt;"), "{}", field.svg);
    }

    #[test]
    fn labels_are_short_and_numbers_readable() {
        assert_eq!(shortened("short"), "short");
        assert_eq!(shortened(&"x".repeat(40)).chars().count(), LABEL_CHARS);
        assert_eq!(number(3.0), "3");
        assert_eq!(number(2.25), "2.250");
        assert_eq!(number(1234.5678), "1235");
    }
}
