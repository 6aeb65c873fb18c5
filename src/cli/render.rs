//! Responses and errors as the CLI prints them: short text for people, or one JSON object per
//! line for scripts.
//!
//! JSON uses the proto field names (`task_id`, `analysis_version`) with integers as numbers:
//! what a shell script with `jq` wants, and what proto3 JSON parsers also accept.

use std::io::{self, Write};

use prost_types::{Value, value::Kind};
use serde_json::{Map, Value as Json, json};
use tonic::Status;
use tonic_types::StatusExt;

use crate::{
    grpc::{code_name, json_from_proto},
    pb,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    Text,
    Json,
}

impl Format {
    pub(super) fn from_json_flag(json: bool) -> Self {
        if json { Self::Json } else { Self::Text }
    }
}

/// Rift (or the network on the way) refused a call.
#[derive(Debug, thiserror::Error)]
#[error("{}: {}", code_name(.0.code()), message(.0))]
pub struct CallError(pub Status);

/// The status message and, for failures raised on this side (connection refused, say), the
/// causes tonic keeps as the status's source.
fn message(status: &Status) -> String {
    let mut message = status.message().to_owned();
    let mut source = std::error::Error::source(status);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !message.contains(&cause_text) {
            message = format!("{message}: {cause_text}");
        }
        source = cause.source();
    }
    message
}

pub(super) fn analysis(
    out: &mut impl Write,
    format: Format,
    response: &pb::AnalyzeResponse,
) -> io::Result<()> {
    let stats = response.stats.clone().unwrap_or_default();
    let types = stats.types.unwrap_or_default();
    if format == Format::Json {
        return line(
            out,
            &json!({
                "task_id": response.task_id,
                "summary": response.summary,
                "version": response.version,
                "stats": stats_json(&stats),
            }),
        );
    }
    writeln!(
        out,
        "task {}: {} (analysis version {})",
        response.task_id, response.summary, response.version
    )?;
    let kinds: Vec<String> = [
        (types.strings, "string"),
        (types.numbers, "number"),
        (types.booleans, "boolean"),
        (types.nulls, "null"),
        (types.lists, "list"),
        (types.objects, "object"),
    ]
    .into_iter()
    .filter(|(count, _)| *count > 0)
    .map(|(count, kind)| format!("{count} {kind}{}", if count == 1 { "" } else { "s" }))
    .collect();
    if !kinds.is_empty() {
        writeln!(out, "  items: {}", kinds.join(", "))?;
    }
    if let Some(n) = &stats.numbers {
        writeln!(
            out,
            "  numbers: min {}, max {}, mean {}, sum {}",
            n.min, n.max, n.mean, n.sum
        )?;
    }
    if let Some(s) = &stats.strings {
        let top: Vec<String> = s
            .top
            .iter()
            .map(|t| format!("{} ×{}", t.value, t.count))
            .collect();
        writeln!(
            out,
            "  strings: {} distinct; most frequent: {}",
            s.distinct,
            top.join(", ")
        )?;
    }
    Ok(())
}

pub(super) fn narrative(
    out: &mut impl Write,
    format: Format,
    response: &pb::NarrateResponse,
) -> io::Result<()> {
    match format {
        Format::Json => line(
            out,
            &json!({
                "task_id": response.task_id,
                "narrative": response.narrative,
                "analysis_version": response.analysis_version,
            }),
        ),
        // The narrative alone, so `$(rift narrate 101)` is exactly the text.
        Format::Text => writeln!(out, "{}", response.narrative),
    }
}

pub(super) fn progress(
    out: &mut impl Write,
    format: Format,
    response: &pb::ProgressResponse,
) -> io::Result<()> {
    let status = response.status().as_str_name();
    if format == Format::Json {
        return line(
            out,
            &json!({
                "task_id": response.task_id,
                "status": status,
                "analysis_version": response.analysis_version,
                "narrative_analysis_version": response.narrative_analysis_version,
            }),
        );
    }
    let versions = match (
        response.analysis_version,
        response.narrative_analysis_version,
    ) {
        (0, _) => String::new(),
        (analysis, 0) => format!(" (analysis version {analysis}, no narrative yet)"),
        (analysis, narrative) => {
            format!(" (analysis version {analysis}, narrative built on version {narrative})")
        }
    };
    writeln!(out, "task {}: {status}{versions}", response.task_id)
}

pub(super) fn report(
    out: &mut impl Write,
    format: Format,
    response: &pb::ReportResponse,
    html: Option<&std::path::Path>,
) -> io::Result<()> {
    let profile = response.profile.clone().unwrap_or_default();
    let titles: Vec<&str> = response.charts.iter().map(|c| c.title.as_str()).collect();
    if format == Format::Json {
        return line(
            out,
            &json!({
                "task_id": response.task_id,
                "analysis_version": response.analysis_version,
                "item_count": profile.item_count,
                "fields": profile.records.as_ref().map(|r| r.fields.iter().map(|f| f.name.clone()).collect::<Vec<_>>()),
                "charts": titles,
                "html": html.map(|path| path.display().to_string()),
            }),
        );
    }
    writeln!(
        out,
        "task {}: report of analysis version {} ({} items, {} charts)",
        response.task_id,
        response.analysis_version,
        profile.item_count,
        response.charts.len()
    )?;
    if let Some(n) = profile.values.as_ref().and_then(|v| v.numbers.as_ref()) {
        writeln!(
            out,
            "  numbers: count {}, mean {}, std {}, min {}, 25% {}, 50% {}, 75% {}, max {}",
            n.count, n.mean, n.std, n.min, n.q1, n.median, n.q3, n.max
        )?;
    }
    if let Some(records) = &profile.records {
        let names: Vec<&str> = records.fields.iter().map(|f| f.name.as_str()).collect();
        writeln!(
            out,
            "  records: {}, fields {}",
            records.count,
            names.join(", ")
        )?;
    }
    if let Some(path) = html {
        writeln!(out, "  written to {}", path.display())?;
    }
    Ok(())
}

pub(super) fn task(
    out: &mut impl Write,
    format: Format,
    response: &pb::GetTaskResponse,
) -> io::Result<()> {
    let status = response.status().as_str_name();
    if format == Format::Json {
        return line(
            out,
            &json!({
                "task_id": response.task_id,
                "status": status,
                "analysis": response.analysis.as_ref().map(|analysis| json!({
                    "summary": analysis.summary,
                    "version": analysis.version,
                    "stats": analysis.stats.as_ref().map(stats_json),
                })),
                "narrative": response.narrative.as_ref().map(|narrative| json!({
                    "text": narrative.text,
                    "analysis_version": narrative.analysis_version,
                })),
                "report": response.report.as_ref().map(report_json),
                "last_notification_id": response.last_notification_id,
            }),
        );
    }
    writeln!(out, "task {}: {status}", response.task_id)?;
    match &response.analysis {
        Some(analysis) => writeln!(
            out,
            "  analysis (version {}): {}",
            analysis.version, analysis.summary
        )?,
        None => writeln!(out, "  no analysis")?,
    }
    match &response.narrative {
        Some(narrative) => writeln!(
            out,
            "  narrative (built on version {}): {}",
            narrative.analysis_version, narrative.text
        )?,
        None => writeln!(out, "  no narrative")?,
    }
    match &response.report {
        Some(report) => writeln!(
            out,
            "  report (built on version {}{})",
            report.analysis_version,
            if report.stale { ", stale" } else { "" }
        )?,
        None => writeln!(out, "  no report")?,
    }
    if !response.last_notification_id.is_empty() {
        writeln!(out, "  last notification {}", response.last_notification_id)?;
    }
    Ok(())
}

fn report_json(report: &pb::StoredReport) -> Json {
    json!({"analysis_version": report.analysis_version, "stale": report.stale})
}

/// Statistics as `--json` prints them: `numbers` and `strings` only when present.
fn stats_json(stats: &pb::AnalysisStats) -> Json {
    let types = stats.types.unwrap_or_default();
    let mut json = json!({
        "item_count": stats.item_count,
        "types": {
            "nulls": types.nulls,
            "booleans": types.booleans,
            "numbers": types.numbers,
            "strings": types.strings,
            "lists": types.lists,
            "objects": types.objects,
        },
    });
    if let Some(n) = &stats.numbers {
        json["numbers"] = json!({
            "count": n.count, "min": n.min, "max": n.max, "mean": n.mean, "sum": n.sum,
        });
    }
    if let Some(s) = &stats.strings {
        json["strings"] = json!({
            "count": s.count,
            "distinct": s.distinct,
            "top": s.top.iter().map(|t| json!({"value": t.value, "count": t.count})).collect::<Vec<_>>(),
        });
    }
    json
}

/// One page of `rift tasks`: a line per task (text) or one object per task (JSON), then,
/// when `show_token` and there is a next page, its token.
pub(super) fn tasks(
    out: &mut impl Write,
    format: Format,
    page: &pb::ListTasksResponse,
    show_token: bool,
) -> io::Result<()> {
    for task in &page.tasks {
        let status = task.status().as_str_name();
        match format {
            Format::Json => line(
                out,
                &json!({
                    "task_id": task.task_id,
                    "status": status,
                    "analysis_version": task.analysis_version,
                    "narrative_analysis_version": task.narrative_analysis_version,
                    "report": task.report.as_ref().map(report_json),
                    "last_notification_id": task.last_notification_id,
                }),
            )?,
            Format::Text => writeln!(
                out,
                "{}\t{status}\tanalysis v{}\t{}",
                task.task_id,
                task.analysis_version,
                match &task.report {
                    Some(report) if report.stale => "report stale",
                    Some(_) => "report",
                    None => "no report",
                }
            )?,
        }
    }
    if show_token && !page.next_page_token.is_empty() {
        match format {
            Format::Json => line(out, &json!({"next_page_token": page.next_page_token}))?,
            Format::Text => writeln!(out, "next page: --page-token {}", page.next_page_token)?,
        }
    }
    Ok(())
}

pub(super) fn deletion(
    out: &mut impl Write,
    format: Format,
    response: &pb::DeleteTaskResponse,
) -> io::Result<()> {
    match format {
        Format::Json => line(
            out,
            &json!({"task_id": response.task_id, "deleted": response.deleted}),
        ),
        Format::Text if response.deleted => writeln!(out, "task {}: deleted", response.task_id),
        Format::Text => writeln!(out, "task {}: nothing was stored", response.task_id),
    }
}

pub(super) fn health(
    out: &mut impl Write,
    format: Format,
    service: &str,
    status: &str,
) -> io::Result<()> {
    match format {
        Format::Json => line(out, &json!({"service": service, "status": status})),
        Format::Text => writeln!(out, "{status}"),
    }
}

pub(super) fn notification(
    out: &mut impl Write,
    format: Format,
    notification: &pb::Notification,
) -> io::Result<()> {
    let payload = notification
        .payload
        .clone()
        .and_then(|payload| {
            json_from_proto(
                Value {
                    kind: Some(Kind::StructValue(payload)),
                },
                &|| "payload".into(),
            )
            .ok()
        })
        .map(integral_numbers)
        .unwrap_or(Json::Object(Map::new()));
    let time = notification
        .time
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    match format {
        Format::Json => line(
            out,
            &json!({
                "id": notification.id,
                "task_id": notification.task_id,
                "agent": notification.agent,
                "action": notification.action,
                "payload": payload,
                "time": time,
            }),
        ),
        Format::Text => writeln!(
            out,
            "{time}  {}  task {}  {} {}  {payload}",
            notification.id, notification.task_id, notification.agent, notification.action
        ),
    }
}

/// A failure on stderr: code, message and decoded details, as text or as one JSON line.
pub(super) fn error(out: &mut impl Write, error: &anyhow::Error, json: bool) -> io::Result<()> {
    let Some(CallError(status)) = error.downcast_ref::<CallError>() else {
        return if json {
            line(
                out,
                &json!({ "error": { "message": format!("{error:#}") } }),
            )
        } else {
            writeln!(out, "rift: {error:#}")
        };
    };
    let details = status.get_error_details();
    if json {
        let mut object = Map::new();
        object.insert("code".into(), code_name(status.code()).into());
        object.insert("message".into(), message(status).into());
        if let Some(info) = details.error_info() {
            object.insert("reason".into(), info.reason.clone().into());
            object.insert("domain".into(), info.domain.clone().into());
            if !info.metadata.is_empty() {
                object.insert("metadata".into(), json!(info.metadata));
            }
        }
        if let Some(bad_request) = details.bad_request() {
            let violations: Vec<Json> = bad_request
                .field_violations
                .iter()
                .map(|v| json!({"field": v.field, "description": v.description}))
                .collect();
            object.insert("field_violations".into(), violations.into());
        }
        if let Some(delay) = details.retry_info().and_then(|r| r.retry_delay) {
            let millis = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
            object.insert("retry_after_ms".into(), millis.into());
        }
        return line(out, &json!({ "error": object }));
    }
    writeln!(
        out,
        "rift: {}: {}",
        code_name(status.code()),
        message(status)
    )?;
    if let Some(info) = details.error_info() {
        // Sorted, so the same error always prints the same way.
        let metadata: std::collections::BTreeMap<_, _> = info.metadata.iter().collect();
        let metadata: String = metadata
            .into_iter()
            .map(|(key, value)| format!(", {key}={value}"))
            .collect();
        writeln!(
            out,
            "  reason: {} (domain {}{metadata})",
            info.reason, info.domain
        )?;
    }
    if let Some(bad_request) = details.bad_request() {
        for violation in &bad_request.field_violations {
            writeln!(
                out,
                "  field {}: {}",
                violation.field, violation.description
            )?;
        }
    }
    if let Some(delay) = details.retry_info().and_then(|r| r.retry_delay) {
        writeln!(out, "  retry after {delay:?}")?;
    }
    Ok(())
}

/// Protobuf `Struct` numbers are all doubles; a version is `1`, not `1.0`, for a person and for
/// `jq` alike.
fn integral_numbers(value: Json) -> Json {
    match value {
        Json::Number(n) => match n.as_f64() {
            // Within ±2^53 a double is an exact integer.
            Some(x) if x.fract() == 0.0 && x.abs() <= 9_007_199_254_740_992.0 =>
            {
                #[allow(clippy::cast_possible_truncation)]
                Json::from(x as i64)
            }
            _ => Json::Number(n),
        },
        Json::Array(items) => Json::Array(items.into_iter().map(integral_numbers).collect()),
        Json::Object(map) => Json::Object(
            map.into_iter()
                .map(|(k, v)| (k, integral_numbers(v)))
                .collect(),
        ),
        other => other,
    }
}

fn line(out: &mut impl Write, value: &Json) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use tonic::Code;
    use tonic_types::ErrorDetails;

    fn rendered(status: Status, json: bool) -> String {
        let mut out = Vec::new();
        error(&mut out, &CallError(status).into(), json).expect("render");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn whole_numbers_print_as_integers() {
        assert_eq!(
            integral_numbers(json!({"version": 1.0, "mean": 1.5, "list": [2.0, -3.0]})),
            json!({"version": 1, "mean": 1.5, "list": [2, -3]})
        );
    }

    #[test]
    fn an_error_shows_its_code_message_and_details() {
        let status = Status::with_error_details(
            Code::FailedPrecondition,
            "task x has no analysis yet",
            ErrorDetails::with_error_info("ANALYSIS_MISSING", "rift.v1", HashMap::new()),
        );
        assert_eq!(
            rendered(status.clone(), false),
            "rift: FAILED_PRECONDITION: task x has no analysis yet\n  reason: ANALYSIS_MISSING (domain rift.v1)\n"
        );
        let json: Json = serde_json::from_str(&rendered(status, true)).expect("one JSON line");
        assert_eq!(
            json,
            json!({"error": {
                "code": "FAILED_PRECONDITION",
                "message": "task x has no analysis yet",
                "reason": "ANALYSIS_MISSING",
                "domain": "rift.v1",
            }})
        );
    }

    #[test]
    fn field_violations_and_retry_delay_are_listed() {
        let mut details = ErrorDetails::with_bad_request_violation("task_id", "must not be empty");
        details.set_retry_info(Some(std::time::Duration::from_millis(1500)));
        let status = Status::with_error_details(Code::InvalidArgument, "bad", details);
        assert_eq!(
            rendered(status.clone(), false),
            "rift: INVALID_ARGUMENT: bad\n  field task_id: must not be empty\n  retry after 1.5s\n"
        );
        let json: Json = serde_json::from_str(&rendered(status, true)).expect("one JSON line");
        assert_eq!(
            json["error"]["field_violations"],
            json!([{"field": "task_id", "description": "must not be empty"}])
        );
        assert_eq!(json["error"]["retry_after_ms"], 1500);
    }
}
