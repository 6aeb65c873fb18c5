//! `rift report --html`: one self-contained HTML page of a report (tables and the inline SVG
//! charts Rift rendered), with no script, stylesheet, font or image fetched from anywhere.
//! Every text from the data is HTML-escaped.

use std::fmt::Write as _;

use crate::pb;

/// The page of `report`.
pub(super) fn report_page(report: &pb::ReportResponse) -> String {
    let mut page = String::new();
    let title = format!(
        "Rift report: task {} (analysis version {})",
        report.task_id, report.analysis_version
    );
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src \
         'unsafe-inline'\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape(&title),
        escape(&title)
    );
    let profile = report.profile.clone().unwrap_or_default();
    let _ = writeln!(page, "<p>{} items.</p>", profile.item_count);
    if let Some(values) = &profile.values {
        page.push_str("<h2>Items</h2>\n");
        values_tables(&mut page, values);
    }
    if let Some(records) = &profile.records {
        let _ = writeln!(
            page,
            "<h2>Records</h2>\n<p>{} of the items are records{}.</p>",
            records.count,
            if records.fields_truncated {
                "; more fields than are profiled"
            } else {
                ""
            }
        );
        page.push_str(
            "<table><tr><th>field</th><th>present</th><th>types</th><th>numbers</th>\
             <th>strings</th></tr>\n",
        );
        for field in &records.fields {
            let values = field.values.clone().unwrap_or_default();
            let _ = writeln!(
                page,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&field.name),
                field.present,
                escape(&type_mix(&values)),
                escape(
                    &values
                        .numbers
                        .as_ref()
                        .map(numbers_line)
                        .unwrap_or_default()
                ),
                escape(
                    &values
                        .strings
                        .as_ref()
                        .map(strings_line)
                        .unwrap_or_default()
                ),
            );
        }
        page.push_str("</table>\n");
    }
    page.push_str("<h2>Charts</h2>\n");
    for chart in &report.charts {
        // Rift's own SVG: its labels are escaped where it was rendered.
        let _ = writeln!(
            page,
            "<figure>{}<figcaption>{}</figcaption></figure>",
            chart.svg,
            escape(&chart.title)
        );
    }
    page.push_str("</body>\n</html>\n");
    page
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em;max-width:60em}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;\
text-align:left}figure{display:inline-block;margin:1em}";

fn values_tables(page: &mut String, values: &pb::ValueProfile) {
    let _ = writeln!(page, "<p>By type: {}.</p>", escape(&type_mix(values)));
    if let Some(booleans) = &values.booleans {
        let _ = writeln!(
            page,
            "<p>Booleans: {} true, {} false.</p>",
            booleans.true_count, booleans.false_count
        );
    }
    if let Some(n) = &values.numbers {
        let _ = writeln!(
            page,
            "<table><tr><th>count</th><th>mean</th><th>std</th><th>min</th><th>25%</th>\
             <th>50%</th><th>75%</th><th>max</th></tr>\n<tr><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr></table>{}",
            n.count,
            n.mean,
            n.std,
            n.min,
            n.q1,
            n.median,
            n.q3,
            n.max,
            if n.exact {
                ""
            } else {
                "<p>Quartiles estimated from a sample.</p>"
            }
        );
    }
    if let Some(s) = &values.strings {
        let _ = writeln!(
            page,
            "<p>Strings: {} ({}{} distinct), length {} to {} (mean {:.1}).</p>",
            s.count,
            if s.distinct_exact { "" } else { "at least " },
            s.distinct,
            s.min_length,
            s.max_length,
            s.mean_length
        );
        page.push_str("<table><tr><th>most frequent</th><th>count</th></tr>\n");
        for top in &s.top {
            let _ = writeln!(
                page,
                "<tr><td>{}</td><td>{}</td></tr>",
                escape(&top.value),
                top.count
            );
        }
        page.push_str("</table>\n");
    }
}

fn type_mix(values: &pb::ValueProfile) -> String {
    let types = values.types.unwrap_or_default();
    let parts: Vec<String> = [
        ("strings", types.strings),
        ("numbers", types.numbers),
        ("booleans", types.booleans),
        ("nulls", types.nulls),
        ("lists", types.lists),
        ("objects", types.objects),
    ]
    .into_iter()
    .filter(|(_, count)| *count > 0)
    .map(|(name, count)| format!("{count} {name}"))
    .collect();
    parts.join(", ")
}

fn numbers_line(n: &pb::NumberProfile) -> String {
    format!(
        "{} from {} to {}, mean {}, median {}",
        n.count, n.min, n.max, n.mean, n.median
    )
}

fn strings_line(s: &pb::StringProfile) -> String {
    let top = s
        .top
        .first()
        .map(|top| format!(", most frequent {:?} ×{}", top.value, top.count))
        .unwrap_or_default();
    format!("{} ({} distinct){top}", s.count, s.distinct)
}

/// Text safe in HTML content and attribute values.
pub(super) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_never_becomes_markup() {
        let report = pb::ReportResponse {
            task_id: "1".into(),
            analysis_version: 1,
            profile: Some(pb::Profile {
                item_count: 1,
                values: Some(pb::ValueProfile {
                    count: 1,
                    strings: Some(pb::StringProfile {
                        count: 1,
                        distinct: 1,
                        distinct_exact: true,
                        top: vec![pb::ValueCount {
                            value: "<script>alert(1)</script>".into(),
                            count: 1,
                            truncated: false,
                        }],
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                records: None,
            }),
            ..Default::default()
        };
        let page = report_page(&report);
        assert!(!page.contains("<script"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.starts_with("<!DOCTYPE html>"));
    }
}
