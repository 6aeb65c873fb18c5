//! `rift.v1.AnalyzeRequest` as the server decodes it: its data kept encoded, counted, and
//! turned into values only once the count is within the limit.
//!
//! Decoding the generated message builds every `google.protobuf.Value` at once: a 4 MB body of
//! two million empty values became well over a hundred megabytes before any limit was looked
//! at, and nesting deeper than prost's recursion limit failed as `INTERNAL`. So the generated
//! server decodes this type instead (`build.rs` maps it for the server only; clients still
//! encode `pb::AnalyzeRequest`, and the bytes on the wire are the same). Its data is one copy
//! of the encoded items, at most the message size; [`BoundedAnalyzeRequest::data`] refuses
//! too many items before building any, and builds each within the domain's depth.

use bytes::{Buf, BufMut};
use prost::{
    DecodeError, Message,
    encoding::{self, DecodeContext, WireType},
};
use serde_json::Value as JsonValue;

use super::convert;
use crate::{
    domain::{CoreError, Limits, analysis},
    pb,
};

/// `AnalyzeRequest` with its `data` items still encoded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BoundedAnalyzeRequest {
    /// `task_id` (field 1).
    pub task_id: String,
    /// `request_id` (field 3).
    pub request_id: String,
    /// `expected_version` (field 4).
    pub expected_version: Option<u64>,
    /// `epoch` (field 5).
    pub epoch: String,
    /// The `data` fields (2) exactly as encoded: tag, length and bytes of each item.
    data: Vec<u8>,
    /// How many items `data` holds.
    item_count: usize,
}

const TASK_ID: u32 = 1;
const DATA: u32 = 2;
const REQUEST_ID: u32 = 3;
const EXPECTED_VERSION: u32 = 4;
const EPOCH: u32 = 5;

impl BoundedAnalyzeRequest {
    /// How many items the data holds, counted without building any.
    pub fn item_count(&self) -> usize {
        self.item_count
    }

    /// The items as JSON: refused as a whole when there are more than `limits` allow, before
    /// any is built; each refused when it is not a valid value (invalid UTF-8, say) or nests
    /// deeper than the domain allows, naming it (`data[3]`).
    pub fn data(&self, limits: &Limits) -> Result<Vec<JsonValue>, CoreError> {
        limits.check_items(self.item_count)?;
        let mut items = Vec::with_capacity(self.item_count);
        let mut encoded = self.data.as_slice();
        while encoded.has_remaining() {
            let index = items.len();
            let field = || format!("data[{index}]");
            // `data` holds only what `merge_field` encoded, so it always splits into items.
            let Some(item) = next_item(&mut encoded) else {
                return Err(CoreError::Internal);
            };
            if let Some(value) = plain_value(item) {
                items.push(value);
                continue;
            }
            let value = prost_types::Value::decode(item).map_err(|error| {
                // Deeper than prost's own recursion limit: deeper than the domain's too.
                if error.to_string().contains("recursion limit") {
                    analysis::too_deep()
                } else {
                    CoreError::invalid(field(), format!("is not a valid value: {error}"))
                }
            })?;
            items.push(convert::json_from_proto(value, &field)?);
        }
        Ok(items)
    }
}

/// The usual item read straight from its bytes: a `Value` that is one string, number, bool or
/// null, encoded as one field (as every protobuf library encodes it). What prost and
/// [`convert::json_from_proto`] would make of the same bytes, without building the `Value`
/// first; anything else (lists, objects, several fields, invalid UTF-8, a number that is not
/// finite) is `None`, left to them, errors included. Most of the per-item cost of a large
/// Analyze was that generic path (BENCHMARKS.md, "Per item").
fn plain_value(item: &[u8]) -> Option<JsonValue> {
    // Keys of `google.protobuf.Value`'s fields: null_value (1, varint), number_value
    // (2, 64-bit), string_value (3, length-delimited), bool_value (4, varint).
    const NULL: u8 = 1 << 3;
    const NUMBER: u8 = 2 << 3 | 1;
    const STRING: u8 = 3 << 3 | 2;
    const BOOL: u8 = 4 << 3;
    match item {
        // No kind at all reads as null, as `json_from_proto` has it.
        [] => Some(JsonValue::Null),
        // One-byte varints only; any NullValue is null, any non-zero bool true.
        [NULL, value] if *value < 0x80 => Some(JsonValue::Null),
        [BOOL, value] if *value < 0x80 => Some(JsonValue::Bool(*value != 0)),
        [NUMBER, bits @ ..] => {
            let bits: [u8; 8] = bits.try_into().ok()?;
            serde_json::Number::from_f64(f64::from_le_bytes(bits)).map(JsonValue::Number)
        }
        [STRING, rest @ ..] => {
            let mut text = rest;
            let len = encoding::decode_varint(&mut text).ok()?;
            if usize::try_from(len).ok()? != text.len() {
                return None;
            }
            std::str::from_utf8(text)
                .ok()
                .map(|text| JsonValue::String(text.to_owned()))
        }
        _ => None,
    }
}

/// The next item of encoded `data`: skips its tag and length, returns its bytes.
fn next_item<'a>(encoded: &mut &'a [u8]) -> Option<&'a [u8]> {
    encoding::decode_key(encoded).ok()?;
    let len = usize::try_from(encoding::decode_varint(encoded).ok()?).ok()?;
    if len > encoded.len() {
        return None;
    }
    let (item, rest) = encoded.split_at(len);
    *encoded = rest;
    Some(item)
}

impl Message for BoundedAnalyzeRequest {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        if !self.task_id.is_empty() {
            encoding::string::encode(TASK_ID, &self.task_id, buf);
        }
        buf.put_slice(&self.data);
        if !self.request_id.is_empty() {
            encoding::string::encode(REQUEST_ID, &self.request_id, buf);
        }
        if let Some(version) = &self.expected_version {
            encoding::uint64::encode(EXPECTED_VERSION, version, buf);
        }
        if !self.epoch.is_empty() {
            encoding::string::encode(EPOCH, &self.epoch, buf);
        }
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        match tag {
            TASK_ID => encoding::string::merge(wire_type, &mut self.task_id, buf, ctx),
            DATA => {
                self.item_count += 1;
                if self.data.is_empty() {
                    // Items are most of a request: room for all of them at once rather than
                    // growing by doubling. At most the rest of the message, as before.
                    self.data.reserve(buf.remaining());
                }
                // Length and bytes copied straight from the request when they lie in one
                // chunk (tonic decodes from one contiguous buffer): no buffer of its own per
                // item. Otherwise, or when they do not add up, prost's own merge, for its
                // error; an empty item (the cheapest to send) allocates nothing either way.
                if wire_type == WireType::LengthDelimited {
                    let chunk = buf.chunk();
                    let mut rest = chunk;
                    if let Ok(len) = encoding::decode_varint(&mut rest)
                        && let Ok(len) = usize::try_from(len)
                        && len <= rest.len()
                    {
                        let whole = chunk.len() - rest.len() + len;
                        encoding::encode_key(DATA, WireType::LengthDelimited, &mut self.data);
                        self.data.extend_from_slice(&chunk[..whole]);
                        buf.advance(whole);
                        return Ok(());
                    }
                }
                let mut item = Vec::new();
                encoding::bytes::merge(wire_type, &mut item, buf, ctx)?;
                encoding::bytes::encode(DATA, &item, &mut self.data);
                Ok(())
            }
            REQUEST_ID => encoding::string::merge(wire_type, &mut self.request_id, buf, ctx),
            EXPECTED_VERSION => {
                encoding::uint64::merge(wire_type, self.expected_version.get_or_insert(0), buf, ctx)
            }
            EPOCH => encoding::string::merge(wire_type, &mut self.epoch, buf, ctx),
            _ => encoding::skip_field(wire_type, tag, buf, ctx),
        }
    }

    fn encoded_len(&self) -> usize {
        let string = |tag, value: &String| {
            if value.is_empty() {
                0
            } else {
                encoding::string::encoded_len(tag, value)
            }
        };
        string(TASK_ID, &self.task_id)
            + self.data.len()
            + string(REQUEST_ID, &self.request_id)
            + self.expected_version.as_ref().map_or(0, |version| {
                encoding::uint64::encoded_len(EXPECTED_VERSION, version)
            })
            + string(EPOCH, &self.epoch)
    }

    fn clear(&mut self) {
        *self = Self::default();
    }
}

/// The same request, as a client builds it (the bytes on the wire are the same).
impl From<pb::AnalyzeRequest> for BoundedAnalyzeRequest {
    fn from(request: pb::AnalyzeRequest) -> Self {
        // Decoding what was just encoded cannot fail.
        Self::decode(request.encode_to_vec().as_slice()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use prost_types::{ListValue, value::Kind};
    use serde_json::json;

    use super::*;

    fn string(s: &str) -> prost_types::Value {
        prost_types::Value {
            kind: Some(Kind::StringValue(s.into())),
        }
    }

    #[test]
    fn the_same_bytes_as_the_generated_message() {
        let generated = pb::AnalyzeRequest {
            task_id: "t".into(),
            data: vec![string("a"), prost_types::Value::default(), string("b")],
            request_id: "r".into(),
            expected_version: Some(0),
            epoch: "e".into(),
        };
        let bounded = BoundedAnalyzeRequest::from(generated.clone());
        assert_eq!(bounded.item_count(), 3);
        assert_eq!(bounded.expected_version, Some(0));
        assert_eq!(bounded.encode_to_vec(), generated.encode_to_vec());
        assert_eq!(
            bounded.data(&Limits::default()).expect("valid"),
            vec![json!("a"), json!(null), json!("b")]
        );
    }

    proptest::proptest! {
        /// The items read straight from their bytes are what prost and the generic
        /// conversion make of the same bytes; what it leaves to them, they still read.
        #[test]
        fn plain_items_read_as_the_generic_path_reads_them(
            kind in 0u8..6,
            number_bits in proptest::num::u64::ANY,
            text in proptest::collection::vec(proptest::num::u8::ANY, 0..40),
            flag in 0u64..300,
        ) {
            let value = match kind {
                0 => prost_types::Value::default(),
                1 => prost_types::Value { kind: Some(Kind::NullValue(flag as i32)) },
                2 => prost_types::Value { kind: Some(Kind::BoolValue(flag % 2 == 1)) },
                3 => prost_types::Value {
                    kind: Some(Kind::NumberValue(f64::from_bits(number_bits))),
                },
                4 => prost_types::Value {
                    kind: Some(Kind::StringValue(String::from_utf8_lossy(&text).into_owned())),
                },
                _ => prost_types::Value {
                    kind: Some(Kind::ListValue(ListValue { values: vec![string("x")] })),
                },
            };
            let bytes = value.encode_to_vec();
            let generic = prost_types::Value::decode(bytes.as_slice())
                .ok()
                .and_then(|value| convert::json_from_proto(value, &|| "data[0]".into()).ok());
            if let Some(plain) = plain_value(&bytes) {
                proptest::prop_assert_eq!(Some(plain), generic);
            }
            // Raw bytes after a string key: valid UTF-8 or not, the same answer.
            let mut raw = vec![0x1a];
            encoding::encode_varint(text.len() as u64, &mut raw);
            raw.extend_from_slice(&text);
            let generic = prost_types::Value::decode(raw.as_slice())
                .ok()
                .and_then(|value| convert::json_from_proto(value, &|| "data[0]".into()).ok());
            if let Some(plain) = plain_value(&raw) {
                proptest::prop_assert_eq!(Some(plain), generic);
            } else {
                proptest::prop_assert!(std::str::from_utf8(&text).is_err());
            }
        }
    }

    #[test]
    fn common_items_take_the_direct_path() {
        for value in [
            prost_types::Value::default(),
            prost_types::Value {
                kind: Some(Kind::NullValue(0)),
            },
            prost_types::Value {
                kind: Some(Kind::BoolValue(true)),
            },
            prost_types::Value {
                kind: Some(Kind::NumberValue(-1.5)),
            },
            string("data1"),
            string(&"é".repeat(300)),
        ] {
            assert!(plain_value(&value.encode_to_vec()).is_some(), "{value:?}");
        }
        let nan = prost_types::Value {
            kind: Some(Kind::NumberValue(f64::NAN)),
        };
        assert_eq!(plain_value(&nan.encode_to_vec()), None);
    }

    #[test]
    fn split_chunks_decode_alike() {
        // The same request from a buffer in many small chunks: every item goes through
        // prost's own merge, with the same outcome.
        let generated = pb::AnalyzeRequest {
            task_id: "t".into(),
            data: vec![
                string("a"),
                prost_types::Value::default(),
                string(&"b".repeat(200)),
            ],
            ..Default::default()
        };
        let bytes = generated.encode_to_vec();
        let whole = BoundedAnalyzeRequest::decode(bytes.as_slice()).expect("decodes");
        let mut chained: Box<dyn Buf> = Box::new(&[][..]);
        for piece in bytes.chunks(3) {
            chained = Box::new(chained.chain(piece));
        }
        let split = BoundedAnalyzeRequest::decode(chained).expect("decodes");
        assert_eq!(split, whole);
        assert_eq!(split.encode_to_vec(), bytes);
    }

    #[test]
    fn too_many_items_are_refused_before_any_is_built() {
        let request = BoundedAnalyzeRequest::from(pb::AnalyzeRequest {
            data: vec![prost_types::Value::default(); 11],
            ..Default::default()
        });
        let limits = Limits {
            max_items: 10,
            ..Limits::default()
        };
        let error = request.data(&limits).expect_err("over the limit");
        assert_eq!(error, limits.check_items(11).expect_err("same error"));
    }

    #[test]
    fn nesting_past_prost_s_limit_is_the_domain_s_error() {
        let mut value = prost_types::Value::default();
        for _ in 0..200 {
            value = prost_types::Value {
                kind: Some(Kind::ListValue(ListValue {
                    values: vec![value],
                })),
            };
        }
        let request = BoundedAnalyzeRequest::from(pb::AnalyzeRequest {
            data: vec![value],
            ..Default::default()
        });
        assert_eq!(request.item_count(), 1);
        assert_eq!(
            request.data(&Limits::default()).expect_err("too deep"),
            analysis::too_deep()
        );
    }

    #[test]
    fn invalid_utf8_names_the_item() {
        // data: [Value { string_value: "\xff" }], by hand.
        let body = [0x12, 0x03, 0x1a, 0x01, 0xff];
        let request = BoundedAnalyzeRequest::decode(&body[..]).expect("framing is fine");
        match request.data(&Limits::default()) {
            Err(CoreError::InvalidArgument { field, .. }) => assert_eq!(field, "data[0]"),
            other => panic!("{other:?}"),
        }
    }
}
