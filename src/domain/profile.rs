//! ReportAgent's profile of a task's data: what pandas' `DataFrame.describe()` and
//! ydata-profiling tell an analyst, in one pass over the items and bounded memory.
//!
//! - Numbers: count, mean and standard deviation (Welford's update, `n - 1` denominator as
//!   pandas uses; 0 for a single number), min, quartiles, max and a histogram. Quartiles and
//!   the histogram come from a uniform sample of at most [`SAMPLE_SIZE`] numbers (reservoir
//!   sampling, seeded, so the same data gives the same report): exact while there are at most
//!   that many numbers, estimated from the sample beyond (flagged `exact: false`).
//! - Strings: count, distinct, the most frequent with their counts, length (characters)
//!   min/mean/max. At most [`MAX_DISTINCT`] distinct strings are counted: beyond them, strings
//!   first seen later are not (distinct is then a lower bound, flagged `distinct_exact: false`).
//! - Nulls and booleans counted (true and false apart); lists and objects by type.
//! - Records (object items, the shape real data usually has): per field, how often present,
//!   its type mix and the same statistics; at most [`MAX_FIELDS`] field names (more are
//!   flagged `fields_truncated`).
//!
//! Memory is bounded by these constants whatever the item count; time is linear in it.

use std::collections::HashMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::analysis::{TypeCounts, ValueCount};

/// Numbers kept per profile for quartiles and the histogram.
pub const SAMPLE_SIZE: usize = 4096;
/// Distinct strings counted per profile.
pub const MAX_DISTINCT: usize = 1024;
/// Record fields profiled.
pub const MAX_FIELDS: usize = 32;
/// Most frequent strings listed per profile.
pub const TOP_VALUES: usize = 10;
/// Most bins of a histogram.
pub const MAX_BINS: usize = 20;

/// The profile of a data list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Profile {
    /// Items in the list.
    pub item_count: u64,
    /// The items themselves.
    pub values: ValueProfile,
    /// Present when at least one item is an object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records: Option<RecordsProfile>,
}

/// Statistics of a set of JSON values: the items, or one field's values.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ValueProfile {
    /// Values.
    pub count: u64,
    /// Values by JSON type.
    pub types: TypeCounts,
    /// Present when at least one value is a boolean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub booleans: Option<BooleanCounts>,
    /// Present when at least one value is a number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numbers: Option<NumberProfile>,
    /// Present when at least one value is a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strings: Option<StringProfile>,
}

/// `true` and `false` apart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct BooleanCounts {
    /// `true` values.
    pub true_count: u64,
    /// `false` values.
    pub false_count: u64,
}

/// Over the numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct NumberProfile {
    /// Numbers.
    pub count: u64,
    /// Their mean.
    pub mean: f64,
    /// Sample standard deviation (`n - 1`); 0 for a single number.
    pub std: f64,
    /// The smallest.
    pub min: f64,
    /// First quartile (linear interpolation, as pandas).
    pub q1: f64,
    /// Median.
    pub median: f64,
    /// Third quartile.
    pub q3: f64,
    /// The largest.
    pub max: f64,
    /// Whether the quartiles and histogram are exact (at most [`SAMPLE_SIZE`] numbers), not
    /// estimated from a sample.
    pub exact: bool,
    /// Equal-width bins from `min` to `max`.
    pub histogram: Histogram,
}

/// Equal-width bins: bin `i` holds numbers from `start + i * width` (the last includes `max`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Histogram {
    /// Where the first bin starts: the smallest number.
    pub start: f64,
    /// Width of each bin (0 when every number is the same).
    pub width: f64,
    /// Numbers per bin (estimated, scaled from the sample, unless the profile is exact).
    pub counts: Vec<u64>,
}

/// Over the strings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct StringProfile {
    /// Strings.
    pub count: u64,
    /// Distinct strings (a lower bound unless `distinct_exact`).
    pub distinct: u64,
    /// Whether every distinct string was counted (at most [`MAX_DISTINCT`]).
    pub distinct_exact: bool,
    /// The [`TOP_VALUES`] most frequent, most frequent first, ties in lexical order.
    pub top: Vec<ValueCount>,
    /// Shortest length, in characters.
    pub min_length: u64,
    /// Mean length.
    pub mean_length: f64,
    /// Longest length.
    pub max_length: u64,
}

/// Over the object items, field by field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RecordsProfile {
    /// Object items.
    pub count: u64,
    /// Per field, in the order fields were first seen.
    pub fields: Vec<FieldProfile>,
    /// Whether more than [`MAX_FIELDS`] field names were seen (the rest are not profiled).
    pub fields_truncated: bool,
}

/// One field of the records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct FieldProfile {
    /// The field's name (cut like a top string when long).
    pub name: String,
    /// Records that have it.
    pub present: u64,
    /// Its values.
    pub values: ValueProfile,
}

impl Profile {
    /// Profiles `items` in one pass.
    pub fn of(items: &[Value]) -> Self {
        let mut values = ValueAcc::default();
        let mut records: Option<RecordsAcc> = None;
        for item in items {
            values.add(item);
            if let Value::Object(map) = item {
                records.get_or_insert_with(RecordsAcc::default).add(map);
            }
        }
        Self {
            item_count: items.len() as u64,
            values: values.finish(),
            records: records.map(RecordsAcc::finish),
        }
    }
}

#[derive(Default)]
struct RecordsAcc {
    count: u64,
    index: HashMap<String, usize>,
    fields: Vec<(String, u64, ValueAcc)>,
    truncated: bool,
}

impl RecordsAcc {
    fn add(&mut self, map: &serde_json::Map<String, Value>) {
        self.count += 1;
        for (name, value) in map {
            let at = match self.index.get(name.as_str()) {
                Some(&at) => at,
                None if self.fields.len() < MAX_FIELDS => {
                    self.index.insert(name.clone(), self.fields.len());
                    let shown = ValueCount::of(name, 0).value;
                    self.fields.push((shown, 0, ValueAcc::default()));
                    self.fields.len() - 1
                }
                None => {
                    self.truncated = true;
                    continue;
                }
            };
            let field = &mut self.fields[at];
            field.1 += 1;
            field.2.add(value);
        }
    }

    fn finish(self) -> RecordsProfile {
        RecordsProfile {
            count: self.count,
            fields: self
                .fields
                .into_iter()
                .map(|(name, present, values)| FieldProfile {
                    name,
                    present,
                    values: values.finish(),
                })
                .collect(),
            fields_truncated: self.truncated,
        }
    }
}

#[derive(Default)]
struct ValueAcc {
    count: u64,
    types: TypeCounts,
    booleans: BooleanCounts,
    numbers: Option<NumberAcc>,
    strings: Option<StringAcc>,
}

impl ValueAcc {
    fn add(&mut self, value: &Value) {
        self.count += 1;
        match value {
            Value::Null => self.types.nulls += 1,
            Value::Bool(b) => {
                self.types.booleans += 1;
                if *b {
                    self.booleans.true_count += 1;
                } else {
                    self.booleans.false_count += 1;
                }
            }
            Value::Number(n) => {
                self.types.numbers += 1;
                // Finite, as every number Rift accepts; see `AnalysisStats::of`.
                let x = n.as_f64().unwrap_or(0.0);
                self.numbers.get_or_insert_with(NumberAcc::new).add(x);
            }
            Value::String(s) => {
                self.types.strings += 1;
                self.strings.get_or_insert_with(StringAcc::default).add(s);
            }
            Value::Array(_) => self.types.lists += 1,
            Value::Object(_) => self.types.objects += 1,
        }
    }

    fn finish(self) -> ValueProfile {
        ValueProfile {
            count: self.count,
            booleans: (self.types.booleans > 0).then_some(self.booleans),
            types: self.types,
            numbers: self.numbers.map(NumberAcc::finish),
            strings: self.strings.map(StringAcc::finish),
        }
    }
}

struct NumberAcc {
    count: u64,
    mean: f64,
    /// Sum of squared deviations from the running mean (Welford).
    m2: f64,
    min: f64,
    max: f64,
    sample: Vec<f64>,
    /// xorshift64* state: a fixed seed, so a report is reproducible.
    rng: u64,
}

impl NumberAcc {
    fn new() -> Self {
        Self {
            count: 0,
            mean: 0.0,
            m2: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            sample: Vec::new(),
            rng: 0x9E37_79B9_7F4A_7C15,
        }
    }

    fn add(&mut self, x: f64) {
        self.count += 1;
        let delta = x - self.mean;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (x - self.mean);
        self.min = self.min.min(x);
        self.max = self.max.max(x);
        // Reservoir sampling (Algorithm R): every number is kept with equal probability.
        if self.sample.len() < SAMPLE_SIZE {
            self.sample.push(x);
        } else {
            let slot = (self.next_random() % self.count) as usize;
            if slot < SAMPLE_SIZE {
                self.sample[slot] = x;
            }
        }
    }

    fn next_random(&mut self) -> u64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn finish(mut self) -> NumberProfile {
        let exact = self.count as usize <= SAMPLE_SIZE;
        self.sample.sort_unstable_by(f64::total_cmp);
        let quantile = |p: f64| {
            let sample = &self.sample;
            let at = p * (sample.len() - 1) as f64;
            let below = at.floor() as usize;
            let above = (below + 1).min(sample.len() - 1);
            sample[below] + (sample[above] - sample[below]) * (at - below as f64)
        };
        let std = if self.count > 1 {
            (self.m2 / (self.count - 1) as f64).sqrt()
        } else {
            0.0
        };
        NumberProfile {
            count: self.count,
            mean: self.mean,
            std,
            min: self.min,
            q1: quantile(0.25),
            median: quantile(0.5),
            q3: quantile(0.75),
            max: self.max,
            exact,
            histogram: self.histogram(),
        }
    }

    /// Sturges' rule on the count, at most [`MAX_BINS`] bins, over the sample (sorted), scaled
    /// to the count when the sample is not everything.
    fn histogram(&self) -> Histogram {
        let range = self.max - self.min;
        if range <= 0.0 {
            return Histogram {
                start: self.min,
                width: 0.0,
                counts: vec![self.count],
            };
        }
        let bins = ((self.count as f64).log2().ceil() as usize + 1).clamp(1, MAX_BINS);
        let width = range / bins as f64;
        let mut counts = vec![0u64; bins];
        for x in &self.sample {
            let bin = (((x - self.min) / width) as usize).min(bins - 1);
            counts[bin] += 1;
        }
        if self.sample.len() as u64 != self.count {
            let scale = self.count as f64 / self.sample.len() as f64;
            for count in &mut counts {
                *count = (*count as f64 * scale).round() as u64;
            }
        }
        Histogram {
            start: self.min,
            width,
            counts,
        }
    }
}

#[derive(Default)]
struct StringAcc {
    count: u64,
    counts: HashMap<String, u64>,
    overflow: bool,
    min_length: u64,
    max_length: u64,
    total_length: u64,
}

impl StringAcc {
    fn add(&mut self, s: &str) {
        let length = s.chars().count() as u64;
        if self.count == 0 || length < self.min_length {
            self.min_length = length;
        }
        self.max_length = self.max_length.max(length);
        self.total_length += length;
        self.count += 1;
        let key = ValueCount::cut(s);
        if let Some(count) = self.counts.get_mut(key) {
            *count += 1;
        } else if self.counts.len() < MAX_DISTINCT {
            self.counts.insert(key.to_owned(), 1);
        } else {
            self.overflow = true;
        }
    }

    fn finish(self) -> StringProfile {
        let distinct = self.counts.len() as u64;
        let mut ranked: Vec<(String, u64)> = self.counts.into_iter().collect();
        ranked.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        ranked.truncate(TOP_VALUES);
        StringProfile {
            count: self.count,
            distinct,
            distinct_exact: !self.overflow,
            top: ranked
                .into_iter()
                .map(|(value, count)| ValueCount::of(&value, count))
                .collect(),
            min_length: self.min_length,
            mean_length: self.total_length as f64 / self.count.max(1) as f64,
            max_length: self.max_length,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn items(value: Value) -> Vec<Value> {
        match value {
            Value::Array(items) => items,
            _ => Vec::new(),
        }
    }

    #[test]
    fn numbers_as_pandas_describes_them() {
        // pandas.Series([1, 2, 3, 4, 10]).describe(): mean 4, std 3.535534, 25% 2, 50% 3, 75% 4.
        let profile = Profile::of(&items(json!([1, 2, 3, 4, 10])));
        let numbers = profile.values.numbers.expect("numbers");
        assert_eq!(numbers.count, 5);
        assert!((numbers.mean - 4.0).abs() < 1e-12);
        assert!((numbers.std - 3.535_533_905_932_737_6).abs() < 1e-12);
        assert_eq!(
            (
                numbers.min,
                numbers.q1,
                numbers.median,
                numbers.q3,
                numbers.max
            ),
            (1.0, 2.0, 3.0, 4.0, 10.0)
        );
        assert!(numbers.exact);
        // Sturges: ceil(log2 5) + 1 = 4 bins of width 9/4.
        assert_eq!(numbers.histogram.counts, [3, 1, 0, 1]);
        assert!((numbers.histogram.width - 2.25).abs() < 1e-12);
        assert_eq!(numbers.histogram.counts.iter().sum::<u64>(), 5);
    }

    #[test]
    fn one_number_and_equal_numbers() {
        let one = Profile::of(&items(json!([7])))
            .values
            .numbers
            .expect("numbers");
        assert_eq!((one.std, one.q1, one.max), (0.0, 7.0, 7.0));
        assert_eq!(one.histogram.counts, [1]);
        let same = Profile::of(&items(json!([2, 2, 2])))
            .values
            .numbers
            .expect("numbers");
        assert_eq!(
            (same.histogram.width, same.histogram.counts.as_slice()),
            (0.0, &[3][..])
        );
    }

    #[test]
    fn many_numbers_are_sampled_and_flagged() {
        let many: Vec<Value> = (0..20_000).map(|i| json!(i % 100)).collect();
        let numbers = Profile::of(&many).values.numbers.expect("numbers");
        assert_eq!(numbers.count, 20_000);
        assert!(!numbers.exact);
        assert!(
            (numbers.mean - 49.5).abs() < 1e-9,
            "exact mean: {}",
            numbers.mean
        );
        assert!(
            (numbers.median - 49.5).abs() < 5.0,
            "estimated: {}",
            numbers.median
        );
        let total: u64 = numbers.histogram.counts.iter().sum();
        assert!(total.abs_diff(20_000) < 20, "{total}");
    }

    #[test]
    fn strings_booleans_and_nulls() {
        let profile = Profile::of(&items(json!([
            "b", "a", "b", "ccc", true, false, true, null
        ])));
        let values = &profile.values;
        assert_eq!(
            (values.count, values.types.strings, values.types.nulls),
            (8, 4, 1)
        );
        assert_eq!(
            values.booleans,
            Some(BooleanCounts {
                true_count: 2,
                false_count: 1
            })
        );
        let strings = values.strings.as_ref().expect("strings");
        assert_eq!((strings.distinct, strings.distinct_exact), (3, true));
        let top: Vec<(&str, u64)> = strings
            .top
            .iter()
            .map(|v| (v.value.as_str(), v.count))
            .collect();
        assert_eq!(top, [("b", 2), ("a", 1), ("ccc", 1)]);
        assert_eq!((strings.min_length, strings.max_length), (1, 3));
        assert!((strings.mean_length - 1.5).abs() < 1e-12);
        assert!(values.numbers.is_none());
    }

    #[test]
    fn distinct_strings_are_bounded() {
        let many: Vec<Value> = (0..3 * MAX_DISTINCT)
            .map(|i| json!(format!("s{i}")))
            .collect();
        let strings = Profile::of(&many).values.strings.expect("strings");
        assert_eq!(strings.distinct, MAX_DISTINCT as u64);
        assert!(!strings.distinct_exact);
        assert_eq!(strings.count, 3 * MAX_DISTINCT as u64);
    }

    #[test]
    fn records_are_profiled_per_field() {
        let profile = Profile::of(&items(json!([
            {"city": "Oslo", "temp": 3.5},
            {"city": "Rome", "temp": 18},
            {"city": "Oslo", "temp": null, "wind": true},
            "not a record"
        ])));
        let records = profile.records.expect("records");
        assert_eq!(records.count, 3);
        assert!(!records.fields_truncated);
        let names: Vec<&str> = records.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["city", "temp", "wind"]);
        let city = &records.fields[0];
        assert_eq!(city.present, 3);
        assert_eq!(
            city.values.strings.as_ref().expect("strings").top[0].value,
            "Oslo"
        );
        let temp = &records.fields[1];
        assert_eq!((temp.present, temp.values.types.nulls), (3, 1));
        let numbers = temp.values.numbers.as_ref().expect("numbers");
        assert_eq!((numbers.count, numbers.min, numbers.max), (2, 3.5, 18.0));
        assert_eq!(records.fields[2].present, 1);
        assert_eq!(profile.values.types.objects, 3);
    }

    #[test]
    fn record_fields_are_bounded() {
        let wide: serde_json::Map<String, Value> = (0..MAX_FIELDS + 5)
            .map(|i| (format!("f{i:03}"), json!(i)))
            .collect();
        let records = Profile::of(&[Value::Object(wide)])
            .records
            .expect("records");
        assert_eq!(records.fields.len(), MAX_FIELDS);
        assert!(records.fields_truncated);
    }

    #[test]
    fn the_empty_list() {
        let profile = Profile::of(&[]);
        assert_eq!(profile.item_count, 0);
        assert!(profile.values.numbers.is_none() && profile.records.is_none());
    }
}
