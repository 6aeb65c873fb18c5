//! The two fields of a `rift.v1.Notification` a subscriber checks, read in place from the
//! encoded message without decoding the rest: its id, and its payload's `version`.

use prost::encoding::{WireType, decode_key, decode_varint};

/// A notification id's place in the history. Rift's ids are Redis stream ids, `<ms>-<seq>`,
/// ordered by both numbers in turn; an id of any other form sorts before them all, so a
/// subscriber that receives one counts it out of order.
pub(crate) fn id_order(id: &str) -> (u64, u64) {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    match (ms.parse(), seq.parse()) {
        (Ok(ms), Ok(seq)) => (ms, seq),
        _ => (0, 0),
    }
}

/// Splits off the next field of `buf`: (field number, wire type, its bytes; none for a
/// varint).
fn next_field<'a>(buf: &mut &'a [u8]) -> Option<(u32, WireType, &'a [u8])> {
    let (tag, wire) = decode_key(buf).ok()?;
    let len = match wire {
        WireType::LengthDelimited => usize::try_from(decode_varint(buf).ok()?).ok()?,
        WireType::SixtyFourBit => 8,
        WireType::ThirtyTwoBit => 4,
        WireType::Varint => {
            decode_varint(buf).ok()?;
            0
        }
        _ => return None,
    };
    let (field, rest) = buf.split_at_checked(len)?;
    *buf = rest;
    Some((tag, wire, field))
}

/// The two fields of an encoded `rift.v1.Notification` a subscriber checks, read in place: the
/// id (1) and the payload (5, an encoded `google.protobuf.Struct`).
pub(crate) fn notification_fields(mut encoded: &[u8]) -> (Option<&str>, Option<&[u8]>) {
    let (mut id, mut payload) = (None, None);
    while let Some((tag, wire, field)) = next_field(&mut encoded) {
        match (tag, wire) {
            (1, WireType::LengthDelimited) => id = std::str::from_utf8(field).ok(),
            (5, WireType::LengthDelimited) => payload = Some(field),
            _ => {}
        }
    }
    (id, payload)
}

/// The number under `key` in an encoded `google.protobuf.Struct`, read without decoding the
/// rest: `Struct.fields` (1) is a map, each entry `{key (1), value (2)}`, and
/// `Value.number_value` (2) a double.
pub(crate) fn struct_number(mut encoded: &[u8], key: &str) -> Option<f64> {
    let next = next_field;
    while !encoded.is_empty() {
        let (1, WireType::LengthDelimited, mut entry) = next(&mut encoded)? else {
            continue;
        };
        let (mut name, mut value) = (None, None);
        while !entry.is_empty() {
            match next(&mut entry)? {
                (1, WireType::LengthDelimited, bytes) => name = Some(bytes),
                (2, WireType::LengthDelimited, bytes) => value = Some(bytes),
                _ => {}
            }
        }
        if name != Some(key.as_bytes()) {
            continue;
        }
        let mut value = value?;
        while !value.is_empty() {
            if let (2, WireType::SixtyFourBit, bytes) = next(&mut value)? {
                return Some(f64::from_le_bytes(bytes.try_into().ok()?));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use prost::Message as _;
    use prost_types::{Struct, Value, value::Kind};
    use rift::pb;

    use super::*;

    #[test]
    fn reads_one_number_out_of_an_encoded_struct() {
        let value = |kind| Value { kind: Some(kind) };
        let payload = Struct {
            fields: [
                (
                    "summary".to_owned(),
                    value(Kind::StringValue("Analyzed 3 items".into())),
                ),
                ("task_id".to_owned(), value(Kind::StringValue("t".into()))),
                ("version".to_owned(), value(Kind::NumberValue(1234.0))),
                ("zeta".to_owned(), value(Kind::BoolValue(true))),
            ]
            .into_iter()
            .collect(),
        };
        let notification = pb::Notification {
            id: "1-2".into(),
            payload: Some(payload),
            ..Default::default()
        };
        let encoded = notification.encode_to_vec();
        let (id, payload) = notification_fields(&encoded);
        assert_eq!(id, Some("1-2"));
        let payload = payload.expect("a payload");
        assert_eq!(struct_number(payload, "version"), Some(1234.0));
        assert_eq!(struct_number(payload, "summary"), None);
        assert_eq!(struct_number(payload, "missing"), None);
        assert_eq!(struct_number(&[0xff, 0xff], "version"), None);
    }

    #[test]
    fn ids_are_ordered_by_both_numbers() {
        assert!(id_order("1-10") > id_order("1-9"));
        assert!(id_order("2-0") > id_order("1-99"));
        assert_eq!(id_order("7"), (7, 0));
        assert_eq!(id_order("not-an-id"), (0, 0));
    }
}
