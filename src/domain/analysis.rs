//! TechAgent's analysis: the prototype's summary plus statistics over the items.
//!
//! [`AnalysisStats::of`] is the one part of an Analyze whose cost grows with the data (up to
//! `max_items`, 10,000 by default), so it is written for that: one pass over the items, the
//! strings counted in a map hashed with foldhash and sized once, and the top strings picked in
//! one pass over the map instead of sorting every distinct string (BENCHMARKS.md, "Per item").

use std::collections::HashMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::CoreError;

/// How many of the most frequent strings [`StringStats::top`] keeps.
pub const TOP_STRINGS: usize = 5;

/// The most bytes of a string [`StringStats::top`] keeps: longer ones are cut (at a character
/// boundary) and flagged [`ValueCount::truncated`], so what one analysis stores stays small
/// whatever its items hold.
pub const TOP_VALUE_BYTES: usize = 256;

/// Deepest nesting of lists and objects accepted in the data of an Analyze, the data's own
/// list counting as the first level (so an item may nest 31 more). The same on every
/// transport: each measures it before building the values.
pub const MAX_DATA_DEPTH: usize = 32;

/// Why data nesting deeper than [`MAX_DATA_DEPTH`] is refused, in the words every transport
/// uses.
pub fn too_deep_description() -> String {
    format!("data nests lists or objects deeper than {MAX_DATA_DEPTH} levels")
}

/// The error of data nesting deeper than [`MAX_DATA_DEPTH`].
pub fn too_deep() -> CoreError {
    CoreError::invalid("data", too_deep_description())
}

/// The prototype's summary line, kept to the byte.
pub fn summary(item_count: usize) -> String {
    format!("Analyzed {item_count} items")
}

/// Statistics over a data list; see `AnalysisStats` in the proto for the meaning of each field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct AnalysisStats {
    /// Items in the list.
    pub item_count: u64,
    /// Items by JSON type.
    pub types: TypeCounts,
    /// Present when at least one item is a number.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub numbers: Option<NumberStats>,
    /// Present when at least one item is a string.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub strings: Option<StringStats>,
}

/// Item count by JSON type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct TypeCounts {
    /// `null` items.
    pub nulls: u64,
    /// `true` and `false` items.
    pub booleans: u64,
    /// Number items.
    pub numbers: u64,
    /// String items.
    pub strings: u64,
    /// List items (not looked into).
    pub lists: u64,
    /// Object items (not looked into).
    pub objects: u64,
}

/// Over the number items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct NumberStats {
    /// Number items.
    pub count: u64,
    /// The smallest.
    pub min: f64,
    /// The largest.
    pub max: f64,
    /// `sum / count`.
    pub mean: f64,
    /// Their sum.
    pub sum: f64,
}

/// Over the string items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct StringStats {
    /// String items.
    pub count: u64,
    /// Distinct strings among them.
    pub distinct: u64,
    /// The [`TOP_STRINGS`] most frequent, most frequent first, ties in lexical order.
    pub top: Vec<ValueCount>,
}

/// One string and how often it occurs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ValueCount {
    /// The string, cut to its first [`TOP_VALUE_BYTES`] bytes (whole characters) when longer.
    pub value: String,
    /// Items equal to it.
    pub count: u64,
    /// Whether `value` was cut; absent when it is whole.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

impl ValueCount {
    /// `value` occurring `count` times, cut to [`TOP_VALUE_BYTES`].
    pub(crate) fn of(value: &str, count: u64) -> Self {
        let cut = Self::cut(value);
        Self {
            value: cut.to_owned(),
            count,
            truncated: cut.len() < value.len(),
        }
    }

    /// `value`'s first [`TOP_VALUE_BYTES`] bytes, whole characters.
    pub(crate) fn cut(value: &str) -> &str {
        let mut end = value.len().min(TOP_VALUE_BYTES);
        while !value.is_char_boundary(end) {
            end -= 1;
        }
        &value[..end]
    }
}

impl AnalysisStats {
    /// Computes the statistics of `items` in one pass over them and one over their distinct
    /// strings.
    pub fn of(items: &[Value]) -> Self {
        let mut types = TypeCounts::default();
        let mut numbers: Option<NumberStats> = None;
        // foldhash, not the standard SipHash: a few times faster on short strings, and still
        // seeded per process, so which strings collide cannot be chosen in advance; a map lives
        // for one call over at most `max_items` strings.
        let mut strings: StringCounts<'_> = StringCounts::default();
        for (index, item) in items.iter().enumerate() {
            match item {
                Value::Null => types.nulls += 1,
                Value::Bool(_) => types.booleans += 1,
                Value::Number(n) => {
                    types.numbers += 1;
                    // Every JSON number Rift accepts is finite, so `as_f64` only loses precision
                    // on integers beyond 2^53, which statistics can afford.
                    let x = n.as_f64().unwrap_or(0.0);
                    let stats = numbers.get_or_insert(NumberStats {
                        count: 0,
                        min: x,
                        max: x,
                        mean: 0.0,
                        sum: 0.0,
                    });
                    stats.count += 1;
                    stats.min = stats.min.min(x);
                    stats.max = stats.max.max(x);
                    stats.sum += x;
                }
                Value::String(s) => {
                    types.strings += 1;
                    if strings.capacity() == 0 {
                        // At most every item left is a distinct string: room for them at once
                        // instead of growing (and rehashing) the map as they come.
                        strings.reserve(items.len() - index);
                    }
                    *strings.entry(s.as_str()).or_default() += 1;
                }
                Value::Array(_) => types.lists += 1,
                Value::Object(_) => types.objects += 1,
            }
        }
        if let Some(stats) = numbers.as_mut() {
            stats.mean = stats.sum / stats.count as f64;
        }
        let strings = (types.strings > 0).then(|| StringStats {
            count: types.strings,
            distinct: strings.len() as u64,
            top: top_strings(&strings)
                .into_iter()
                .map(|(value, count)| ValueCount::of(value, count))
                .collect(),
        });
        Self {
            item_count: items.len() as u64,
            types,
            numbers,
            strings,
        }
    }
}

/// Each distinct string of an analysis and how often it occurs.
type StringCounts<'a> = HashMap<&'a str, u64, foldhash::fast::RandomState>;

/// The [`TOP_STRINGS`] most frequent of `counts`, most frequent first, ties in lexical order:
/// one pass, keeping the best so far in order (a new entry beats the last kept one at most
/// once per entry, and is placed among at most [`TOP_STRINGS`]).
fn top_strings<'a>(counts: &StringCounts<'a>) -> Vec<(&'a str, u64)> {
    // Whether `a` ranks before `b`.
    let before = |a: (&str, u64), b: (&str, u64)| a.1 > b.1 || (a.1 == b.1 && a.0 < b.0);
    let mut top: Vec<(&'a str, u64)> = Vec::with_capacity(TOP_STRINGS + 1);
    for (&value, &count) in counts {
        let entry = (value, count);
        if top.len() == TOP_STRINGS && !top.last().is_some_and(|&last| before(entry, last)) {
            continue;
        }
        let at = top.partition_point(|&kept| before(kept, entry));
        top.insert(at, entry);
        top.truncate(TOP_STRINGS);
    }
    top
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn summary_is_the_prototypes() {
        assert_eq!(summary(3), "Analyzed 3 items");
        assert_eq!(summary(0), "Analyzed 0 items");
    }

    #[test]
    fn counts_types_numbers_and_strings() {
        let items: Vec<Value> = serde_json::from_value(json!([
            "b", "a", "b", 3, -1.5, null, true, [1], {"k": 1}, "c", 10
        ]))
        .expect("literal");
        let stats = AnalysisStats::of(&items);
        assert_eq!(stats.item_count, 11);
        assert_eq!(
            stats.types,
            TypeCounts {
                nulls: 1,
                booleans: 1,
                numbers: 3,
                strings: 4,
                lists: 1,
                objects: 1
            }
        );
        let numbers = stats.numbers.expect("numbers");
        assert_eq!(
            (numbers.count, numbers.min, numbers.max, numbers.sum),
            (3, -1.5, 10.0, 11.5)
        );
        assert!((numbers.mean - 11.5 / 3.0).abs() < 1e-12);
        let strings = stats.strings.expect("strings");
        assert_eq!((strings.count, strings.distinct), (4, 3));
        let top: Vec<(&str, u64)> = strings
            .top
            .iter()
            .map(|v| (v.value.as_str(), v.count))
            .collect();
        assert_eq!(top, [("b", 2), ("a", 1), ("c", 1)]);
    }

    #[test]
    fn empty_list_has_no_number_or_string_section() {
        let stats = AnalysisStats::of(&[]);
        assert_eq!(stats.item_count, 0);
        assert!(stats.numbers.is_none() && stats.strings.is_none());
    }

    #[test]
    fn long_top_values_are_cut_at_a_character_and_flagged() {
        let long = "é".repeat(200); // 400 bytes
        let items = vec![json!(long), json!(long), json!("short")];
        let top = AnalysisStats::of(&items).strings.expect("strings").top;
        assert_eq!(top[0].value, "é".repeat(128));
        assert!(top[0].truncated);
        assert_eq!(top[0].count, 2);
        assert_eq!((top[1].value.as_str(), top[1].truncated), ("short", false));
        let record = serde_json::to_value(&top[1]).expect("serializes");
        assert_eq!(
            record,
            json!({"value": "short", "count": 1}),
            "whole values as before"
        );
    }

    proptest::proptest! {
        /// The one-pass pick agrees with sorting every distinct string.
        #[test]
        fn top_is_the_head_of_the_full_ranking(
            picks in proptest::collection::vec(0u8..12, 0..60)
        ) {
            let items: Vec<Value> = picks.iter().map(|p| json!(format!("s{p}"))).collect();
            let mut counts: HashMap<String, u64> = HashMap::new();
            for pick in &picks {
                *counts.entry(format!("s{pick}")).or_default() += 1;
            }
            let mut ranked: Vec<(String, u64)> = counts.into_iter().collect();
            ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            ranked.truncate(TOP_STRINGS);
            let top: Vec<(String, u64)> = AnalysisStats::of(&items)
                .strings
                .map(|s| s.top.into_iter().map(|v| (v.value, v.count)).collect())
                .unwrap_or_default();
            proptest::prop_assert_eq!(top, ranked);
        }
    }

    #[test]
    fn top_keeps_only_the_most_frequent() {
        let items: Vec<Value> = (0..20).map(|i| json!(format!("s{}", i % 7))).collect();
        let strings = AnalysisStats::of(&items).strings.expect("strings");
        assert_eq!(strings.distinct, 7);
        assert_eq!(strings.top.len(), TOP_STRINGS);
        assert_eq!(strings.top[0].count, 3);
    }
}
