// Rift's dashboard: a live task board, the notification feed, a command box and a page per
// task, over the WebSocket adapter's typed frames.
//
// The board starts from ListTasks (every page; it reads without writing), then follows every
// task live from the listing's `as_of`, the newest notification when it began: nothing written
// since is missed, and nothing is replayed that the listing already shows. It remembers the id
// of the last notification it applied and, when the connection drops, reconnects with backoff
// and resumes strictly after that id: nothing is missed, nothing applied twice. The board can
// be filtered by status and searched by id, with counts per status.
//
// A task's page (#task=<id>) shows GetTask with its report: the analysis and its statistics,
// the narrative, the report's charts (SVG Rift rendered, with every label escaped, parsed as
// SVG and never as HTML), and the task's own notification history, from a second connection
// that watches that task from "0".
//
// The page knows no command grammar. What a person types in the box goes to the server as it
// was typed, in a typed frame ({"text": "...", "id": n}); the server's parser reads it and the
// reply, matched by its id, is its result or its error with the server's hint. The list of
// commands under the box is the server's own `help`.
//
// A token in the page's URL (?token=...) goes on the WebSocket as the `bearer.<token>`
// subprotocol next to `rift` (browsers cannot set an Authorization header on a WebSocket), or as
// ?token= when it is not a valid subprotocol name.

const BACKOFF_FIRST_MS = 250;
const BACKOFF_MAX_MS = 5000;
const FEED_LIMIT = 500;
const REPLY_LIMIT = 50;

const $ = (selector) => document.querySelector(selector);

const state = {
  /** task id -> what the notifications and replies said about it */
  tasks: new Map(),
  /** id of the last notification applied; the resume token */
  lastId: null,
  /**
   * Whether the notifications arriving come from the page's own watch of every task. Replies
   * and pushes leave the server in order, so after the reply to a watch the pushes are that
   * watch's: until the page's watch is confirmed, they are not the board's and are dropped.
   */
  following: false,
  notificationCount: 0,
  socket: null,
  /** request id -> the reply's list item, waiting for the answer */
  pending: new Map(),
  nextRequest: 1,
  /** whether the command list under the box has been filled from the server's help */
  helpShown: false,
  backoffMs: BACKOFF_FIRST_MS,
  /** the task whose page is open, and the connection that watches its history */
  page: { taskId: null, socket: null },
  retryTimer: null,
  renderQueued: false,
};

const token = new URLSearchParams(location.search).get("token");

// --- connection ---------------------------------------------------------------------------

function socketUrl() {
  const url = new URL("ws", location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.search = "";
  return url;
}

/** RFC 6455 subprotocols are HTTP tokens. */
const SUBPROTOCOL_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function connect() {
  clearTimeout(state.retryTimer);
  setConnection("connecting", "connecting…");
  const url = socketUrl();
  const protocols = ["rift"];
  if (token) {
    if (SUBPROTOCOL_TOKEN.test(token)) {
      protocols.push(`bearer.${token}`);
    } else {
      url.searchParams.set("token", token);
    }
  }
  let socket;
  try {
    socket = new WebSocket(url, protocols);
  } catch (error) {
    setConnection("offline", `cannot connect: ${error.message}`);
    return;
  }
  state.socket = socket;
  let opened = false;
  socket.addEventListener("open", () => {
    opened = true;
    start(socket);
  });
  socket.addEventListener("message", (event) => onFrame(event.data));
  socket.addEventListener("close", (event) => {
    if (state.socket !== socket) return;
    state.socket = null;
    state.following = false;
    for (const pending of state.pending.values()) {
      if (pending.entry) {
        showError(pending, { code: "UNAVAILABLE", message: "the connection closed before the reply", hint: "it may or may not have run: the board will show it once the page is live again" });
      }
    }
    state.pending.clear();
    if (!opened) {
      explainRefusal(url);
      return;
    }
    retry(`connection lost${event.code ? ` (${event.code})` : ""}`);
  });
}

/**
 * A socket that never opened: the server may have refused its token at the upgrade, which a
 * browser does not show the page. The same URL over a plain GET, with the same token, gets the
 * refusal's error frame (401/403); anything else is worth retrying.
 */
async function explainRefusal(url) {
  const http = new URL(url);
  http.protocol = http.protocol === "wss:" ? "https:" : "http:";
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  try {
    const response = await fetch(http, { headers, cache: "no-store" });
    if (response.status === 401 || response.status === 403) {
      const { code, message } = (await response.json()).error;
      // Retrying will not help: say so and stay put.
      setConnection("refused", `${code}: ${message}`);
      return;
    }
  } catch (_) {
    // Unreachable as well: retry below.
  }
  retry("cannot connect");
}

/** A fresh page lists the tasks, then watches from the listing; a reconnect resumes. */
function start(socket) {
  if (state.lastId) {
    watchEverything(socket);
  } else {
    listTasks(socket, "");
  }
  if (state.page.taskId) showTask(state.page.taskId);
}

/** One page of ListTasks after another; then the watch from the listing's `as_of`. */
function listTasks(socket, pageToken) {
  request(socket, { list_tasks: { page_size: 1000, page_token: pageToken } }, (reply) => {
    if (reply.error) {
      refusedOrRetry(reply.error, "listing refused");
      return;
    }
    const { tasks, next_page_token: next, as_of: asOf } = reply.result;
    if (!pageToken) {
      state.tasks.clear();
      state.listedAsOf = asOf || null;
    }
    tasks.forEach(applySummary);
    scheduleRender();
    if (next) {
      listTasks(socket, next);
    } else {
      state.lastId = state.listedAsOf;
      watchEverything(socket);
    }
  });
}

/** What ListTasks says of a task: the server's own versions. */
function applySummary(summary) {
  const task = taskRecord(summary.task_id);
  task.hasAnalysis = summary.status !== "not-started";
  task.analysisVersion = summary.analysis_version;
  task.hasNarrative = summary.status === "completed" || summary.status === "stale";
  task.narrativeVersion = summary.narrative_analysis_version;
  task.reportVersion = summary.report?.analysis_version ?? 0;
  task.lastTime = summary.last_change;
}

function refusedOrRetry({ code, message }, why) {
  if (code === "UNAUTHENTICATED" || code === "PERMISSION_DENIED") {
    // Retrying will not help: say so and stay put.
    setConnection("refused", `${code}: ${message}`);
  } else {
    retry(`${why}: ${code}`);
  }
}

/** Reconnects after the current backoff, doubling it (with jitter) for next time. */
function retry(why) {
  const delay = Math.round(state.backoffMs * (0.8 + 0.4 * Math.random()));
  state.backoffMs = Math.min(state.backoffMs * 2, BACKOFF_MAX_MS);
  setConnection("reconnecting", `${why}; reconnecting in ${(delay / 1000).toFixed(1)} s`);
  clearTimeout(state.retryTimer);
  state.retryTimer = setTimeout(() => {
    if (state.socket) {
      start(state.socket);
    } else {
      connect();
    }
  }, delay);
}

/** Follows every task from the last notification applied ("0": everything retained). */
function watchEverything(socket) {
  const after = state.lastId ?? "0";
  state.following = false;
  request(socket, { watch: { task_id: "", after } }, (reply) => {
    if (reply.error) {
      refusedOrRetry(reply.error, "watch refused");
      return;
    }
    state.following = true;
    state.backoffMs = BACKOFF_FIRST_MS;
    setConnection("live", "live");
    if (!state.helpShown) showCommands(socket);
  });
}

/** Lists the server's commands under the box, from its `help`. */
function showCommands(socket) {
  request(socket, { help: {} }, (reply) => {
    const commands = reply.result?.commands;
    if (!commands?.length) return;
    state.helpShown = true;
    const list = $("#command-forms");
    list.replaceChildren();
    commands.forEach(({ grammar }, i) => {
      if (i > 0) list.append(" · ");
      list.append(element("code", {}, grammar));
    });
    $("#command-input").placeholder = commands[0].example;
  });
}

function setConnection(kind, text) {
  const element = $("#connection");
  element.dataset.state = kind;
  element.textContent = text;
}

// --- frames ---------------------------------------------------------------------------------

function onFrame(data) {
  let frame;
  try {
    frame = JSON.parse(data);
  } catch {
    console.warn("not a JSON frame", data);
    return;
  }
  if (frame.notification) {
    if (state.following) applyNotification(frame.notification);
  } else if (frame.watch_ended) {
    // The watch stopped on an error (memory unavailable during replay): pick it up again.
    addSystemEntry(`watch ended: ${frame.watch_ended.error.message}`);
    retry("watch ended");
  } else if ("id" in frame && state.pending.has(frame.id)) {
    const pending = state.pending.get(frame.id);
    state.pending.delete(frame.id);
    pending.onReply(frame);
  } else if (frame.error) {
    addSystemEntry(`error: ${frame.error.message}`);
  }
}

/** Sends a typed request; `onReply` gets `{result}` or `{error}` (and `operation` for text). */
function request(socket, body, onReply) {
  const id = state.nextRequest++;
  state.pending.set(id, { onReply });
  socket.send(JSON.stringify({ ...body, id }));
  return id;
}

// --- notifications --------------------------------------------------------------------------

/** Compares two notification ids (`<ms>-<seq>`, 64-bit parts). */
function compareIds(a, b) {
  const [aMs, aSeq = "0"] = a.split("-");
  const [bMs, bSeq = "0"] = b.split("-");
  const ms = BigInt(aMs) - BigInt(bMs);
  if (ms !== 0n) return ms < 0n ? -1 : 1;
  const seq = BigInt(aSeq) - BigInt(bSeq);
  return seq === 0n ? 0 : seq < 0n ? -1 : 1;
}

function taskRecord(taskId) {
  let task = state.tasks.get(taskId);
  if (!task) {
    task = {
      taskId,
      hasAnalysis: false,
      analysisVersion: 0,
      hasNarrative: false,
      narrativeVersion: 0,
      summary: "",
      reportVersion: 0,
      completionRecorded: false,
      lastAction: "",
      lastTime: "",
    };
    state.tasks.set(taskId, task);
  }
  return task;
}

/** Notices that the history the board was built from is gone: everything it now holds follows. */
const HISTORY_LOST = new Set(["history_reset", "history_diverged"]);

function applyNotification(notification) {
  if (HISTORY_LOST.has(notification.action)) {
    // Everything the history holds follows, from id "0-0" on, with ids that may be below the
    // last one seen: the board starts again from it.
    state.tasks.clear();
    state.lastId = null;
  }
  // Resuming strictly after the last id means this never happens; if a server ever did send
  // an old id again, applying it twice would corrupt the board.
  if (state.lastId && compareIds(notification.id, state.lastId) <= 0) return;
  state.lastId = notification.id;
  state.notificationCount += 1;
  const { task_id: taskId, action, payload = {} } = notification;
  if (action === "history_truncated") {
    addSystemEntry("older notifications were trimmed from the history; the board may lack tasks");
  } else if (HISTORY_LOST.has(action)) {
    addSystemEntry(`the server lost history (${action}); the board is rebuilt from what it holds`);
  } else if (action === "task_deleted") {
    state.tasks.delete(taskId);
  } else if (taskId) {
    const task = taskRecord(taskId);
    task.lastAction = action;
    task.lastTime = notification.time;
    if (action === "analysis_stored") {
      task.hasAnalysis = true;
      task.analysisVersion = payload.version ?? task.analysisVersion + 1;
      task.summary = payload.summary ?? "";
      // A new analysis removes the completion record (TaskAgent:progress).
      task.completionRecorded = false;
    } else if (action === "narrative_stored") {
      task.hasNarrative = true;
      task.narrativeVersion = payload.analysis_version ?? 0;
    } else if (action === "progress_completed") {
      task.completionRecorded = true;
    } else if (action === "report_stored") {
      task.reportVersion = payload.analysis_version ?? 0;
    }
  }
  addFeedEntry(notification);
  scheduleRender();
  if (taskId && taskId === state.page.taskId) showTask(taskId);
}

/** The status TaskAgent would report (TaskStatus::of). */
function statusOf(task) {
  if (!task.hasAnalysis) return "not-started";
  if (!task.hasNarrative) return "in-progress";
  return task.narrativeVersion >= task.analysisVersion ? "completed" : "stale";
}

// --- rendering ------------------------------------------------------------------------------

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "class") node.className = value;
    else if (name.startsWith("data-")) node.dataset[camel(name.slice(5))] = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function camel(name) {
  return name.replace(/-([a-z])/g, (_, letter) => letter.toUpperCase());
}

function scheduleRender() {
  if (state.renderQueued) return;
  state.renderQueued = true;
  setTimeout(render, 0);
}

const STATUSES = ["not-started", "in-progress", "completed", "stale"];

function render() {
  state.renderQueued = false;
  const tasks = [...state.tasks.values()].sort((a, b) =>
    a.taskId.localeCompare(b.taskId, undefined, { numeric: true }),
  );
  const wanted = $("#status-filter").value;
  const search = $("#task-search").value.trim();
  const counts = Object.fromEntries(STATUSES.map((status) => [status, 0]));
  const rows = tasks.map((task) => {
    const status = statusOf(task);
    counts[status] += 1;
    const open = element("a", { href: `#task=${encodeURIComponent(task.taskId)}`, class: "open" }, task.taskId);
    const check = element("button", { type: "button", title: "Check this task's progress" }, "Check");
    check.addEventListener("click", () => {
      const body = { progress: { task_id: task.taskId } };
      send(JSON.stringify(body), body);
    });
    return element(
      "tr",
      {
        "data-task": task.taskId,
        "data-status": status,
        "data-analysis-version": String(task.analysisVersion),
        "data-narrative-version": task.hasNarrative ? String(task.narrativeVersion) : "",
      },
      element("th", { scope: "row" }, open),
      element(
        "td",
        {},
        element("span", { class: `status status-${status}` }, status),
        task.completionRecorded ? element("span", { class: "recorded", title: "TaskAgent recorded completion" }, " ✓") : "",
      ),
      element("td", { class: "number" }, task.hasAnalysis ? `v${task.analysisVersion}` : "—"),
      element(
        "td",
        { class: "number" },
        task.hasNarrative ? `on v${task.narrativeVersion}` : "—",
        status === "stale" ? element("span", { class: "stale-mark", title: "built on an older analysis" }, ` · ${task.analysisVersion - task.narrativeVersion} behind`) : "",
      ),
      element("td", {}, task.summary, task.reportVersion ? element("span", { class: "report-mark", title: "has a report" }, ` · report on v${task.reportVersion}`) : ""),
      element("td", { class: "muted" }, task.lastAction ? `${task.lastAction} · ${clock(task.lastTime)}` : ""),
      element("td", {}, check),
    );
  });
  for (const row of rows) {
    row.hidden =
      (wanted !== "" && row.dataset.status !== wanted) || (search !== "" && !row.dataset.task.includes(search));
  }
  $("#board tbody").replaceChildren(...rows);
  $("#board-empty").hidden = rows.length > 0;
  for (const status of STATUSES) $(`#count-${status}`).textContent = String(counts[status]);
  $("#count-all").textContent = String(tasks.length);
  $("#feed-count").textContent = String(state.notificationCount);
  $("#last-id").textContent = state.lastId ?? "none yet";
}

function clock(time) {
  const date = new Date(time);
  if (Number.isNaN(date.getTime())) return "";
  return `${date.toLocaleTimeString([], { hour12: false })}.${String(date.getMilliseconds()).padStart(3, "0")}`;
}

function describe(notification) {
  const { action, payload = {} } = notification;
  if (action === "analysis_stored") return `${payload.summary ?? ""} · v${payload.version ?? "?"}`;
  if (action === "narrative_stored") return `narrative on v${payload.analysis_version ?? "?"}`;
  if (action === "progress_completed") return `completed on v${payload.analysis_version ?? "?"}`;
  if (action === "task_deleted") return "deleted";
  if (action === "report_stored") return `report on v${payload.analysis_version ?? "?"}`;
  return JSON.stringify(payload);
}

function addFeedEntry(notification) {
  const feed = $("#feed");
  const entry = element(
    "li",
    { "data-id": notification.id, "data-task": notification.task_id, "data-action": notification.action },
    element("time", { datetime: notification.time }, clock(notification.time)),
    element("span", { class: "task" }, notification.task_id || "—"),
    element("span", { class: "agent" }, notification.agent),
    element("span", { class: "action" }, notification.action),
    element("span", { class: "detail" }, describe(notification)),
    element("code", { class: "id" }, notification.id),
  );
  feed.prepend(entry);
  while (feed.children.length > FEED_LIMIT) feed.lastElementChild.remove();
}

function addSystemEntry(text) {
  const feed = $("#feed");
  feed.prepend(element("li", { class: "system" }, text));
  while (feed.children.length > FEED_LIMIT) feed.lastElementChild.remove();
}

// --- a task's page --------------------------------------------------------------------------

function taskFromHash() {
  const match = /^#task=(.+)$/.exec(location.hash);
  return match ? decodeURIComponent(match[1]) : null;
}

function onHash() {
  const taskId = taskFromHash();
  if (taskId === state.page.taskId) return;
  closeHistory();
  state.page.taskId = taskId;
  $("#task-page").hidden = taskId === null;
  if (taskId === null) return;
  $("#task-history").replaceChildren();
  $("#task-details").replaceChildren(element("p", { class: "muted" }, "loading…"));
  showTask(taskId);
  openHistory(taskId);
}

/** Reads the task (with its report) and shows it; writes nothing. */
function showTask(taskId) {
  const socket = state.socket;
  if (!socket || socket.readyState !== WebSocket.OPEN) return;
  request(socket, { get_task: { task_id: taskId, with_report: true } }, (reply) => {
    if (state.page.taskId !== taskId) return;
    if (reply.error) {
      $("#task-details").replaceChildren(element("p", { class: "error" }, `${reply.error.code}: ${reply.error.message}`));
      return;
    }
    renderTask(reply.result);
  });
}

function renderTask(task) {
  const details = [];
  details.push(
    element("h2", {}, `Task ${task.task_id} `, element("span", { class: `status status-${task.status}`, id: "task-status" }, task.status)),
  );
  const analysis = task.analysis;
  if (analysis) {
    const stats = analysis.stats;
    const types = stats ? Object.entries(stats.types).filter(([, n]) => n > 0).map(([name, n]) => `${n} ${name}`).join(", ") : "";
    details.push(
      element("p", { id: "task-analysis" }, `Analysis v${analysis.version}: ${analysis.summary}`, types ? ` (${types})` : ""),
    );
    if (stats?.numbers) {
      const n = stats.numbers;
      details.push(element("p", { class: "muted" }, `numbers: min ${n.min}, max ${n.max}, mean ${n.mean}`));
    }
  } else {
    details.push(element("p", { class: "muted" }, "No analysis yet."));
  }
  details.push(
    task.narrative
      ? element("blockquote", { id: "task-narrative" }, task.narrative.text)
      : element("p", { class: "muted" }, "No narrative yet."),
  );
  const generate = element("button", { type: "button", id: "generate-report" }, task.report ? "Generate the report again" : "Generate a report");
  generate.addEventListener("click", () => {
    const body = { report: { task_id: task.task_id } };
    send(JSON.stringify(body), body);
  });
  const report = task.report;
  if (report) {
    details.push(
      element("h3", {}, `Report on analysis v${report.analysis_version}`, report.stale ? element("span", { class: "stale-mark" }, " · stale: analysed again since") : ""),
    );
    const charts = element("div", { class: "charts", id: "task-charts" });
    for (const chart of report.charts ?? []) {
      const figure = element("figure", { "data-kind": chart.kind, "data-field": chart.field });
      const svg = parseSvg(chart.svg);
      if (svg) figure.append(svg);
      figure.append(element("figcaption", {}, chart.title));
      charts.append(figure);
    }
    details.push(charts);
  } else {
    details.push(element("p", { class: "muted" }, "No report yet."));
  }
  details.push(generate);
  $("#task-details").replaceChildren(...details);
}

/** Rift's SVG as an SVG element: parsed as XML, so nothing in it is read as HTML. */
function parseSvg(text) {
  const parsed = new DOMParser().parseFromString(text, "image/svg+xml");
  const root = parsed.documentElement;
  if (root.nodeName !== "svg" || parsed.querySelector("parsererror")) return null;
  return document.importNode(root, true);
}

/** The task's own notifications, from "0" then live, on a connection of its own. */
function openHistory(taskId) {
  const url = socketUrl();
  const protocols = ["rift"];
  if (token) {
    if (SUBPROTOCOL_TOKEN.test(token)) protocols.push(`bearer.${token}`);
    else url.searchParams.set("token", token);
  }
  const socket = new WebSocket(url, protocols);
  state.page.socket = socket;
  socket.addEventListener("open", () => {
    socket.send(JSON.stringify({ watch: { task_id: taskId, after: "0" }, id: 1 }));
  });
  socket.addEventListener("message", (event) => {
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch {
      return;
    }
    if (!frame.notification || state.page.socket !== socket) return;
    const n = frame.notification;
    $("#task-history").prepend(
      element(
        "li",
        { "data-id": n.id, "data-action": n.action },
        element("time", { datetime: n.time }, clock(n.time)),
        element("span", { class: "agent" }, n.agent),
        element("span", { class: "action" }, n.action),
        element("span", { class: "detail" }, describe(n)),
      ),
    );
  });
}

function closeHistory() {
  const socket = state.page.socket;
  state.page.socket = null;
  if (socket) socket.close();
}

// --- commands -------------------------------------------------------------------------------

/** What the person typed, as typed: the server parses it, and says which operation it named. */
function runCommand(text) {
  if (!text.trim()) return;
  send(text, { text });
}

/** Sends `body` as a typed request, listing it under the box as `shown`, with its reply. */
function send(shown, body) {
  const entry = element("li", { class: "reply pending", "data-kind": "pending" }, element("code", { class: "sent" }, shown));
  const replies = $("#replies");
  replies.prepend(entry);
  while (replies.children.length > REPLY_LIMIT) replies.lastElementChild.remove();
  const socket = state.socket;
  if (!socket || socket.readyState !== WebSocket.OPEN) {
    showError({ entry }, { code: "UNAVAILABLE", message: "not connected", hint: "wait for the connection to come back, then send again" });
    return;
  }
  const id = request(socket, body, (reply) => {
    if (reply.error) {
      showError({ entry }, reply.error);
      return;
    }
    showResult(entry, reply.result);
    if (reply.operation === "watch" || reply.operation === "unwatch") {
      // The connection has one watch, and the person's command replaced the board's.
      entry.append(element("span", { class: "hint" }, "this page follows every task: it went back to watching all of them"));
      if (state.socket === socket) watchEverything(socket);
    }
  });
  state.pending.get(id).entry = entry;
}

function showError({ entry }, error) {
  entry.className = "reply error";
  entry.dataset.kind = "error";
  entry.dataset.code = error.code;
  entry.append(
    element("span", { class: "code" }, error.code),
    element("span", { class: "message" }, error.message),
    error.hint ? element("span", { class: "hint" }, error.hint) : "",
  );
}

function showResult(entry, result) {
  entry.className = "reply result";
  entry.dataset.kind = "result";
  entry.append(element("span", { class: "message" }, summarize(result)));
  if (result.task_id !== undefined) noteReply(result);
}

function summarize(result) {
  if (result.summary !== undefined) return `task ${result.task_id}: ${result.summary} (version ${result.version})`;
  if (result.narrative !== undefined) return result.narrative;
  if (result.status !== undefined) {
    return `task ${result.task_id}: ${result.status} (analysis v${result.analysis_version}, narrative on v${result.narrative_analysis_version})`;
  }
  if (result.deleted !== undefined) return result.deleted ? `task ${result.task_id} deleted` : `task ${result.task_id} had nothing stored`;
  if (result.after !== undefined) return `watching ${result.task_id ? `task ${result.task_id}` : "all tasks"}`;
  if (result.stopped !== undefined) return result.stopped ? "stopped watching" : "was not watching";
  if (result.commands) return result.commands.map((command) => command.grammar).join(" · ");
  if (result.profile !== undefined) return `task ${result.task_id}: report on analysis v${result.analysis_version} (${result.charts.length} charts)`;
  if (result.tasks !== undefined) return `${result.tasks.length} tasks${result.next_page_token ? " (more: List tasks from …)" : ""}`;
  return JSON.stringify(result);
}

/** A progress reply is TaskAgent's word on a task: take its versions. */
function noteReply(result) {
  if (result.status === undefined) return;
  const task = taskRecord(result.task_id);
  task.hasAnalysis = result.status !== "not-started";
  task.analysisVersion = result.analysis_version;
  task.hasNarrative = result.status === "completed" || result.status === "stale";
  task.narrativeVersion = result.narrative_analysis_version;
  scheduleRender();
}

// --- start ----------------------------------------------------------------------------------

$("#command").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = $("#command-input");
  runCommand(input.value);
  input.value = "";
});

$("#status-filter").addEventListener("change", scheduleRender);
$("#task-search").addEventListener("input", scheduleRender);
window.addEventListener("hashchange", onHash);

render();
connect();
onHash();
