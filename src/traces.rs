//! OpenTelemetry traces: the spans of Rift's calls exported over OTLP/gRPC when the standard
//! `OTEL_*` variables ask for it, and the W3C trace context that joins those spans to the
//! callers' and to each other.
//!
//! # Switching it on
//!
//! Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set, or
//! `OTEL_TRACES_EXPORTER=otlp` (to the default `http://localhost:4317`);
//! `OTEL_SDK_DISABLED=true` and `OTEL_TRACES_EXPORTER=none` keep it off whatever else is set.
//! [`Traces::from_env`] decides, once, from the variables `main` hands it; the exporter and the
//! SDK then read the rest of the standard set themselves (`OTEL_EXPORTER_OTLP_*HEADERS`,
//! `*_TIMEOUT`, `OTEL_SERVICE_NAME`, default `rift`, `OTEL_RESOURCE_ATTRIBUTES`,
//! `OTEL_TRACES_SAMPLER[_ARG]`, `OTEL_BSP_*`). The protocol is gRPC: a protocol variable
//! asking for another is refused at startup rather than exporting into the void.
//!
//! # The context in and out
//!
//! - A gRPC call's `traceparent` metadata is the parent of its `grpc` span
//!   (`crate::grpc` observe layer).
//! - A WebSocket upgrade's `traceparent` header is the parent of every command span
//!   (`ws_command`) of the connection; a typed frame's own `"traceparent"` field, beside its
//!   `"id"`, is the parent of that frame's command instead.
//! - The trace id a call ends up in is its span's `trace_id` field, so every log line of the
//!   call carries it (JSON logs included), with the exporter on or off.
//! - An agent write keeps the `traceparent` of the span it runs in with its notification, in
//!   the same atomic step (memory), and both transports hand it to subscribers, so whoever
//!   handles a notification can continue the writer's trace.

use std::collections::HashMap;

use anyhow::Context as _;
use http::HeaderMap;
use opentelemetry::{
    Context,
    propagation::{Extractor, TextMapPropagator},
    trace::{TraceContextExt, TracerProvider as _},
};
use opentelemetry_sdk::{
    Resource,
    propagation::TraceContextPropagator,
    runtime,
    trace::{SdkTracer, SdkTracerProvider, span_processor_with_async_runtime::BatchSpanProcessor},
};
use tracing::{Span, Subscriber};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::registry::LookupSpan;

/// The W3C header, metadata key and typed-frame field carrying a trace context.
pub const TRACEPARENT: &str = "traceparent";

/// The service name spans carry unless `OTEL_SERVICE_NAME` says otherwise.
const SERVICE_NAME: &str = "rift";

/// The exporter, while traces are on. Shut it down before the runtime ends, so the last spans
/// leave.
#[derive(Debug)]
pub struct Traces {
    provider: SdkTracerProvider,
}

impl Traces {
    /// The exporter the `OTEL_*` variables (as `var` reads them) ask for, or `None` when they
    /// leave traces off. Must run inside the Tokio runtime the exporter will use.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> anyhow::Result<Option<Self>> {
        if !wanted(&var)? {
            return Ok(None);
        }
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .build()
            .context("building the OTLP span exporter")?;
        // The batch processor on Tokio: the default one exports from a thread of its own,
        // where tonic finds no runtime to connect on.
        let processor = BatchSpanProcessor::builder(exporter, runtime::Tokio).build();
        let mut resource = Resource::builder();
        if var("OTEL_SERVICE_NAME").is_none() {
            resource = resource.with_service_name(SERVICE_NAME);
        }
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_resource(resource.build())
            .build();
        Ok(Some(Self { provider }))
    }

    /// The `tracing` layer that turns spans into OpenTelemetry spans for this exporter.
    pub fn layer<S>(&self) -> tracing_opentelemetry::OpenTelemetryLayer<S, SdkTracer>
    where
        S: Subscriber + for<'span> LookupSpan<'span>,
    {
        tracing_opentelemetry::layer().with_tracer(self.provider.tracer(SERVICE_NAME))
    }

    /// Exports what is still queued, then stops.
    pub async fn shutdown(self) {
        // Shutting down blocks until the processor's task has flushed; on a blocking thread,
        // so that task can run even on a runtime with a single worker.
        let provider = self.provider;
        match tokio::task::spawn_blocking(move || provider.shutdown()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "trace exporter did not shut down cleanly"),
            Err(error) => tracing::warn!(%error, "trace exporter shutdown panicked"),
        }
    }
}

/// Whether the variables ask for traces; an error for a protocol other than gRPC.
fn wanted(var: &impl Fn(&str) -> Option<String>) -> anyhow::Result<bool> {
    let set = |name: &str| var(name).filter(|value| !value.trim().is_empty());
    if set("OTEL_SDK_DISABLED").is_some_and(|value| value.trim().eq_ignore_ascii_case("true")) {
        return Ok(false);
    }
    let exporter = set("OTEL_TRACES_EXPORTER").map(|value| value.trim().to_ascii_lowercase());
    let wanted = match exporter.as_deref() {
        Some("none") => false,
        Some("otlp") => true,
        Some(other) => anyhow::bail!(
            "OTEL_TRACES_EXPORTER={other}: Rift exports traces over OTLP only (otlp or none)"
        ),
        None => {
            set("OTEL_EXPORTER_OTLP_ENDPOINT").is_some()
                || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some()
        }
    };
    if wanted {
        for name in [
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ] {
            if let Some(protocol) = set(name).filter(|protocol| protocol.trim() != "grpc") {
                anyhow::bail!(
                    "{name}={protocol}: Rift exports traces over OTLP/gRPC only; set it to grpc \
                     (the collector's port 4317) or unset it"
                );
            }
        }
    }
    Ok(wanted)
}

/// Reads the trace context out of HTTP headers or gRPC metadata.
struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
}

/// A lone `traceparent`, as a typed frame carries it.
struct Traceparent<'a>(&'a str);

impl Extractor for Traceparent<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        (key == TRACEPARENT).then_some(self.0)
    }

    fn keys(&self) -> Vec<&str> {
        vec![TRACEPARENT]
    }
}

/// The caller's span named by the `traceparent` (and `tracestate`) of `headers`; `None` without
/// a valid one (an invalid one is ignored, as W3C Trace Context asks).
pub fn parent_in_headers(headers: &HeaderMap) -> Option<Context> {
    if !headers.contains_key(TRACEPARENT) {
        return None;
    }
    remote(TraceContextPropagator::new().extract(&Headers(headers)))
}

/// The caller's span a `traceparent` value names; `None` if it is not a valid one.
pub fn parent_of(traceparent: &str) -> Option<Context> {
    remote(TraceContextPropagator::new().extract(&Traceparent(traceparent)))
}

fn remote(context: Context) -> Option<Context> {
    context.span().span_context().is_valid().then_some(context)
}

/// Makes `parent` the parent of `span`, which must be new (not yet entered), and records the
/// trace id the span is in as its `trace_id` field (declared `trace_id =
/// tracing::field::Empty`): the exported span's, or without an exporter the caller's.
pub fn adopt(span: &Span, parent: Option<&Context>) {
    if let Some(parent) = parent {
        // Fails only without an exporter (no layer to tell), when there is nothing to parent.
        let _ = span.set_parent(parent.clone());
    }
    let own = span.context();
    let trace_id = [Some(&own), parent]
        .into_iter()
        .flatten()
        .map(|context| context.span().span_context().clone())
        .find(|span_context| span_context.is_valid())
        .map(|span_context| span_context.trace_id());
    if let Some(trace_id) = trace_id {
        span.record("trace_id", tracing::field::display(trace_id));
    }
}

/// The `traceparent` of the span the caller runs in, for what it writes to carry; `None` with
/// the exporter off.
pub fn current_traceparent() -> Option<String> {
    let context = Span::current().context();
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.remove(TRACEPARENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted_with(vars: &[(&str, &str)]) -> anyhow::Result<bool> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        wanted(&|name: &str| vars.get(name).cloned())
    }

    #[test]
    fn traces_are_off_unless_an_otlp_variable_asks() {
        assert!(!wanted_with(&[]).expect("no variables"));
        assert!(!wanted_with(&[("OTEL_SERVICE_NAME", "rift-a")]).expect("a name only"));
        assert!(!wanted_with(&[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")]).expect("blank"));
        for on in [
            [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")],
            [("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:4317")],
            [("OTEL_TRACES_EXPORTER", "otlp")],
        ] {
            assert!(wanted_with(&on).expect("valid"), "{on:?}");
        }
        let endpoint = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317");
        assert!(!wanted_with(&[endpoint, ("OTEL_SDK_DISABLED", "TRUE")]).expect("disabled"));
        assert!(!wanted_with(&[endpoint, ("OTEL_TRACES_EXPORTER", "none")]).expect("none"));
        assert!(wanted_with(&[endpoint, ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]).expect("grpc"));
    }

    #[test]
    fn exporters_and_protocols_rift_does_not_speak_are_refused() {
        let endpoint = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318");
        let error = wanted_with(&[endpoint, ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")])
            .expect_err("http/protobuf");
        assert!(error.to_string().contains("OTLP/gRPC only"), "{error}");
        assert!(wanted_with(&[("OTEL_TRACES_EXPORTER", "zipkin")]).is_err());
    }

    #[test]
    fn only_valid_traceparents_name_a_parent() {
        let parent = parent_of("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
            .expect("a valid traceparent");
        assert_eq!(
            parent.span().span_context().trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert!(parent.span().span_context().is_remote());
        for bad in [
            "",
            "nonsense",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        ] {
            assert!(parent_of(bad).is_none(), "{bad:?}");
        }
        let mut headers = HeaderMap::new();
        assert!(parent_in_headers(&headers).is_none());
        headers.insert(
            TRACEPARENT,
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
                .parse()
                .expect("header value"),
        );
        assert!(parent_in_headers(&headers).is_some());
    }

    #[test]
    fn without_an_exporter_nothing_is_written_with_a_trace() {
        assert_eq!(current_traceparent(), None);
    }
}
