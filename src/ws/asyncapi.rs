//! The AsyncAPI 3 document of `/ws` ([`document`]), made from the one operations table and the
//! serde types the adapter reads and writes, so the document cannot drift from the adapter.
//!
//! - Every row of [`OPERATIONS`] is an AsyncAPI operation (action `receive`: Rift receives it)
//!   with two messages, its typed request (the body's schema from the struct `read_body` reads
//!   into, `Operation::body_schema`) and its natural-language forms, and a reply: the typed
//!   reply (its `result` from the body `frame` writes, `Operation::result_schema`), the reply
//!   to a natural-language command, or an error.
//! - `text` is the typed frame carrying a command as a person types it; its reply names the
//!   operation.
//! - `watch` pushes are the one operation Rift sends unasked: notifications and `watch_ended`.
//!
//! Schemas are JSON Schema draft 07 (AsyncAPI's default schema format) under
//! `components/schemas`. The envelopes around the bodies (`id`, `traceparent`, `operation`) are
//! spelled out here, as `operations` and `frame` read and write them; the tests hold them to
//! the adapter by validating every typed frame they send and receive against this document
//! (`tests/it/support/ws.rs`), and CI validates the document itself with `@asyncapi/parser`
//! (`scripts/tools/validate-asyncapi.mjs`). `rift asyncapi` prints it.

use schemars::{
    SchemaGenerator,
    generate::{Contract, SchemaSettings},
};
use serde_json::{Map, Value, json};

use super::{
    frame::{ErrorBody, NotificationFrame, WatchEndedFrame},
    operations::{ID_KEY, OPERATIONS, Operation, TEXT_KEY, TRACEPARENT_KEY},
};

/// Where schemas live in the document; every `$ref` points here.
const SCHEMAS: &str = "#/components/schemas/";

/// The one channel, `/ws`.
const CHANNEL: &str = "#/channels/ws";

/// The AsyncAPI 3.0 document of the WebSocket adapter.
pub(crate) fn document() -> Value {
    // Requests are read (serde's deserialize contract: defaulted fields are optional), replies
    // written (skipped fields are optional): one generator each, one set of definitions.
    let mut requests = generator(Contract::Deserialize);
    let mut replies = generator(Contract::Serialize);
    let error = replies.subschema_for::<ErrorBody>().to_value();
    let notification = replies
        .subschema_for::<NotificationFrame<'static>>()
        .to_value();
    let watch_ended = replies
        .subschema_for::<WatchEndedFrame<'static>>()
        .to_value();

    let mut schemas = Map::new();
    let mut messages = Map::new();
    let mut operations = Map::new();
    let mut results = Vec::new();
    for operation in OPERATIONS {
        let body = (operation.body_schema)(&mut requests).to_value();
        let result = (operation.result_schema)(&mut replies).to_value();
        results.push((operation, result.clone()));
        schemas.insert(request_schema(operation), typed_request(operation, body));
        schemas.insert(
            reply_schema(operation),
            json!({
                "type": "object",
                "description": format!("The reply to a typed {} request.", operation.typed),
                "properties": {ID_KEY: id_schema(), "result": result},
                "required": ["result"],
                "additionalProperties": false,
            }),
        );
        let typed = operation.typed;
        messages.insert(
            typed.to_owned(),
            json!({
                "name": typed,
                "title": format!("{} (typed)", operation.name),
                "contentType": "application/json",
                "payload": {"$ref": format!("{SCHEMAS}{}", request_schema(operation))},
                "examples": [{"payload": example(operation)}],
            }),
        );
        messages.insert(
            command_message(operation),
            json!({
                "name": command_message(operation),
                "title": format!("{} (natural language)", operation.name),
                "contentType": "text/plain",
                "payload": {
                    "type": "string",
                    "description": format!(
                        "Keywords in any case, with any spacing; ids and data as written: {}.",
                        operation
                            .forms
                            .iter()
                            .map(|form| format!("`{}`", form.grammar))
                            .collect::<Vec<_>>()
                            .join(" or ")
                    ),
                    "examples": operation.forms.iter().map(|form| form.example).collect::<Vec<_>>(),
                },
            }),
        );
        messages.insert(
            reply_message(operation),
            json!({
                "name": reply_message(operation),
                "title": format!("{} reply", operation.name),
                "contentType": "application/json",
                "payload": {"$ref": format!("{SCHEMAS}{}", reply_schema(operation))},
            }),
        );
        operations.insert(
            typed.to_owned(),
            json!({
                "action": "receive",
                "channel": {"$ref": CHANNEL},
                "title": operation.name,
                "summary": operation.forms[0].grammar,
                "description": format!(
                    "Needs the {} role. A typed request gets `{}` or `error`; the same command \
                     in natural language gets `commandReply`.",
                    operation.role().as_str(),
                    reply_message(operation)
                ),
                "messages": [
                    message_ref(typed),
                    message_ref(&command_message(operation)),
                ],
                "reply": {
                    "channel": {"$ref": CHANNEL},
                    "messages": [
                        message_ref(&reply_message(operation)),
                        message_ref("commandReply"),
                        message_ref("error"),
                    ],
                },
            }),
        );
    }

    schemas.insert(
        "TextRequest".into(),
        json!({
            "type": "object",
            "description": "A command as a person types it, in a typed frame: parsed as natural \
                            language, answered as a typed request.",
            "properties": {
                TEXT_KEY: {"type": "string"},
                ID_KEY: id_schema(),
                TRACEPARENT_KEY: traceparent_schema(),
            },
            "required": [TEXT_KEY],
            "additionalProperties": false,
            "examples": [{TEXT_KEY: "Check progress for task 101", ID_KEY: 8}],
        }),
    );
    schemas.insert(
        "TextReply".into(),
        json!({
            "description": "The reply to text in a typed frame: the typed reply of the operation \
                            the text named, which `operation` says.",
            "oneOf": results.iter().map(|(operation, result)| json!({
                "type": "object",
                "properties": {
                    ID_KEY: id_schema(),
                    "operation": {"const": operation.typed},
                    "result": result,
                },
                "required": ["operation", "result"],
                "additionalProperties": false,
            })).collect::<Vec<_>>(),
        }),
    );
    schemas.insert(
        "ErrorReply".into(),
        json!({
            "type": "object",
            "description": "A refused command or an unreadable frame; `id` and `operation` as \
                            the request's reply would carry them.",
            "properties": {
                ID_KEY: id_schema(),
                "operation": {"enum": OPERATIONS.iter().map(|operation| operation.typed).collect::<Vec<_>>()},
                "error": error,
            },
            "required": ["error"],
            "additionalProperties": false,
        }),
    );
    let command_replies: Vec<Value> = [json!({"type": "string"})]
        .into_iter()
        .chain(results.iter().map(|(_, result)| result.clone()))
        .collect();
    schemas.insert(
        "CommandReply".into(),
        json!({
            "description": "The reply to a natural-language command, as the prototype sent it: \
                            the narrative, help and watch confirmations as text (not JSON); \
                            analysis, progress and deletion as the JSON of the result.",
            "anyOf": command_replies,
        }),
    );
    for (name, title, schema) in [
        (TEXT_KEY, "Text (typed)", "TextRequest"),
        ("textReply", "Text reply", "TextReply"),
        ("error", "Error", "ErrorReply"),
        ("commandReply", "Natural-language reply", "CommandReply"),
    ] {
        messages.insert(
            name.to_owned(),
            json!({
                "name": name,
                "title": title,
                "contentType": if name == "commandReply" { "text/plain" } else { "application/json" },
                "payload": {"$ref": format!("{SCHEMAS}{schema}")},
            }),
        );
    }
    messages.insert(
        "notification".into(),
        json!({
            "name": "notification",
            "title": "Notification",
            "summary": "An agent write, pushed to the connection's watch between replies.",
            "contentType": "application/json",
            "payload": notification,
        }),
    );
    messages.insert(
        "watchEnded".into(),
        json!({
            "name": "watchEnded",
            "title": "Watch ended",
            "summary": "The watch stopped on an error; resume it from `resume_after`.",
            "contentType": "application/json",
            "payload": watch_ended,
        }),
    );
    operations.insert(
        TEXT_KEY.into(),
        json!({
            "action": "receive",
            "channel": {"$ref": CHANNEL},
            "title": "Text",
            "summary": "Run a natural-language command from a typed frame",
            "messages": [message_ref(TEXT_KEY)],
            "reply": {
                "channel": {"$ref": CHANNEL},
                "messages": [message_ref("textReply"), message_ref("error")],
            },
        }),
    );
    operations.insert(
        "watchPush".into(),
        json!({
            "action": "send",
            "channel": {"$ref": CHANNEL},
            "title": "Watch pushes",
            "summary": "Notifications of the connection's one watch, between replies",
            "messages": [message_ref("notification"), message_ref("watchEnded")],
        }),
    );

    let mut definitions = requests.take_definitions(true);
    for (name, schema) in replies.take_definitions(true) {
        if let Some(other) = definitions.get(&name) {
            // Both contracts gave the type the same name: it must be the same schema.
            assert_eq!(other, &schema, "two schemas named {name}");
        }
        definitions.insert(name, schema);
    }
    schemas.extend(definitions);

    json!({
        "asyncapi": "3.0.0",
        "info": {
            "title": "Rift WebSocket API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Agents collaborating on tasks through shared memory, over one \
                            WebSocket: every text frame is one command and gets exactly one \
                            reply. A frame whose first non-blank character is `{` is typed JSON; \
                            anything else is natural language (`help` lists the commands). \
                            Pushes of the connection's one watch come between replies; a client \
                            tells frames apart by their first key. Error codes are the gRPC \
                            status names the same failure gets over gRPC.",
            "license": {"name": "MIT"},
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "127.0.0.1:8000",
                "protocol": "ws",
                "description": "`rift serve` on its default `--http-addr`.",
            },
        },
        "channels": {
            "ws": {
                "address": "/ws",
                "title": "Commands, replies and watch pushes",
                "messages": messages,
                "bindings": {
                    "ws": {
                        "method": "GET",
                        "headers": {
                            "type": "object",
                            "properties": {
                                "Authorization": {
                                    "type": "string",
                                    "description": "`Bearer <token>` when Rift has tokens \
                                                    (or the `bearer.<token>` subprotocol, or \
                                                    `?token=`); without a valid one the \
                                                    upgrade is refused with 401, the body \
                                                    the UNAUTHENTICATED error frame.",
                                },
                                "Origin": {
                                    "type": "string",
                                    "description": "Sent by browsers: only the server's own \
                                                    origin and `--allowed-origins` may \
                                                    upgrade; others get 403.",
                                },
                                TRACEPARENT_KEY: {
                                    "type": "string",
                                    "description": "W3C trace context: the parent of every \
                                                    command span of the connection.",
                                },
                            },
                        },
                        "query": {
                            "type": "object",
                            "properties": {"token": {"type": "string"}},
                        },
                    },
                },
            },
        },
        "operations": operations,
        "components": {"schemas": schemas},
    })
}

fn generator(contract: Contract) -> SchemaGenerator {
    SchemaSettings::draft07()
        .with(|settings| {
            settings.definitions_path = "/components/schemas/".into();
            settings.meta_schema = None;
            settings.contract = contract;
        })
        .into_generator()
}

fn request_schema(operation: &Operation) -> String {
    format!("{}Request", operation.name)
}

fn reply_schema(operation: &Operation) -> String {
    format!("{}Reply", operation.name)
}

fn command_message(operation: &Operation) -> String {
    format!("{}Command", operation.typed)
}

fn reply_message(operation: &Operation) -> String {
    format!("{}Reply", operation.typed)
}

fn message_ref(name: &str) -> Value {
    json!({"$ref": format!("{CHANNEL}/messages/{name}")})
}

/// The typed request of `operation`: `{"<typed>": body, "id"?, "traceparent"?}`. A `null` body
/// reads as `{}`, as the parser takes it.
fn typed_request(operation: &Operation, body: Value) -> Value {
    let typed = operation.typed;
    json!({
        "type": "object",
        "description": format!(
            "{}; `{ID_KEY}` is echoed in the reply.",
            operation.forms[0].grammar
        ),
        "properties": {
            typed: {"anyOf": [body, {"type": "null"}]},
            ID_KEY: id_schema(),
            TRACEPARENT_KEY: traceparent_schema(),
        },
        "required": [typed],
        "additionalProperties": false,
        "examples": [example(operation)],
    })
}

/// The table's example of the typed request, as JSON.
fn example(operation: &Operation) -> Value {
    serde_json::from_str(operation.typed_example).unwrap_or(Value::Null)
}

fn id_schema() -> Value {
    json!({"description": "Any JSON value; the reply echoes it."})
}

fn traceparent_schema() -> Value {
    json!({
        "type": "string",
        "description": "W3C trace context of the caller's span (`00-<trace id>-<span id>-<flags>`): \
                        the parent of this command's span. An invalid one is ignored.",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validator(document: &Value, schema: &str) -> jsonschema::Validator {
        let root = json!({
            "allOf": [{"$ref": format!("{SCHEMAS}{schema}")}],
            "components": document["components"],
        });
        jsonschema::draft7::new(&root).unwrap_or_else(|error| panic!("{schema}: {error}"))
    }

    #[test]
    fn every_typed_example_matches_its_request_schema_and_no_other() {
        let document = document();
        for operation in OPERATIONS {
            for other in OPERATIONS {
                let valid =
                    validator(&document, &request_schema(other)).is_valid(&example(operation));
                assert_eq!(
                    valid,
                    std::ptr::eq(operation, other),
                    "{} against {}",
                    operation.typed_example,
                    other.name
                );
            }
        }
    }

    #[test]
    fn request_schemas_refuse_what_the_parser_refuses() {
        let document = document();
        let analyze = validator(&document, "AnalyzeRequest");
        assert!(
            analyze.is_valid(&json!({"analyze": {"task_id": "1", "data": [1, "a", null]},
            "id": 7, "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}))
        );
        assert!(analyze.is_valid(&json!({"analyze": null})));
        for refused in [
            json!({"analyze": {"task_id": 5}}),
            json!({"analyze": {"data": "not a list"}}),
            json!({"analyze": {"task_id": "1", "extra": 1}}),
            json!({"analyze": {}, "progress": {}}),
            json!({"analyze": {}, "traceparent": 1}),
            json!({"analyze": []}),
        ] {
            assert!(!analyze.is_valid(&refused), "{refused}");
        }
        let text = validator(&document, "TextRequest");
        assert!(text.is_valid(&json!({"text": "help", "id": "a"})));
        assert!(!text.is_valid(&json!({"text": 3})));
    }

    #[test]
    fn the_document_has_an_operation_and_messages_per_row_of_the_table() {
        let document = document();
        assert_eq!(document["asyncapi"], "3.0.0");
        for operation in OPERATIONS {
            let entry = &document["operations"][operation.typed];
            assert_eq!(entry["action"], "receive", "{}", operation.name);
            for message in entry["messages"]
                .as_array()
                .into_iter()
                .flatten()
                .chain(entry["reply"]["messages"].as_array().into_iter().flatten())
            {
                let name = message["$ref"]
                    .as_str()
                    .and_then(|path| path.strip_prefix("#/channels/ws/messages/"))
                    .expect("a message of the channel");
                assert!(
                    document["channels"]["ws"]["messages"][name].is_object(),
                    "{name}"
                );
            }
        }
        assert!(document["components"]["schemas"]["Error"].is_object());
        assert!(document["components"]["schemas"]["AnalysisStats"].is_object());
    }
}
