//! Property tests of request validation: arbitrary input never panics and is accepted exactly
//! when it is valid. Many cases per property (`PROPTEST_CASES` overrides the count).
//!
//! The natural-language parser has its own property tests beside it (`src/ws/command.rs`),
//! and `ws_flood` sends arbitrary frames through a real socket.

use proptest::prelude::*;
use prost_types::{ListValue, Struct, Value as ProtoValue, value::Kind};
use rift::{
    domain::{AnalysisStats, EventId, Resume, TaskId, records::python_json},
    grpc::json_from_proto,
};

fn cases() -> ProptestConfig {
    ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(5_000),
    )
}

/// Protobuf `Value`s of any shape, finite or not, nested a few levels.
fn proto_value() -> impl Strategy<Value = ProtoValue> {
    let leaf = prop_oneof![
        Just(Kind::NullValue(0)),
        any::<bool>().prop_map(Kind::BoolValue),
        any::<f64>().prop_map(Kind::NumberValue),
        ".{0,12}".prop_map(Kind::StringValue),
    ]
    .prop_map(|kind| ProtoValue { kind: Some(kind) });
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(|values| ProtoValue {
                kind: Some(Kind::ListValue(ListValue { values })),
            }),
            prop::collection::btree_map(".{0,6}", inner, 0..6).prop_map(|fields| ProtoValue {
                kind: Some(Kind::StructValue(Struct {
                    fields: fields.into_iter().collect(),
                })),
            }),
        ]
    })
}

fn has_non_finite(value: &ProtoValue) -> bool {
    match &value.kind {
        Some(Kind::NumberValue(x)) => !x.is_finite(),
        Some(Kind::ListValue(list)) => list.values.iter().any(has_non_finite),
        Some(Kind::StructValue(object)) => object.fields.values().any(has_non_finite),
        _ => false,
    }
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn task_ids_are_accepted_exactly_when_valid(raw in "\\PC{0,140}|[A-Za-z0-9._:-]{0,140}") {
        let valid = (1..=128).contains(&raw.len())
            && raw.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        prop_assert_eq!(TaskId::parse(&raw).is_ok(), valid);
    }

    #[test]
    fn resume_tokens_never_panic_and_round_trip(raw in "\\PC{0,40}|[0-9]{1,20}(-[0-9]{1,20})?") {
        if let Ok(Resume::After(id)) = Resume::parse(&raw) {
            prop_assert_eq!(id.to_string().parse::<EventId>(), Ok(id));
        }
    }

    #[test]
    fn proto_values_convert_unless_not_finite(value in proto_value()) {
        let converted = json_from_proto(value.clone(), &|| "data[0]".into());
        prop_assert_eq!(converted.is_ok(), !has_non_finite(&value));
        if let Ok(json) = converted {
            // Statistics and the stored record handle whatever converted.
            let stats = AnalysisStats::of(std::slice::from_ref(&json));
            prop_assert_eq!(stats.item_count, 1);
            let stored = python_json(&json);
            prop_assert_eq!(serde_json::from_str::<serde_json::Value>(&stored).ok(), Some(json));
        }
    }
}
