//! `rift.v1.Notification` already encoded, for the Subscribe stream.
//!
//! Every subscriber of an event is sent the same message. Encoding it once per subscriber was,
//! with a thousand subscribers, the largest single cost of the fan-out, so the generated server
//! streams [`EncodedNotification`] instead of the generated struct (`build.rs` maps the type
//! for the server code only; clients still decode `pb::Notification`). Its bytes are the
//! encoding the notifier keeps with each event ([`Published::encoded`]), made on the first
//! delivery and shared by every other.
//!
//! On the wire nothing changes: the bytes are exactly what encoding `pb::Notification` gives.

use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes};
use prost::{
    DecodeError, Message,
    encoding::{DecodeContext, WireType},
};

use crate::{
    domain::{Published, WireFormat},
    pb,
};

/// A `rift.v1.Notification` in its protobuf encoding.
#[derive(Debug, Clone, Default)]
pub struct EncodedNotification {
    source: Source,
}

#[derive(Debug, Clone)]
enum Source {
    /// Kept with the event: the subscriber already holds it, so sending takes no reference
    /// count of its own on the bytes (a write to a cache line every core shares).
    Published(Arc<Published>),
    /// Decoded.
    Owned(Bytes),
}

impl Default for Source {
    fn default() -> Self {
        Source::Owned(Bytes::new())
    }
}

impl EncodedNotification {
    /// The notification's shared encoding, made now if no subscriber needed it before.
    pub fn of(published: Arc<Published>) -> Self {
        Self::encoding(&published);
        Self {
            source: Source::Published(published),
        }
    }

    fn encoding(published: &Published) -> &Bytes {
        published.encoded(WireFormat::Protobuf, |notification| {
            let mut message = pb::Notification::from(notification);
            if let Some(token) = published.token() {
                token.clone_into(&mut message.id);
            }
            message.encode_to_vec().into()
        })
    }

    /// The encoded `rift.v1.Notification`.
    pub fn as_bytes(&self) -> &Bytes {
        match &self.source {
            Source::Published(published) => Self::encoding(published),
            Source::Owned(bytes) => bytes,
        }
    }
}

impl Message for EncodedNotification {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        buf.put_slice(self.as_bytes());
    }

    /// Decoding goes through the generated message, so what is kept is its encoding. Never
    /// on a hot path: Rift only sends this type.
    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        let mut message = pb::Notification::decode(self.as_bytes().clone())?;
        message.merge_field(tag, wire_type, buf, ctx)?;
        self.source = Source::Owned(message.encode_to_vec().into());
        Ok(())
    }

    fn encoded_len(&self) -> usize {
        self.as_bytes().len()
    }

    fn clear(&mut self) {
        self.source = Source::default();
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::{EventId, Notification};

    fn published() -> Arc<Published> {
        Arc::new(Published::new(Notification {
            id: EventId {
                ms: 1_700_000_000_123,
                seq: 4,
            },
            task_id: "101".into(),
            agent: "TechAgent".into(),
            action: "analysis_stored".into(),
            payload: json!({"task_id": "101", "version": 3, "nested": {"list": [1.5, null, "x"]}})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
        }))
    }

    #[test]
    fn the_bytes_are_the_generated_message_s_encoding() {
        let published = published();
        let encoded = EncodedNotification::of(published.clone());
        let decoded = pb::Notification::decode(encoded.as_bytes().clone()).expect("decodes");
        assert_eq!(decoded, pb::Notification::from(published.notification()));
        // What goes on the wire: the codec writes the message through `Message::encode`.
        assert_eq!(encoded.encode_to_vec(), decoded.encode_to_vec());
    }

    #[test]
    fn every_subscriber_gets_the_same_encoding() {
        let published = published();
        let first = EncodedNotification::of(published.clone());
        let second = EncodedNotification::of(published);
        assert_eq!(first.as_bytes().as_ptr(), second.as_bytes().as_ptr());
    }

    #[test]
    fn decoding_gives_back_the_same_message() {
        let bytes = EncodedNotification::of(published()).encode_to_vec();
        let decoded = EncodedNotification::decode(bytes.as_slice()).expect("decodes");
        assert_eq!(decoded.as_bytes().as_ref(), bytes.as_slice());
        // A string field claiming five bytes where there is one.
        assert!(EncodedNotification::decode(&[0x0a, 0x05, b'x'][..]).is_err());
    }
}
