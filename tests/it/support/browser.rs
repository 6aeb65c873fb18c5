//! A real headless Chromium, driven over its own DevTools protocol (CDP) on a WebSocket.
//!
//! CDP is what Playwright and Puppeteer speak to Chromium; the few commands the dashboard test
//! needs (open a page, evaluate JavaScript, type, press Enter, take a screenshot) fit in this
//! file over `tokio-tungstenite`, which the tests already use: no chromedriver, no Node, no new
//! crate. Chromium picks its own debugging port (`--remote-debugging-port=0`) and prints the
//! address on stderr, which is read to know it is ready: no fixed port, no sleep.
//!
//! Chromium comes from `RIFT_CHROMIUM`, else `PATH`; missing, the test fails with how to
//! install it.

use std::{
    collections::VecDeque,
    env,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use base64::Engine as _;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    net::TcpStream,
    process::{Child, Command},
};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async, tungstenite::Message};

/// Longest a condition on the page is waited for: it covers a reconnect after the longest
/// backoff (5 s) on a loaded two-core machine.
pub(crate) const WAIT: Duration = Duration::from_secs(30);

/// How long Chromium gets to print its DevTools address.
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(60);

/// The Chromium binary: `RIFT_CHROMIUM`, else `chromium` (Debian) or `chromium-browser` on
/// `PATH`.
pub(crate) fn chromium() -> PathBuf {
    if let Some(path) = env::var_os("RIFT_CHROMIUM") {
        return PathBuf::from(path);
    }
    let found = env::var_os("PATH").and_then(|paths| {
        env::split_paths(&paths)
            .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
            .find(|candidate| candidate.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "chromium not found. Run `bash scripts/test.sh` (installs it with apt), or \
             `sudo apt-get install chromium`, or set RIFT_CHROMIUM to a Chromium or Chrome binary."
        )
    })
}

/// One headless Chromium with one page, killed on drop.
pub(crate) struct Page {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    session: String,
    next_id: u64,
    /// Events read while waiting for a response, oldest first.
    events: VecDeque<Value>,
    /// Uncaught exceptions and `console.error` calls of the page.
    errors: Vec<String>,
    /// Text of every WebSocket frame the page sent, oldest first.
    frames_sent: Vec<String>,
    child: Child,
    /// A fresh profile, removed after the browser is gone.
    _profile: TempDir,
}

impl Page {
    /// Starts Chromium and opens `url` in it; returns once the page has loaded.
    pub(crate) async fn open(url: &str) -> Self {
        let profile = tempfile::Builder::new()
            .prefix("rift-chromium-")
            .tempdir()
            .expect("create a Chromium profile directory");
        let mut child = Command::new(chromium())
            // The machine's network is closed: without these, Chromium waits on Google hosts.
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--disable-dev-shm-usage",
                "--no-proxy-server",
                "--window-size=1280,960",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", chromium().display()));
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let mut seen = Vec::new();
        let address = tokio::time::timeout(LAUNCH_TIMEOUT, async {
            while let Some(line) = lines.next_line().await.expect("read Chromium's stderr") {
                if let Some(address) = line.strip_prefix("DevTools listening on ") {
                    return address.trim().to_owned();
                }
                seen.push(line);
            }
            panic!(
                "Chromium exited before listening; stderr:\n{}",
                seen.join("\n")
            );
        })
        .await
        .unwrap_or_else(|_| panic!("Chromium did not start within {LAUNCH_TIMEOUT:?}"));
        // Keep draining stderr so Chromium never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

        let (socket, _) = connect_async(&address)
            .await
            .unwrap_or_else(|error| panic!("connect to DevTools at {address}: {error}"));
        let mut page = Self {
            socket,
            session: String::new(),
            next_id: 0,
            events: VecDeque::new(),
            errors: Vec::new(),
            frames_sent: Vec::new(),
            child,
            _profile: profile,
        };
        let target = page
            .browser_call("Target.createTarget", json!({ "url": "about:blank" }))
            .await;
        let attached = page
            .browser_call(
                "Target.attachToTarget",
                json!({ "targetId": target["targetId"], "flatten": true }),
            )
            .await;
        page.session = attached["sessionId"]
            .as_str()
            .expect("session id")
            .to_owned();
        page.call("Page.enable", json!({})).await;
        page.call("Runtime.enable", json!({})).await;
        page.call("Network.enable", json!({})).await;
        page.navigate(url).await;
        page
    }

    /// Loads `url` and waits for its load event.
    pub(crate) async fn navigate(&mut self, url: &str) {
        self.events.clear();
        let navigated = self.call("Page.navigate", json!({ "url": url })).await;
        if let Some(error) = navigated["errorText"].as_str() {
            panic!("cannot load {url}: {error}");
        }
        self.event("Page.loadEventFired").await;
    }

    /// Evaluates `expression` in the page, awaiting it if it is a promise; its value as JSON.
    pub(crate) async fn evaluate(&mut self, expression: &str) -> Result<Value, String> {
        let evaluated = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": expression, "awaitPromise": true, "returnByValue": true }),
            )
            .await;
        if let Some(exception) = evaluated.get("exceptionDetails") {
            let text = exception["exception"]["description"]
                .as_str()
                .or(exception["text"].as_str())
                .unwrap_or("exception");
            return Err(text.to_owned());
        }
        Ok(evaluated["result"]["value"].clone())
    }

    /// Waits until the JavaScript `predicate` is truthy, re-checking on every change to the
    /// document (a `MutationObserver`, no polling), at most [`WAIT`]; returns its value.
    /// On timeout the test fails with `what`, the page's text and its errors.
    pub(crate) async fn wait_for(&mut self, what: &str, predicate: &str) -> Value {
        let expression = format!(
            r#"new Promise((resolve, reject) => {{
                const check = () => {{ try {{ return ({predicate}); }} catch (e) {{ return undefined; }} }};
                const observer = new MutationObserver(() => {{
                    const value = check();
                    if (value) {{ observer.disconnect(); clearTimeout(timer); resolve(value); }}
                }});
                const timer = setTimeout(() => {{ observer.disconnect(); reject(new Error("timed out")); }}, {timeout});
                const value = check();
                if (value) {{ observer.disconnect(); clearTimeout(timer); resolve(value); return; }}
                observer.observe(document, {{ subtree: true, childList: true, attributes: true, characterData: true }});
            }})"#,
            timeout = WAIT.as_millis(),
        );
        match self.evaluate(&expression).await {
            Ok(value) => value,
            Err(error) => {
                let text = self
                    .evaluate("document.body.innerText")
                    .await
                    .unwrap_or_default();
                panic!(
                    "waiting for {what} ({error}); page errors: {:?}; page text:\n{}",
                    self.errors,
                    text.as_str().unwrap_or_default()
                );
            }
        }
    }

    /// Types `text` into the element `selector` as keyboard input.
    pub(crate) async fn type_into(&mut self, selector: &str, text: &str) {
        let focused = self
            .evaluate(&format!(
                "(() => {{ const e = document.querySelector({selector:?}); e.focus(); return document.activeElement === e; }})()"
            ))
            .await;
        assert_eq!(focused, Ok(Value::Bool(true)), "focus {selector}");
        self.call("Input.insertText", json!({ "text": text })).await;
    }

    /// Presses and releases Enter in the focused element.
    pub(crate) async fn press_enter(&mut self) {
        let key = json!({
            "key": "Enter",
            "code": "Enter",
            "windowsVirtualKeyCode": 13,
            "nativeVirtualKeyCode": 13,
        });
        let mut down = key.clone();
        down["type"] = "keyDown".into();
        down["text"] = "\r".into();
        let mut up = key;
        up["type"] = "keyUp".into();
        self.call("Input.dispatchKeyEvent", down).await;
        self.call("Input.dispatchKeyEvent", up).await;
    }

    /// Saves a PNG of the viewport at `path`.
    pub(crate) async fn screenshot(&mut self, path: &Path) {
        let shot = self
            .call("Page.captureScreenshot", json!({ "format": "png" }))
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("screenshot data"))
            .expect("screenshot base64");
        std::fs::write(path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    /// The WebSocket frames the page has sent so far, as text.
    pub(crate) async fn frames_sent(&mut self) -> Vec<String> {
        // Events come in order: whatever the page sent before this call is read by its end.
        self.evaluate("0").await.expect("evaluate");
        self.frames_sent.clone()
    }

    /// Uncaught exceptions and `console.error` calls seen so far.
    pub(crate) fn errors(&self) -> &[String] {
        &self.errors
    }

    /// Closes the browser and waits for it to exit.
    pub(crate) async fn close(mut self) {
        let id = self.send(None, "Browser.close", json!({})).await;
        // The browser may go before it answers; either way it is closing.
        let _ = tokio::time::timeout(WAIT, self.response(id)).await;
        let _ = tokio::time::timeout(WAIT, self.child.wait()).await;
    }

    async fn call(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        let id = self.send(Some(&session), method, params).await;
        self.response(id)
            .await
            .unwrap_or_else(|error| panic!("{method}: {error}"))
    }

    async fn browser_call(&mut self, method: &str, params: Value) -> Value {
        let id = self.send(None, method, params).await;
        self.response(id)
            .await
            .unwrap_or_else(|error| panic!("{method}: {error}"))
    }

    async fn send(&mut self, session: Option<&str>, method: &str, params: Value) -> u64 {
        self.next_id += 1;
        let mut message = json!({ "id": self.next_id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = session.into();
        }
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .unwrap_or_else(|error| panic!("send {method} to Chromium: {error}"));
        self.next_id
    }

    /// Reads until the response to `id`, keeping the events that come first.
    async fn response(&mut self, id: u64) -> Result<Value, String> {
        loop {
            let message = self.read().await?;
            if message["id"].as_u64() == Some(id) {
                return match message.get("error") {
                    Some(error) => Err(error.to_string()),
                    None => Ok(message["result"].clone()),
                };
            }
            if message.get("method").is_some() {
                self.note(&message);
                self.events.push_back(message);
            }
        }
    }

    /// Waits for the event `method` of this page.
    async fn event(&mut self, method: &str) -> Value {
        if let Some(at) = self.events.iter().position(|e| e["method"] == method) {
            return self.events.remove(at).expect("event");
        }
        tokio::time::timeout(WAIT, async {
            loop {
                let message = self.read().await.expect("read from Chromium");
                if message.get("method").is_some() {
                    self.note(&message);
                    if message["method"] == method {
                        return message;
                    }
                    self.events.push_back(message);
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no {method} within {WAIT:?}"))
    }

    async fn read(&mut self) -> Result<Value, String> {
        loop {
            match self.socket.next().await {
                Some(Ok(Message::Text(text))) => {
                    return serde_json::from_str(&text).map_err(|e| e.to_string());
                }
                Some(Ok(_)) => continue,
                Some(Err(error)) => return Err(format!("DevTools connection: {error}")),
                None => return Err("DevTools connection closed".into()),
            }
        }
    }

    /// Keeps the page's errors for the test to report.
    fn note(&mut self, event: &Value) {
        let params = &event["params"];
        match event["method"].as_str() {
            Some("Runtime.exceptionThrown") => {
                let details = &params["exceptionDetails"];
                self.errors.push(
                    details["exception"]["description"]
                        .as_str()
                        .or(details["text"].as_str())
                        .unwrap_or("exception")
                        .to_owned(),
                );
            }
            Some("Runtime.consoleAPICalled") if params["type"] == "error" => {
                self.errors.push(params["args"].to_string());
            }
            Some("Network.webSocketFrameSent") => {
                if let Some(text) = params["response"]["payloadData"].as_str() {
                    self.frames_sent.push(text.to_owned());
                }
            }
            _ => {}
        }
    }
}
