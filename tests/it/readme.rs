//! The README works as written: its commands, taken out of README.md, run against a live Rift
//! with real grpcurl, websocat and bash, and what they print is compared with what the README
//! shows.
//!
//! Only the addresses change: the README's `127.0.0.1:50051` and `127.0.0.1:8000` become the
//! ports the test's Rift was given (tests never bind fixed ports), and `cargo run --release --`
//! becomes the `rift` binary already built. Sessions run in the README's order on one server,
//! so versions come out as the README says. Where the README elides (`...`, `…`), what it shows
//! before and after the elision must match. The Python and TypeScript snippets are tested by
//! the clients' own suites (`clients/python/tests/test_readme.py`,
//! `clients/typescript/test/readme.test.ts`).

use std::{
    net::SocketAddr,
    os::unix::fs::PermissionsExt as _,
    path::{Path, PathBuf},
    process::{Output, Stdio},
    time::Duration,
};

use serde_json::Value;
use tokio::{
    io::{AsyncBufReadExt as _, BufReader},
    process::Command,
};

use crate::{
    support::{
        rift::{RiftProcess, TestRift},
        tools,
        ws::WsClient,
    },
    websocat::Websocat,
};

const README: &str = include_str!("../../README.md");

/// One fenced code block: its language and its lines.
struct Block {
    lang: String,
    lines: Vec<String>,
}

/// The text of the `## heading` section and its code blocks, in order.
fn section(heading: &str) -> (String, Vec<Block>) {
    let start = README
        .find(&format!("\n## {heading}\n"))
        .unwrap_or_else(|| panic!("README has no section {heading:?}"));
    let body = &README[start + 1..];
    let end = body[3..].find("\n## ").map_or(body.len(), |end| end + 3);
    let text = body[..end].to_owned();
    let mut blocks = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some(lang) = line.strip_prefix("```") {
            let lines = lines
                .by_ref()
                .take_while(|line| !line.starts_with("```"))
                .map(str::to_owned)
                .collect();
            blocks.push(Block {
                lang: lang.to_owned(),
                lines,
            });
        }
    }
    (text, blocks)
}

/// The inline code spans of `text`, in order.
fn spans(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// The first span of `text` that starts with `prefix`.
fn span<'a>(text: &'a str, prefix: &str) -> &'a str {
    spans(text)
        .into_iter()
        .find(|span| span.starts_with(prefix))
        .unwrap_or_else(|| panic!("README has no `{prefix}...`"))
}

/// The lines of a shell block as commands: comments and blanks dropped, `\` continuations
/// joined.
fn commands(block: &Block) -> Vec<String> {
    let mut commands = Vec::new();
    let mut pending = String::new();
    for line in &block.lines {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(start) => pending.push_str(start),
            None => {
                pending.push_str(line);
                commands.push(std::mem::take(&mut pending));
            }
        }
    }
    commands
}

/// Where the test's Rift is, for the README's addresses.
#[derive(Clone, Copy)]
struct Addresses {
    grpc: SocketAddr,
    http: SocketAddr,
}

impl Addresses {
    fn of(rift: &TestRift) -> Self {
        Self {
            grpc: rift.grpc_addr,
            http: rift.http_addr,
        }
    }

    fn at(&self, text: &str) -> String {
        text.replace("127.0.0.1:50051", &self.grpc.to_string())
            .replace("127.0.0.1:8000", &self.http.to_string())
    }
}

/// `PATH` with grpcurl, websocat and the `rift` binary first.
fn path() -> String {
    let dirs: Vec<PathBuf> = [
        tools::grpcurl(),
        tools::websocat(),
        PathBuf::from(env!("CARGO_BIN_EXE_rift")),
    ]
    .iter()
    .filter_map(|tool| tool.parent().map(Path::to_path_buf))
    .chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ))
    .collect();
    std::env::join_paths(dirs)
        .expect("PATH")
        .to_string_lossy()
        .into_owned()
}

fn bash(script: &str, cwd: &Path) -> Command {
    let mut command = Command::new("bash");
    command
        .args(["-c", script])
        .current_dir(cwd)
        .env("PATH", path())
        .env_remove("RIFT_ADDR")
        .env_remove("RIFT_TOKEN")
        .kill_on_drop(true);
    command
}

/// Runs `script` with bash in `cwd`; its output, stdout then stderr.
async fn run(script: &str, cwd: &Path, env: &[(&str, &str)]) -> (Output, String) {
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        bash(script, cwd).envs(env.iter().copied()).output(),
    )
    .await
    .unwrap_or_else(|_| panic!("{script} did not finish within 60 s"))
    .expect("run bash");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output, text)
}

/// Runs `script` and fails the test unless it succeeds; its stdout.
async fn succeed(script: &str, cwd: &Path, env: &[(&str, &str)]) -> String {
    let (output, text) = run(script, cwd, env).await;
    assert!(
        output.status.success(),
        "{script}\n{}\n{text}",
        output.status
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Whether `actual` is `expected` with its elisions (`...`, `…`) filled in.
fn matches_elided(expected: &str, actual: &str) -> bool {
    let expected = expected.replace('…', "...");
    let parts: Vec<&str> = expected.split("...").collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if parts.len() == 1 {
        return actual == first;
    }
    if !actual.starts_with(first) || !actual.ends_with(last) {
        return false;
    }
    let mut rest = &actual[first.len()..actual.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

fn assert_elided(expected: &str, actual: &str) {
    assert!(
        matches_elided(expected, actual),
        "the README shows\n  {expected}\nRift answered\n  {actual}"
    );
}

/// The `"key": value` lines of a JSON sample that hold one plain value, as printed.
fn plain_lines(block: &Block) -> Vec<String> {
    block
        .lines
        .iter()
        .map(|line| line.trim().trim_end_matches(',').to_owned())
        .filter(|line| {
            line.starts_with('"')
                && !line.contains('{')
                && !line.contains('[')
                && !line.contains("...")
        })
        .collect()
}

/// Reads the first JSON object a streaming command prints, then stops it.
async fn first_object(script: &str, cwd: &Path) -> Value {
    let mut child = bash(script, cwd)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut text = String::new();
    let read = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.expect("read") {
            text.push_str(&line);
            text.push('\n');
            if line == "}" {
                return;
            }
        }
    })
    .await;
    child.kill().await.expect("stop the stream");
    assert!(
        read.is_ok(),
        "{script}: no object within 30 s; printed:\n{text}"
    );
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{script} printed ({e}):\n{text}"))
}

/// A notification as the README shows it and as Rift sent it: equal but for `id` and `time`,
/// which differ per run and are only checked for their form.
fn assert_same_notification(shown: &Value, sent: &Value) {
    let strip = |value: &Value| {
        let mut value = value.clone();
        let object = value.as_object_mut().expect("an object");
        let id = object.remove("id");
        let time = object.remove("time");
        (value, id, time)
    };
    let (shown_rest, _, _) = strip(shown);
    let (sent_rest, id, time) = strip(sent);
    assert_eq!(
        shown_rest, sent_rest,
        "the README shows {shown}, Rift sent {sent}"
    );
    let id = id
        .and_then(|id| id.as_str().map(str::to_owned))
        .unwrap_or_default();
    assert!(
        id.split_once('-')
            .is_some_and(|(ms, seq)| ms.parse::<u64>().is_ok() && seq.parse::<u64>().is_ok()),
        "{sent}"
    );
    assert!(
        time.and_then(|time| time.as_str().map(|time| time.ends_with('Z')))
            .unwrap_or(false),
        "{sent}"
    );
}

#[tokio::test]
async fn the_grpcurl_then_the_websocat_sessions_answer_as_the_readme_shows() {
    let rift = TestRift::in_process().await;
    let at = Addresses::of(&rift);
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));

    // grpcurl: the six commands, then what Analyze, Narrate and Progress answer.
    let (text, blocks) = section("Using it with grpcurl");
    let langs: Vec<&str> = blocks.iter().map(|block| block.lang.as_str()).collect();
    assert_eq!(
        langs,
        ["sh", "json", "sh", "json", "text"],
        "grpcurl section blocks"
    );
    let mut analyze_command = String::new();
    let mut printed = Vec::new();
    for command in commands(&blocks[0]) {
        if command.contains("/Analyze") {
            analyze_command = at.at(&command);
        }
        printed.push((command.clone(), succeed(&at.at(&command), here, &[]).await));
    }
    let answer_of = |method: &str| {
        printed
            .iter()
            .find(|(command, _)| command.contains(method))
            .map(|(_, output)| output.clone())
            .unwrap_or_else(|| panic!("no {method} command in the README"))
    };
    let analysis = answer_of("/Analyze");
    for line in plain_lines(&blocks[1]) {
        assert!(
            analysis.contains(&line),
            "Analyze lacks {line}:\n{analysis}"
        );
    }
    let narrative = span(&text, "\"narrative\": ");
    assert!(answer_of("/Narrate").contains(narrative), "{narrative}");
    let status = span(&text, "\"status\": ");
    assert!(answer_of("/Progress").contains(status), "{status}");
    assert!(answer_of("rift.v1.Rift").contains("rpc Subscribe"));
    assert!(answer_of("Health/Check").contains("SERVING"));

    // Subscribe from "0": the first notification is the Analyze above, as shown.
    let subscribe = commands(&blocks[2]);
    let first = first_object(&at.at(&subscribe[0]), here).await;
    let shown: Value = serde_json::from_str(&blocks[3].lines.join("\n")).expect("README JSON");
    assert_same_notification(&shown, &first);

    // The error session: the command after `$ `, then exactly what grpcurl prints.
    let session = &blocks[4].lines;
    let command = session[0].strip_prefix("$ ").expect("a `$ ` command");
    let (output, printed) = run(&at.at(command), here, &[]).await;
    assert!(!output.status.success());
    assert_eq!(
        printed.trim_end().lines().collect::<Vec<_>>(),
        session[1..].iter().map(String::as_str).collect::<Vec<_>>(),
        "{command}"
    );

    // websocat: the session, command by command; then a watch; then typed frames.
    let (text, blocks) = section("Using it with websocat");
    let langs: Vec<&str> = blocks.iter().map(|block| block.lang.as_str()).collect();
    assert_eq!(langs, ["text", "text"], "websocat section blocks");
    let session = &blocks[0].lines;
    let url = session[0]
        .strip_prefix("$ websocat ")
        .expect("the session starts with `$ websocat <url>`");
    let mut websocat = Websocat::connect(&at.at(url));
    assert!(
        session.len() % 2 == 1,
        "a command then its reply, line by line"
    );
    for pair in session[1..].chunks(2) {
        let reply = websocat.ask(&pair[0]).await;
        assert_elided(&pair[1], &reply);
    }
    let watch = &blocks[1].lines;
    assert_eq!(websocat.ask(&watch[0]).await, watch[1]);
    // "the grpcurl Analyze above, run again from another terminal"
    succeed(&analyze_command, here, &[]).await;
    let pushed: Value = serde_json::from_str(&websocat.receive().await).expect("JSON");
    let shown: Value = serde_json::from_str(&watch[2]).expect("README JSON");
    assert_same_notification(&shown["notification"], &pushed["notification"]);
    websocat.ask("Stop watching").await;

    let typed = span(&text, "{\"analyze\": ");
    let typed_reply = span(&text, "{\"id\": 7, \"result\"");
    assert_elided(typed_reply, &websocat.ask(typed).await);
    let text_frame = span(&text, "{\"text\": ");
    let named = span(&text, "\"operation\": ");
    let reply = websocat.ask(text_frame).await;
    assert!(reply.contains(named), "{text_frame} answered {reply}");
}

#[tokio::test]
async fn the_tokens_example_works_as_written_with_grpcurl_websocat_and_the_servers_hint() {
    let (text, blocks) = section("Security");
    let block = blocks
        .iter()
        .find(|block| block.lang == "sh")
        .expect("the tokens example");
    let lines = commands(block);
    assert_eq!(lines.len(), 3, "make tokens, serve, call: {lines:?}");
    let dir = tempfile::tempdir().expect("temp dir");

    succeed(&lines[0], dir.path(), &[]).await;
    let tokens_file = dir.path().join("tokens.txt");
    let mode = std::fs::metadata(&tokens_file)
        .expect("tokens.txt")
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "tokens.txt is readable by its owner only"
    );
    let tokens = std::fs::read_to_string(&tokens_file).expect("read tokens.txt");
    let token_of = |role: &str| {
        tokens
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{role} ")))
            .filter(|token| token.len() == 32)
            .unwrap_or_else(|| panic!("no {role} token in\n{tokens}"))
            .to_owned()
    };
    let admin = token_of("admin");
    token_of("writer");

    // `cargo run --release -- serve ... --grpc-addr 0.0.0.0:50051`, on a port of its own.
    let serve = lines[1]
        .replace("cargo run --release --", env!("CARGO_BIN_EXE_rift"))
        .replace("0.0.0.0:50051", "0.0.0.0:0");
    let mut args = serve.split_whitespace();
    let mut command = Command::new(args.next().expect("a program"));
    command
        .args(args)
        .args(["--http-addr", "127.0.0.1:0", "--log-format", "json"])
        .current_dir(dir.path())
        .env_remove("REDIS_URL")
        .env_remove("RIFT_REDIS_URL");
    let rift = RiftProcess::start(command).await;
    assert!(rift.grpc_addr.ip().is_unspecified(), "{serve}");
    let grpc = SocketAddr::from(([127, 0, 0, 1], rift.grpc_addr.port()));

    let call = lines[2].replace("127.0.0.1:50051", &grpc.to_string());
    let answer = succeed(&call, dir.path(), &[]).await;
    assert!(answer.contains("\"taskId\": \"101\""), "{answer}");

    // The websocat form the README gives, with a real token and URL.
    let url = format!("ws://{}/ws", rift.http_addr);
    let example = span(&text, "websocat -H");
    let works = |example: &str| {
        example
            .replace("<token>", &admin)
            .replace("ws://…/ws", &url)
            .replace("ws://.../ws", &url)
    };
    let mut websocat = Websocat::spawn(bash(&works(example), dir.path()));
    assert!(
        websocat.ask("help").await.starts_with("Commands"),
        "{example}"
    );

    // Without a token the upgrade is refused, and its body says how to connect; that command
    // works too.
    let refused = match WsClient::try_connect_with_headers(rift.http_addr, &[]).await {
        Err(refused) => refused,
        Ok(_) => panic!("an upgrade without a token is refused"),
    };
    assert_eq!(refused.status, 401, "{refused:?}");
    let error = crate::support::json(&refused.body)["error"].clone();
    assert_eq!(error["code"], "UNAUTHENTICATED", "{error}");
    let hint = error["hint"].as_str().expect("a hint");
    let start = hint.find("websocat ").expect("the hint names websocat");
    let end = hint[start..].find("/ws").expect("and a URL") + start + "/ws".len();
    let mut websocat = Websocat::spawn(bash(&works(&hint[start..end]), dir.path()));
    assert!(websocat.ask("help").await.starts_with("Commands"), "{hint}");
}

#[tokio::test]
async fn the_command_line_client_runs_as_written() {
    let rift = TestRift::in_process().await;
    let (_, blocks) = section("Clients");
    let block = blocks
        .iter()
        .find(|block| {
            block
                .lines
                .first()
                .is_some_and(|line| line.contains("cargo build"))
        })
        .expect("the command-line client block");
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let addr = rift.grpc_addr.to_string();
    // The first line builds and puts target/release on PATH; the test's binary stands in.
    for command in &commands(block)[1..] {
        let printed = succeed(command, here, &[("RIFT_ADDR", &addr)]).await;
        assert!(!printed.is_empty(), "{command} printed nothing");
        if let Some(count) = command.split("--count ").nth(1) {
            let count: usize = count.trim().parse().expect("a count");
            assert_eq!(printed.lines().count(), count, "{command}:\n{printed}");
        }
    }
}

#[tokio::test]
async fn the_access_log_and_a_traced_call_log_as_the_readme_shows() {
    let (text, blocks) = section("Metrics and logs");
    let shells: Vec<&Block> = blocks.iter().filter(|block| block.lang == "sh").collect();
    assert_eq!(shells.len(), 2, "the access log and the traces blocks");
    let sample = blocks
        .iter()
        .find(|block| block.lang == "json")
        .expect("the access line sample");
    let sample: Value = serde_json::from_str(&sample.lines.join("").replace("[…]", "[]"))
        .expect("the sample is JSON but for its elided span list");

    // The traces block's serve command, minus the exporter (tests/it/traces.rs covers it:
    // nothing listens on the README's collector port here).
    let serve = commands(shells[1])[0]
        .split_whitespace()
        .filter(|word| !word.starts_with("OTEL_EXPORTER_OTLP_ENDPOINT="))
        .map(str::to_owned)
        .collect::<Vec<_>>();
    let access = commands(shells[0])[0].clone();
    assert!(
        serve.join(" ").ends_with(&access),
        "the traces block serves as the access log block does"
    );
    let (env, program): (Vec<&String>, Vec<&String>) =
        serve.iter().partition(|word| word.contains('='));
    let mut command = Command::new(env!("CARGO_BIN_EXE_rift"));
    assert_eq!(program[0], "rift");
    command
        .args(program[1..].iter().map(|word| word.as_str()))
        .args(["--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"])
        .env_remove("REDIS_URL")
        .env_remove("RIFT_REDIS_URL");
    for assignment in env {
        let (name, value) = assignment.split_once('=').expect("NAME=value");
        command.env(name, value);
    }
    let mut rift = RiftProcess::start(command).await;

    let call = commands(shells[1])[1].replace("127.0.0.1:50051", &rift.grpc_addr.to_string());
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    succeed(&call, here, &[]).await;
    let logged = rift
        .log_line("the traced Analyze's access line", |record| {
            record["target"] == "rift::access" && record["fields"]["operation"] == "Analyze"
        })
        .await;
    let keys = |value: &Value| -> Vec<String> {
        let mut keys: Vec<String> = value
            .as_object()
            .map(|object| object.keys().cloned().collect())
            .unwrap_or_default();
        keys.sort();
        keys
    };
    assert_eq!(keys(&logged), keys(&sample), "{logged}");
    assert_eq!(keys(&logged["fields"]), keys(&sample["fields"]), "{logged}");
    let span = span(&text, "\"span\":{");
    let shown: Value = serde_json::from_str(&format!(
        "{{{}}}",
        span.replace('…', "").trim_end_matches(',')
    ))
    .expect("the README's span is JSON");
    assert_eq!(keys(&logged["span"]), keys(&shown["span"]), "{logged}");
    assert_eq!(
        logged["span"]["trace_id"], shown["span"]["trace_id"],
        "{logged}"
    );
    rift.kill().await;
}

#[tokio::test]
async fn the_completions_and_man_pages_install_as_written() {
    let (text, blocks) = section("Deployment");
    assert!(text.contains("### Shell completions and man pages"));
    let block = blocks
        .iter()
        .find(|block| {
            block
                .lines
                .iter()
                .any(|line| line.starts_with("rift completions"))
        })
        .expect("the install commands");
    let root = tempfile::tempdir().expect("temp dir");
    let prefix = root.path().to_str().expect("UTF-8 path");
    for command in commands(block) {
        // The system's directories, under a temporary root.
        let command = command.replace(" /usr/", &format!(" {prefix}/usr/"));
        if let Some((_, target)) = command.split_once(" > ") {
            let parent = Path::new(target.trim()).parent().expect("a directory");
            std::fs::create_dir_all(parent).expect("create the directory");
        }
        succeed(&command, root.path(), &[]).await;
    }
    for installed in [
        "usr/share/bash-completion/completions/rift",
        "usr/share/fish/vendor_completions.d/rift.fish",
        "usr/local/share/man/man1/rift.1",
        "usr/local/share/man/man1/rift-serve.1",
    ] {
        let file = root.path().join(installed);
        let length = std::fs::metadata(&file)
            .unwrap_or_else(|error| panic!("{}: {error}", file.display()))
            .len();
        assert!(length > 0, "{installed} is empty");
    }
}

#[tokio::test]
async fn the_reads_answer_as_the_readme_shows() {
    let (text, blocks) = section("Reading tasks without writing");
    let langs: Vec<&str> = blocks.iter().map(|block| block.lang.as_str()).collect();
    assert_eq!(
        langs,
        ["sh", "json", "json", "sh", "text"],
        "reads section blocks"
    );
    let rift = TestRift::in_process().await;
    let at = Addresses::of(&rift);
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut printed = Vec::new();
    for command in commands(&blocks[0]) {
        printed.push(succeed(&at.at(&command), here, &[]).await);
    }
    for (shown, answer) in [(&blocks[1], &printed[1]), (&blocks[2], &printed[2])] {
        for line in plain_lines(shown) {
            // Ids and times differ from run to run; their field must be there.
            let line = match line.split_once(": \"1795") {
                Some((field, _)) => field.to_owned(),
                None => line,
            };
            assert!(answer.contains(&line), "lacks {line}:\n{answer}");
        }
    }
    assert!(printed[2].contains("\"asOf\""), "{}", printed[2]);

    let mut ws = WsClient::connect(rift.http_addr).await;
    for command in [
        span(&text, "Show task "),
        span(&text, "List tasks with status "),
    ] {
        assert!(
            ws.command(command).await.contains("\"task_id\": \"202\""),
            "{command}"
        );
    }

    let addr = rift.grpc_addr.to_string();
    let shown = &blocks[4].lines;
    let cli = commands(&blocks[3]);
    let task = succeed(
        &cli[0].replace("cargo run --release --", env!("CARGO_BIN_EXE_rift")),
        here,
        &[("RIFT_ADDR", &addr)],
    )
    .await;
    assert!(task.starts_with(&shown.join("\n")), "{task}");
    let tasks = succeed(
        &cli[1].replace("cargo run --release --", env!("CARGO_BIN_EXE_rift")),
        here,
        &[("RIFT_ADDR", &addr)],
    )
    .await;
    assert!(tasks.starts_with("202\t"), "{tasks}");

    let punctuated = span(&text, "Check progress for task\n101.");
    let reply = ws.command(punctuated).await;
    assert!(
        reply.contains("\"task_id\": \"101\""),
        "{punctuated}: {reply}"
    );
}

#[tokio::test]
async fn the_report_answers_as_the_readme_shows() {
    let (_, blocks) = section("Reports");
    let langs: Vec<&str> = blocks.iter().map(|block| block.lang.as_str()).collect();
    assert_eq!(
        langs,
        ["sh", "json", "sh", "text"],
        "reports section blocks"
    );
    let rift = TestRift::in_process().await;
    let at = Addresses::of(&rift);
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut printed = Vec::new();
    for command in commands(&blocks[0]) {
        printed.push(succeed(&at.at(&command), here, &[]).await);
    }
    for line in plain_lines(&blocks[1]) {
        assert!(printed[1].contains(&line), "lacks {line}:\n{}", printed[1]);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = rift.grpc_addr.to_string();
    let cli = commands(&blocks[2]);
    let output = succeed(
        &cli[0].replace("cargo run --release --", env!("CARGO_BIN_EXE_rift")),
        dir.path(),
        &[("RIFT_ADDR", &addr)],
    )
    .await;
    assert!(output.starts_with(&blocks[3].lines.join("\n")), "{output}");
    let page = std::fs::read_to_string(dir.path().join("report.html")).expect("the page");
    assert!(page.contains("<svg"), "{page}");
}
