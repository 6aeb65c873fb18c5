//! Subscribe streams read straight off HTTP/2, one task per connection.
//!
//! A million deliveries a second through tonic's client cost the load tool as much CPU as Rift
//! spent sending them, on the same two cores: a task wake-up, a `Streaming` decode and two
//! allocations per message. Here a connection's hundred streams are read by one task
//! ([`SelectAll`]), gRPC's length-prefixed messages are split by hand, and only the two fields
//! the run checks are read, in place: the notification's id and its payload's version.
//!
//! It speaks plain gRPC over h2 (`POST /rift.v1.Rift/Subscribe`, `te: trailers`, the status in
//! the trailers), so what it measures is what any gRPC client would get.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

use anyhow::Context as _;
use bytes::{Buf as _, Bytes, BytesMut};
use futures::{StreamExt as _, stream::SelectAll};
use h2::RecvStream;
use prost::Message as _;
use rift::pb;
use tokio::{net::TcpStream, sync::oneshot};
use tokio_util::sync::CancellationToken;
use tonic::codegen::http;

use crate::notification::{id_order, notification_fields, struct_number};

/// What one subscriber received: (version, microseconds since the start) in arrival order.
#[derive(Debug, Default)]
pub(crate) struct Received {
    pub(crate) events: Vec<(u32, u32)>,
    /// Notifications whose id was not greater than the one before.
    pub(crate) out_of_order: u64,
    pub(crate) error: Option<String>,
}

/// How a subscriber knows it is done: every reader holds one, the run keeps the original.
#[derive(Debug, Clone)]
pub(crate) struct Ending {
    /// The last version written, once the writers are done; `u64::MAX` until then.
    last: Arc<AtomicU64>,
    /// Cancelled once `last` is set, for subscribers that already have it.
    last_known: CancellationToken,
    /// Cancelled when the drain time is over.
    stop: CancellationToken,
}

impl Ending {
    pub(crate) fn new() -> Self {
        Self {
            last: Arc::new(AtomicU64::new(u64::MAX)),
            last_known: CancellationToken::new(),
            stop: CancellationToken::new(),
        }
    }

    /// The last version written; `u64::MAX` while writers are still writing.
    fn last(&self) -> u64 {
        self.last.load(Ordering::Relaxed)
    }

    /// The writers are done and `last` is the last version: readers that have it stop.
    pub(crate) fn writers_done(&self, last: u64) {
        self.last.store(last, Ordering::Relaxed);
        self.last_known.cancel();
    }

    /// Every reader stops, whatever it has.
    pub(crate) fn stop(&self) {
        self.stop.cancel();
    }

    /// Tokens of its own for one reader: polling a token locks its waiter list, and readers
    /// polling the same two would contend for them.
    pub(crate) fn for_reader(&self) -> Self {
        Self {
            last: self.last.clone(),
            last_known: self.last_known.child_token(),
            stop: self.stop.child_token(),
        }
    }
}

pub(crate) fn micros_since(start: Instant) -> u32 {
    u32::try_from(start.elapsed().as_micros()).unwrap_or(u32::MAX)
}

/// gRPC's message prefix: a compression flag and a big-endian length.
const PREFIX: usize = 5;

/// One subscriber's stream as it is read.
struct Reader {
    /// Bytes of a message split across DATA frames.
    partial: BytesMut,
    received: Received,
    /// The last id's place in the history ([`id_order`]).
    previous: (u64, u64),
    highest: u64,
    done: bool,
}

impl Reader {
    fn new(capacity: usize) -> Self {
        Self {
            partial: BytesMut::new(),
            received: Received {
                events: Vec::with_capacity(capacity),
                ..Received::default()
            },
            previous: (0, 0),
            highest: 0,
            done: false,
        }
    }

    fn failed(error: String) -> Self {
        let mut reader = Self::new(0);
        reader.received.error = Some(error);
        reader.done = true;
        reader
    }

    /// Takes in one DATA frame's bytes, which arrived at `at`.
    fn on_data(&mut self, chunk: &Bytes, at: u32) {
        if self.partial.is_empty() {
            let rest = self.take_messages(chunk, at);
            self.partial.extend_from_slice(rest);
        } else {
            // Keep the buffer: consume the whole messages in place and leave the rest.
            self.partial.extend_from_slice(chunk);
            let mut partial = std::mem::take(&mut self.partial);
            let left = self.take_messages(&partial, at).len();
            partial.advance(partial.len() - left);
            self.partial = partial;
        }
    }

    /// Records every whole message at the start of `bytes`; returns what is left.
    fn take_messages<'a>(&mut self, mut bytes: &'a [u8], at: u32) -> &'a [u8] {
        while bytes.len() >= PREFIX {
            let len = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]) as usize;
            if bytes.len() < PREFIX + len {
                break;
            }
            if bytes[0] != 0 {
                self.received.error = Some("a compressed message, never asked for".into());
            }
            self.record(&bytes[PREFIX..PREFIX + len], at);
            bytes.advance(PREFIX + len);
        }
        bytes
    }

    fn record(&mut self, message: &[u8], at: u32) {
        let (id, payload) = notification_fields(message);
        let id = id.map_or((0, 0), id_order);
        if id <= self.previous {
            self.received.out_of_order += 1;
        }
        self.previous = id;
        let version = payload
            .and_then(|payload| struct_number(payload, "version"))
            .filter(|v| *v >= 0.0)
            .map_or(0, |v| v as u64);
        self.highest = self.highest.max(version);
        self.received
            .events
            .push((u32::try_from(version).unwrap_or(u32::MAX), at));
    }
}

enum Event {
    Data(Bytes),
    /// The stream ended; with the reason when it was not a clean end.
    End(Option<String>),
}

/// A stream's DATA frames as events, then its end.
fn events(index: usize, body: RecvStream) -> impl futures::Stream<Item = (usize, Event)> + Send {
    futures::stream::unfold(Some(body), move |body| async move {
        let mut body = body?;
        match body.data().await {
            Some(Ok(chunk)) => {
                // Hand the window back at once: the run measures Rift, not flow control.
                let _ = body.flow_control().release_capacity(chunk.len());
                Some(((index, Event::Data(chunk)), Some(body)))
            }
            Some(Err(error)) => Some(((index, Event::End(Some(error.to_string()))), None)),
            None => {
                let error = match body.trailers().await {
                    Ok(Some(trailers)) => grpc_error(&trailers),
                    Ok(None) => Some("the stream ended without a status".into()),
                    Err(error) => Some(error.to_string()),
                };
                Some(((index, Event::End(error)), None))
            }
        }
    })
}

/// The gRPC error `headers` carry, if any: `None` when the status is OK or absent.
fn grpc_error(headers: &http::HeaderMap) -> Option<String> {
    let status = headers.get("grpc-status")?.to_str().unwrap_or("?");
    if status == "0" {
        return None;
    }
    let message = headers
        .get("grpc-message")
        .and_then(|m| m.to_str().ok())
        .unwrap_or_default();
    Some(format!("grpc-status {status}: {message}"))
}

/// Opens `count` Subscribe streams over one new connection to `addr`.
async fn open(
    addr: SocketAddr,
    authorization: Option<&str>,
    request: &pb::SubscribeRequest,
    count: usize,
) -> anyhow::Result<Vec<Result<RecvStream, String>>> {
    let tcp = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to Rift's gRPC at {addr}"))?;
    tcp.set_nodelay(true)?;
    let (mut client, connection) = h2::client::Builder::new()
        .initial_window_size(1 << 20)
        .initial_connection_window_size(1 << 24)
        .handshake::<_, Bytes>(tcp)
        .await
        .context("HTTP/2 handshake")?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "bench subscriber connection ended");
        }
    });
    let mut message = BytesMut::with_capacity(PREFIX + request.encoded_len());
    message.extend_from_slice(&[0]);
    message.extend_from_slice(&u32::try_from(request.encoded_len())?.to_be_bytes());
    request.encode(&mut message)?;
    let message = message.freeze();

    let mut responses = Vec::with_capacity(count);
    for _ in 0..count {
        client = client.ready().await.context("opening a stream")?;
        let mut head = http::Request::builder()
            .method("POST")
            .uri(format!("http://{addr}/rift.v1.Rift/Subscribe"))
            .header("content-type", "application/grpc")
            .header("te", "trailers");
        if let Some(authorization) = authorization {
            head = head.header("authorization", authorization);
        }
        let (response, mut send) = client.send_request(head.body(())?, false)?;
        send.send_data(message.clone(), true)?;
        responses.push(response);
    }
    let mut streams = Vec::with_capacity(count);
    for response in futures::future::join_all(responses).await {
        streams.push(match response {
            Ok(response) if response.status() != http::StatusCode::OK => {
                Err(format!("HTTP status {}", response.status()))
            }
            // A trailers-only response: the call failed before any message.
            Ok(response) => match grpc_error(response.headers()) {
                Some(error) => Err(error),
                None => Ok(response.into_body()),
            },
            Err(error) => Err(error.to_string()),
        });
    }
    Ok(streams)
}

/// What every connection's subscribers share.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) addr: SocketAddr,
    /// The `authorization` header, when Rift asks for one.
    pub(crate) authorization: Option<String>,
    pub(crate) request: pb::SubscribeRequest,
    /// Deliveries each subscriber expects, to size its record.
    pub(crate) capacity: usize,
    /// Arrival times are counted from here.
    pub(crate) start: Instant,
}

/// `count` subscribers on one connection: subscribes, reports on `ready` (the errors of those
/// that could not subscribe), then reads until each has the last version or the run stops.
pub(crate) async fn read_connection(
    plan: Plan,
    count: usize,
    ready: oneshot::Sender<Vec<String>>,
    ending: Ending,
) -> Vec<Received> {
    let Plan {
        addr,
        authorization,
        request,
        capacity,
        start,
    } = plan;
    let opened = match open(addr, authorization.as_deref(), &request, count).await {
        Ok(streams) => streams,
        Err(error) => (0..count).map(|_| Err(format!("{error:#}"))).collect(),
    };
    let mut readers = Vec::with_capacity(count);
    let mut all = SelectAll::new();
    for (index, stream) in opened.into_iter().enumerate() {
        match stream {
            Ok(body) => {
                readers.push(Reader::new(capacity));
                all.push(Box::pin(events(index, body)));
            }
            Err(error) => readers.push(Reader::failed(error)),
        }
    }
    let _ = ready.send(
        readers
            .iter()
            .filter_map(|reader| reader.received.error.clone())
            .collect(),
    );

    let mut reading = readers.iter().filter(|reader| !reader.done).count();
    let last_known = ending.last_known.cancelled();
    let stopped = ending.stop.cancelled();
    tokio::pin!(last_known, stopped);
    let mut waiting_for_last = true;
    while reading > 0 {
        // Biased, the streams first: while deliveries keep coming, the tokens are not polled.
        tokio::select! {
            biased;
            event = all.next() => {
                let Some((index, event)) = event else { break };
                let reader = &mut readers[index];
                if reader.done {
                    continue;
                }
                match event {
                    Event::Data(chunk) => {
                        reader.on_data(&chunk, micros_since(start));
                        reader.done = reader.highest >= ending.last();
                    }
                    Event::End(error) => {
                        reader.received.error =
                            Some(error.unwrap_or_else(|| "the stream ended".into()));
                        reader.done = true;
                    }
                }
                if reader.done {
                    reading -= 1;
                }
            }
            () = &mut last_known, if waiting_for_last => {
                waiting_for_last = false;
                let last = ending.last();
                for reader in readers.iter_mut().filter(|reader| !reader.done) {
                    if reader.highest >= last {
                        reader.done = true;
                        reading -= 1;
                    }
                }
            }
            () = &mut stopped => break,
        }
    }
    readers.into_iter().map(|reader| reader.received).collect()
}

#[cfg(test)]
mod tests {
    use prost_types::{Struct, Value, value::Kind};

    use super::*;

    fn framed(version: f64, id: &str) -> Vec<u8> {
        let payload = Struct {
            fields: [(
                "version".to_owned(),
                Value {
                    kind: Some(Kind::NumberValue(version)),
                },
            )]
            .into_iter()
            .collect(),
        };
        let message = pb::Notification {
            id: id.into(),
            payload: Some(payload),
            ..Default::default()
        }
        .encode_to_vec();
        let mut framed = vec![0];
        framed.extend_from_slice(&(message.len() as u32).to_be_bytes());
        framed.extend_from_slice(&message);
        framed
    }

    #[test]
    fn messages_split_across_frames_and_several_in_one_are_all_read() {
        let mut bytes = framed(1.0, "1-0");
        bytes.extend(framed(2.0, "2-0"));
        bytes.extend(framed(3.0, "1-5"));
        let mut reader = Reader::new(4);
        // Every split point: the reader must see the same three messages.
        for cut in [1, 3, 7, bytes.len() - 2] {
            reader = Reader::new(4);
            reader.on_data(&Bytes::copy_from_slice(&bytes[..cut]), 10);
            reader.on_data(&Bytes::copy_from_slice(&bytes[cut..]), 20);
            let versions: Vec<u32> = reader.received.events.iter().map(|e| e.0).collect();
            assert_eq!(versions, [1, 2, 3], "cut at {cut}");
            assert!(reader.partial.is_empty());
        }
        assert_eq!(reader.highest, 3);
        assert_eq!(reader.received.out_of_order, 1, "1-5 came after 2-0");
    }
}
