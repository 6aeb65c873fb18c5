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
            let item = next_item(&mut encoded).ok_or(CoreError::Internal)?;
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
                // An empty item (the cheapest to send) allocates nothing here.
                let mut item = Vec::new();
                encoding::bytes::merge(wire_type, &mut item, buf, ctx)?;
                encoding::bytes::encode(DATA, &item, &mut self.data);
                self.item_count += 1;
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
