"""RiftClient against a live Rift on a real Redis: the task flow with the prototype's exact
texts, typed errors with decoded details, and Subscribe with replay, resume and live events."""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from rift_client import (
    AnalysisStats,
    AnalyzeResult,
    FieldViolation,
    NarrateResult,
    NumberStats,
    ProgressResult,
    ReportResult,
    RiftClient,
    RiftError,
    StringStats,
    TaskStatus,
)

HERE = Path(__file__).resolve().parent


def test_the_prototype_flow_to_the_byte(client: RiftClient, redis) -> None:
    analysis = client.analyze("101", ["data1", "data2", "data3"])
    assert analysis == AnalyzeResult(
        task_id="101",
        summary="Analyzed 3 items",
        version=1,
        stats=AnalysisStats(
            item_count=3,
            types={"nulls": 0, "booleans": 0, "numbers": 0, "strings": 3, "lists": 0, "objects": 0},
            numbers=None,
            strings=StringStats(count=3, distinct=3, top=[("data1", 1), ("data2", 1), ("data3", 1)]),
        ),
    )
    assert client.narrate("101") == NarrateResult(
        task_id="101",
        narrative="The analysis for task 101 concluded: Analyzed 3 items.",
        analysis_version=1,
    )
    assert client.progress("101") == ProgressResult(
        task_id="101", status=TaskStatus.COMPLETED, analysis_version=1, narrative_analysis_version=1
    )
    # What the prototype would read back from the same Redis.
    assert redis.cli("GET", "ConceptAgent:narrative:101").strip() == (
        "The analysis for task 101 concluded: Analyzed 3 items."
    )
    assert '"status": "completed"' in redis.cli("GET", "TaskAgent:progress:101")


def test_a_report_profiles_and_charts_the_latest_analysis(client: RiftClient) -> None:
    with pytest.raises(RiftError) as raised:
        client.report("r")
    assert raised.value.reason == "ANALYSIS_MISSING"
    client.analyze("r", [{"city": "Oslo", "temp": 3.5}, {"city": "<b>Rome</b>", "temp": 18}, 4])
    report = client.report("r")
    assert isinstance(report, ReportResult)
    assert (report.task_id, report.analysis_version) == ("r", 1)
    assert report.profile["item_count"] == 3
    numbers = report.profile["values"]["numbers"]
    assert (numbers["count"], numbers["median"]) == (1, 4.0)
    fields = [f["name"] for f in report.profile["records"]["fields"]]
    assert fields == ["city", "temp"]
    assert [(c.kind, c.field) for c in report.charts] == [
        ("type_mix", ""),
        ("histogram", ""),
        ("top_strings", "city"),
        ("histogram", "temp"),
    ]
    assert all(c.svg.startswith("<svg") and "<b>" not in c.svg for c in report.charts)


def test_progress_follows_the_task(client: RiftClient) -> None:
    assert client.progress("7").status is TaskStatus.NOT_STARTED
    client.analyze("7", [1])
    assert client.progress("7").status is TaskStatus.IN_PROGRESS
    client.narrate("7")
    assert client.progress("7").status is TaskStatus.COMPLETED
    again = client.analyze("7", [1, 2])
    assert again.version == 2
    stale = client.progress("7")
    assert (stale.status, stale.analysis_version, stale.narrative_analysis_version) == (
        TaskStatus.STALE,
        2,
        1,
    )


def test_any_json_values_are_analysed(client: RiftClient) -> None:
    result = client.analyze("mixed", [1, 2.5, "a", "a", "b", None, True, [1], {"k": "v"}])
    assert result.summary == "Analyzed 9 items"
    assert result.stats.types == {
        "nulls": 1,
        "booleans": 1,
        "numbers": 2,
        "strings": 3,
        "lists": 1,
        "objects": 1,
    }
    assert result.stats.numbers == NumberStats(count=2, min=1.0, max=2.5, mean=1.75, sum=3.5)
    assert result.stats.strings == StringStats(count=3, distinct=2, top=[("a", 2), ("b", 1)])


@pytest.mark.parametrize("task_id", ["", "has space", "x" * 129])
def test_an_invalid_task_id_names_the_field(client: RiftClient, task_id: str) -> None:
    with pytest.raises(RiftError) as raised:
        client.analyze(task_id, ["a"])
    error = raised.value
    assert error.code is grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in error.field_violations] == ["task_id"]
    assert isinstance(error.field_violations[0], FieldViolation)
    assert error.field_violations[0].description
    assert error.reason is None
    assert str(error).startswith("INVALID_ARGUMENT: ")


def test_narrate_before_analyze_is_a_failed_precondition(client: RiftClient) -> None:
    with pytest.raises(RiftError) as raised:
        client.narrate("never-analyzed")
    error = raised.value
    assert error.code is grpc.StatusCode.FAILED_PRECONDITION
    assert (error.reason, error.domain) == ("ANALYSIS_MISSING", "rift.v1")
    assert error.message == "task never-analyzed has no analysis yet: analyze it first"
    assert error.field_violations == []


def test_a_stale_expected_version_is_aborted_with_the_current_one(client: RiftClient) -> None:
    client.analyze("101", [1])
    with pytest.raises(RiftError) as raised:
        client.analyze("101", [2], expected_version=0)
    error = raised.value
    assert error.code is grpc.StatusCode.ABORTED
    assert (error.reason, error.metadata) == ("VERSION_MISMATCH", {"current_version": "1"})
    assert client.analyze("101", [2], expected_version=1).version == 2


def test_a_retry_with_the_same_request_id_returns_the_original(client: RiftClient) -> None:
    first = client.analyze("101", ["a"], request_id="retry-1")
    again = client.analyze("101", ["a"], request_id="retry-1")
    assert again == first and first.version == 1
    assert client.narrate("101", request_id="n-1") == client.narrate("101", request_id="n-1")
    assert client.progress("101").analysis_version == 1


def test_delete_task(client: RiftClient) -> None:
    client.analyze("101", [1])
    assert client.delete_task("101") is True
    assert client.delete_task("101") is False
    assert client.progress("101").status is TaskStatus.NOT_STARTED


def test_tokens_reach_a_rift_that_asks_for_them(start_rift, tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("reader reader-token-0123456789\nwriter writer-token-0123456789\n")
    rift = start_rift("--tokens-file", str(tokens))

    with RiftClient(rift.grpc_addr) as anonymous, pytest.raises(RiftError) as raised:
        anonymous.progress("101")
    assert raised.value.code is grpc.StatusCode.UNAUTHENTICATED

    with RiftClient(rift.grpc_addr, token="reader-token-0123456789") as reader:
        assert reader.progress("101").status is TaskStatus.NOT_STARTED
        with pytest.raises(RiftError) as raised:
            reader.analyze("101", [1])
        assert raised.value.code is grpc.StatusCode.PERMISSION_DENIED

    with RiftClient(rift.grpc_addr, token="writer-token-0123456789") as writer:
        assert writer.analyze("101", [1]).version == 1
        with writer.subscribe("101", after="0") as events:
            assert next(events).action == "analysis_stored"


def test_an_unreachable_rift_is_unavailable() -> None:
    # A port that was just free: nothing listens there once the probe is closed.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{probe.getsockname()[1]}"
    with RiftClient(closed, timeout=10) as unreachable, pytest.raises(RiftError) as raised:
        unreachable.progress("101")
    assert raised.value.code is grpc.StatusCode.UNAVAILABLE


def _flow(client: RiftClient, task_id: str) -> None:
    client.analyze(task_id, ["x"])
    client.narrate(task_id)
    client.progress(task_id)


def test_subscribe_replays_then_resumes_exactly_after_a_token(client: RiftClient) -> None:
    _flow(client, "101")
    client.analyze("202", [])  # another task: not in task 101's stream

    with client.subscribe("101", after="0") as events:
        replayed = list(itertools.islice(events, 3))
    assert [(e.task_id, e.agent, e.action) for e in replayed] == [
        ("101", "TechAgent", "analysis_stored"),
        ("101", "ConceptAgent", "narrative_stored"),
        ("101", "TaskAgent", "progress_completed"),
    ]
    assert replayed[0].payload["summary"] == "Analyzed 1 items"
    assert replayed[0].time is not None and replayed[0].time.tzinfo is not None

    with client.subscribe("101", after=replayed[0].id) as events:
        resumed = list(itertools.islice(events, 2))
        assert [e.id for e in resumed] == [e.id for e in replayed[1:]]
        # Nothing else was replayed: the next event is one written now.
        client.analyze("202", ["other task"])
        fresh = client.analyze("101", ["y", "z"])
        live = next(events)
    assert (live.task_id, live.action, live.payload["version"]) == ("101", "analysis_stored", fresh.version)


def test_subscribe_from_now_on_sees_only_later_writes(client: RiftClient) -> None:
    client.analyze("old", ["before"])
    with client.subscribe() as events:
        client.analyze("new", ["after"])
        event = next(events)
    assert (event.task_id, event.agent, event.action) == ("new", "TechAgent", "analysis_stored")


def test_a_bad_resume_token_is_an_invalid_argument(client: RiftClient) -> None:
    with pytest.raises(RiftError) as raised, client.subscribe("101", after="not-a-token") as events:
        next(events)
    assert raised.value.code is grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in raised.value.field_violations] == ["after"]


def test_cancel_ends_the_iteration_quietly(client: RiftClient) -> None:
    events = client.subscribe("101")
    events.cancel()
    assert list(events) == []


def test_the_example_runs_as_documented(rift) -> None:
    env = {**os.environ, "RIFT_ADDR": rift.grpc_addr}
    result = subprocess.run(
        [sys.executable, str(HERE.parent / "example.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:4] == [
        "Analyzed 3 items",
        "The analysis for task 101 concluded: Analyzed 3 items.",
        "COMPLETED",
        "FAILED_PRECONDITION ANALYSIS_MISSING",
    ]
    assert [line.split()[1:] for line in lines[4:]] == [
        ["TechAgent", "analysis_stored"],
        ["ConceptAgent", "narrative_stored"],
        ["TaskAgent", "progress_completed"],
    ]
