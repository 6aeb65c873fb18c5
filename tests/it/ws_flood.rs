//! 100,000 bad frames on one socket: each gets exactly one error frame, the socket keeps
//! serving, and the server's memory stays flat.
//!
//! The server runs as its own process so its resident memory can be read from /proc.

#![allow(clippy::print_stderr)]

use crate::support::rift::RiftProcess;
use futures::{SinkExt, StreamExt};
use tokio_tungstenite::{connect_async, tungstenite::Message};

const FRAMES: usize = 100_000;
/// Resident memory is read once this many replies have arrived (allocator and buffers warm),
/// then again at the end.
const WARM_UP: usize = 10_000;
/// Growth allowed between the two readings. A leak of even 64 bytes per frame would exceed it.
const FLAT: u64 = 4 * 1024 * 1024;

fn resident_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kib * 1024
}

/// The bad frames the prototype choked on, and arbitrary garbage, in rotation.
fn bad_frame(n: usize) -> Message {
    match n % 8 {
        0 => Message::text("Analyze data for task 101 with data: [bad"),
        1 => Message::text("Analyze data for task 101 with data: 12345"),
        2 => Message::binary(vec![0u8, 159, 146, 150]),
        3 => Message::text(format!(
            "Analyze data for task 1 with data: {}",
            "[".repeat(200)
        )),
        4 => Message::text(format!("frobnicate the task number {n}")),
        5 => Message::text(r#"{"analyze": {"task_id": "a:b", "data": []}}"#),
        6 => Message::text(format!("{{\"nope\": {n}}}")),
        _ => Message::text(format!("Check progress for task bad*id{n}")),
    }
}

/// The next frame that is not one of the server's keep-alive pings (tungstenite answers
/// those by itself), within a minute.
async fn next_reply(
    stream: &mut (
             impl futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin
         ),
) -> Message {
    loop {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(60), stream.next())
            .await
            .expect("a reply within a minute")
            .expect("the socket stays open")
            .expect("a frame");
        if !matches!(frame, Message::Ping(_) | Message::Pong(_)) {
            return frame;
        }
    }
}

#[tokio::test]
async fn a_flood_of_bad_frames_gets_one_error_each_and_leaves_memory_flat() {
    let rift = RiftProcess::spawn(&[]).await;
    let (socket, _) = connect_async(format!("ws://{}/ws", rift.http_addr))
        .await
        .expect("connect");
    let (mut sink, mut stream) = socket.split();
    let sender = tokio::spawn(async move {
        for n in 0..FRAMES {
            sink.feed(bad_frame(n)).await.expect("send");
            if n % 256 == 0 {
                sink.flush().await.expect("flush");
            }
        }
        sink.flush().await.expect("flush");
        sink
    });

    let mut warm = 0;
    for n in 0..FRAMES {
        let reply = next_reply(&mut stream).await;
        let text = reply.to_text().expect("a text frame");
        assert!(
            text.starts_with(r#"{"error": {"code": ""#),
            "frame {n}: {text}"
        );
        if n + 1 == WARM_UP {
            warm = resident_bytes(rift.pid());
        }
    }
    let end = resident_bytes(rift.pid());

    // Still serving, on the same socket.
    let mut sink = sender.await.expect("sender");
    sink.send(Message::text("Analyze data for task 101 with data: [1, 2]"))
        .await
        .expect("send");
    let good = next_reply(&mut stream).await;
    assert!(
        good.to_text()
            .expect("text")
            .contains(r#""summary": "Analyzed 2 items""#)
    );

    eprintln!(
        "flood: {FRAMES} bad frames, one error frame each; server RSS {} KiB after {WARM_UP}, \
         {} KiB after {FRAMES}",
        warm / 1024,
        end / 1024
    );
    assert!(
        end <= warm + FLAT,
        "resident memory grew from {warm} to {end} bytes"
    );
}
