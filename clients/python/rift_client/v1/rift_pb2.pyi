import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TaskStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TASK_STATUS_UNSPECIFIED: _ClassVar[TaskStatus]
    NOT_STARTED: _ClassVar[TaskStatus]
    IN_PROGRESS: _ClassVar[TaskStatus]
    COMPLETED: _ClassVar[TaskStatus]
    STALE: _ClassVar[TaskStatus]
TASK_STATUS_UNSPECIFIED: TaskStatus
NOT_STARTED: TaskStatus
IN_PROGRESS: TaskStatus
COMPLETED: TaskStatus
STALE: TaskStatus

class AnalyzeRequest(_message.Message):
    __slots__ = ("task_id", "data", "request_id", "expected_version", "epoch")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    data: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Value]
    request_id: str
    expected_version: int
    epoch: str
    def __init__(self, task_id: _Optional[str] = ..., data: _Optional[_Iterable[_Union[_struct_pb2.Value, _Mapping]]] = ..., request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., epoch: _Optional[str] = ...) -> None: ...

class AnalyzeResponse(_message.Message):
    __slots__ = ("task_id", "summary", "version", "stats", "epoch")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    summary: str
    version: int
    stats: AnalysisStats
    epoch: str
    def __init__(self, task_id: _Optional[str] = ..., summary: _Optional[str] = ..., version: _Optional[int] = ..., stats: _Optional[_Union[AnalysisStats, _Mapping]] = ..., epoch: _Optional[str] = ...) -> None: ...

class AnalysisStats(_message.Message):
    __slots__ = ("item_count", "types", "numbers", "strings")
    ITEM_COUNT_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    NUMBERS_FIELD_NUMBER: _ClassVar[int]
    STRINGS_FIELD_NUMBER: _ClassVar[int]
    item_count: int
    types: TypeCounts
    numbers: NumberStats
    strings: StringStats
    def __init__(self, item_count: _Optional[int] = ..., types: _Optional[_Union[TypeCounts, _Mapping]] = ..., numbers: _Optional[_Union[NumberStats, _Mapping]] = ..., strings: _Optional[_Union[StringStats, _Mapping]] = ...) -> None: ...

class TypeCounts(_message.Message):
    __slots__ = ("nulls", "booleans", "numbers", "strings", "lists", "objects")
    NULLS_FIELD_NUMBER: _ClassVar[int]
    BOOLEANS_FIELD_NUMBER: _ClassVar[int]
    NUMBERS_FIELD_NUMBER: _ClassVar[int]
    STRINGS_FIELD_NUMBER: _ClassVar[int]
    LISTS_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    nulls: int
    booleans: int
    numbers: int
    strings: int
    lists: int
    objects: int
    def __init__(self, nulls: _Optional[int] = ..., booleans: _Optional[int] = ..., numbers: _Optional[int] = ..., strings: _Optional[int] = ..., lists: _Optional[int] = ..., objects: _Optional[int] = ...) -> None: ...

class NumberStats(_message.Message):
    __slots__ = ("count", "min", "max", "mean", "sum")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    MEAN_FIELD_NUMBER: _ClassVar[int]
    SUM_FIELD_NUMBER: _ClassVar[int]
    count: int
    min: float
    max: float
    mean: float
    sum: float
    def __init__(self, count: _Optional[int] = ..., min: _Optional[float] = ..., max: _Optional[float] = ..., mean: _Optional[float] = ..., sum: _Optional[float] = ...) -> None: ...

class StringStats(_message.Message):
    __slots__ = ("count", "distinct", "top")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    DISTINCT_FIELD_NUMBER: _ClassVar[int]
    TOP_FIELD_NUMBER: _ClassVar[int]
    count: int
    distinct: int
    top: _containers.RepeatedCompositeFieldContainer[ValueCount]
    def __init__(self, count: _Optional[int] = ..., distinct: _Optional[int] = ..., top: _Optional[_Iterable[_Union[ValueCount, _Mapping]]] = ...) -> None: ...

class ValueCount(_message.Message):
    __slots__ = ("value", "count", "truncated")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    value: str
    count: int
    truncated: bool
    def __init__(self, value: _Optional[str] = ..., count: _Optional[int] = ..., truncated: _Optional[bool] = ...) -> None: ...

class NarrateRequest(_message.Message):
    __slots__ = ("task_id", "request_id", "epoch")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    request_id: str
    epoch: str
    def __init__(self, task_id: _Optional[str] = ..., request_id: _Optional[str] = ..., epoch: _Optional[str] = ...) -> None: ...

class NarrateResponse(_message.Message):
    __slots__ = ("task_id", "narrative", "analysis_version", "epoch")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    NARRATIVE_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_VERSION_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    narrative: str
    analysis_version: int
    epoch: str
    def __init__(self, task_id: _Optional[str] = ..., narrative: _Optional[str] = ..., analysis_version: _Optional[int] = ..., epoch: _Optional[str] = ...) -> None: ...

class ProgressRequest(_message.Message):
    __slots__ = ("task_id",)
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    def __init__(self, task_id: _Optional[str] = ...) -> None: ...

class ProgressResponse(_message.Message):
    __slots__ = ("task_id", "status", "analysis_version", "narrative_analysis_version", "epoch")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_VERSION_FIELD_NUMBER: _ClassVar[int]
    NARRATIVE_ANALYSIS_VERSION_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    status: TaskStatus
    analysis_version: int
    narrative_analysis_version: int
    epoch: str
    def __init__(self, task_id: _Optional[str] = ..., status: _Optional[_Union[TaskStatus, str]] = ..., analysis_version: _Optional[int] = ..., narrative_analysis_version: _Optional[int] = ..., epoch: _Optional[str] = ...) -> None: ...

class SubscribeRequest(_message.Message):
    __slots__ = ("task_id", "after")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    after: str
    def __init__(self, task_id: _Optional[str] = ..., after: _Optional[str] = ...) -> None: ...

class DeleteTaskRequest(_message.Message):
    __slots__ = ("task_id",)
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    def __init__(self, task_id: _Optional[str] = ...) -> None: ...

class DeleteTaskResponse(_message.Message):
    __slots__ = ("task_id", "deleted")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    deleted: bool
    def __init__(self, task_id: _Optional[str] = ..., deleted: _Optional[bool] = ...) -> None: ...

class Notification(_message.Message):
    __slots__ = ("id", "task_id", "agent", "action", "payload", "time", "traceparent")
    ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    id: str
    task_id: str
    agent: str
    action: str
    payload: _struct_pb2.Struct
    time: _timestamp_pb2.Timestamp
    traceparent: str
    def __init__(self, id: _Optional[str] = ..., task_id: _Optional[str] = ..., agent: _Optional[str] = ..., action: _Optional[str] = ..., payload: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., traceparent: _Optional[str] = ...) -> None: ...

class GetTaskRequest(_message.Message):
    __slots__ = ("task_id", "with_report")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    WITH_REPORT_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    with_report: bool
    def __init__(self, task_id: _Optional[str] = ..., with_report: _Optional[bool] = ...) -> None: ...

class GetTaskResponse(_message.Message):
    __slots__ = ("task_id", "status", "analysis", "narrative", "report", "last_notification_id", "epoch")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_FIELD_NUMBER: _ClassVar[int]
    NARRATIVE_FIELD_NUMBER: _ClassVar[int]
    REPORT_FIELD_NUMBER: _ClassVar[int]
    LAST_NOTIFICATION_ID_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    status: TaskStatus
    analysis: StoredAnalysis
    narrative: StoredNarrative
    report: StoredReport
    last_notification_id: str
    epoch: str
    def __init__(self, task_id: _Optional[str] = ..., status: _Optional[_Union[TaskStatus, str]] = ..., analysis: _Optional[_Union[StoredAnalysis, _Mapping]] = ..., narrative: _Optional[_Union[StoredNarrative, _Mapping]] = ..., report: _Optional[_Union[StoredReport, _Mapping]] = ..., last_notification_id: _Optional[str] = ..., epoch: _Optional[str] = ...) -> None: ...

class StoredAnalysis(_message.Message):
    __slots__ = ("summary", "version", "stats")
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    summary: str
    version: int
    stats: AnalysisStats
    def __init__(self, summary: _Optional[str] = ..., version: _Optional[int] = ..., stats: _Optional[_Union[AnalysisStats, _Mapping]] = ...) -> None: ...

class StoredNarrative(_message.Message):
    __slots__ = ("text", "analysis_version")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_VERSION_FIELD_NUMBER: _ClassVar[int]
    text: str
    analysis_version: int
    def __init__(self, text: _Optional[str] = ..., analysis_version: _Optional[int] = ...) -> None: ...

class StoredReport(_message.Message):
    __slots__ = ("analysis_version", "stale", "profile", "charts")
    ANALYSIS_VERSION_FIELD_NUMBER: _ClassVar[int]
    STALE_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    CHARTS_FIELD_NUMBER: _ClassVar[int]
    analysis_version: int
    stale: bool
    profile: Profile
    charts: _containers.RepeatedCompositeFieldContainer[Chart]
    def __init__(self, analysis_version: _Optional[int] = ..., stale: _Optional[bool] = ..., profile: _Optional[_Union[Profile, _Mapping]] = ..., charts: _Optional[_Iterable[_Union[Chart, _Mapping]]] = ...) -> None: ...

class ReportRequest(_message.Message):
    __slots__ = ("task_id",)
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    def __init__(self, task_id: _Optional[str] = ...) -> None: ...

class ReportResponse(_message.Message):
    __slots__ = ("task_id", "analysis_version", "profile", "charts", "epoch")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_VERSION_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    CHARTS_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    analysis_version: int
    profile: Profile
    charts: _containers.RepeatedCompositeFieldContainer[Chart]
    epoch: str
    def __init__(self, task_id: _Optional[str] = ..., analysis_version: _Optional[int] = ..., profile: _Optional[_Union[Profile, _Mapping]] = ..., charts: _Optional[_Iterable[_Union[Chart, _Mapping]]] = ..., epoch: _Optional[str] = ...) -> None: ...

class Profile(_message.Message):
    __slots__ = ("item_count", "values", "records")
    ITEM_COUNT_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    item_count: int
    values: ValueProfile
    records: RecordsProfile
    def __init__(self, item_count: _Optional[int] = ..., values: _Optional[_Union[ValueProfile, _Mapping]] = ..., records: _Optional[_Union[RecordsProfile, _Mapping]] = ...) -> None: ...

class ValueProfile(_message.Message):
    __slots__ = ("count", "types", "booleans", "numbers", "strings")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    BOOLEANS_FIELD_NUMBER: _ClassVar[int]
    NUMBERS_FIELD_NUMBER: _ClassVar[int]
    STRINGS_FIELD_NUMBER: _ClassVar[int]
    count: int
    types: TypeCounts
    booleans: BooleanCounts
    numbers: NumberProfile
    strings: StringProfile
    def __init__(self, count: _Optional[int] = ..., types: _Optional[_Union[TypeCounts, _Mapping]] = ..., booleans: _Optional[_Union[BooleanCounts, _Mapping]] = ..., numbers: _Optional[_Union[NumberProfile, _Mapping]] = ..., strings: _Optional[_Union[StringProfile, _Mapping]] = ...) -> None: ...

class BooleanCounts(_message.Message):
    __slots__ = ("true_count", "false_count")
    TRUE_COUNT_FIELD_NUMBER: _ClassVar[int]
    FALSE_COUNT_FIELD_NUMBER: _ClassVar[int]
    true_count: int
    false_count: int
    def __init__(self, true_count: _Optional[int] = ..., false_count: _Optional[int] = ...) -> None: ...

class NumberProfile(_message.Message):
    __slots__ = ("count", "mean", "std", "min", "q1", "median", "q3", "max", "exact", "histogram")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    MEAN_FIELD_NUMBER: _ClassVar[int]
    STD_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    Q1_FIELD_NUMBER: _ClassVar[int]
    MEDIAN_FIELD_NUMBER: _ClassVar[int]
    Q3_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    EXACT_FIELD_NUMBER: _ClassVar[int]
    HISTOGRAM_FIELD_NUMBER: _ClassVar[int]
    count: int
    mean: float
    std: float
    min: float
    q1: float
    median: float
    q3: float
    max: float
    exact: bool
    histogram: Histogram
    def __init__(self, count: _Optional[int] = ..., mean: _Optional[float] = ..., std: _Optional[float] = ..., min: _Optional[float] = ..., q1: _Optional[float] = ..., median: _Optional[float] = ..., q3: _Optional[float] = ..., max: _Optional[float] = ..., exact: _Optional[bool] = ..., histogram: _Optional[_Union[Histogram, _Mapping]] = ...) -> None: ...

class Histogram(_message.Message):
    __slots__ = ("start", "width", "counts")
    START_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    start: float
    width: float
    counts: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, start: _Optional[float] = ..., width: _Optional[float] = ..., counts: _Optional[_Iterable[int]] = ...) -> None: ...

class StringProfile(_message.Message):
    __slots__ = ("count", "distinct", "distinct_exact", "top", "min_length", "mean_length", "max_length")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    DISTINCT_FIELD_NUMBER: _ClassVar[int]
    DISTINCT_EXACT_FIELD_NUMBER: _ClassVar[int]
    TOP_FIELD_NUMBER: _ClassVar[int]
    MIN_LENGTH_FIELD_NUMBER: _ClassVar[int]
    MEAN_LENGTH_FIELD_NUMBER: _ClassVar[int]
    MAX_LENGTH_FIELD_NUMBER: _ClassVar[int]
    count: int
    distinct: int
    distinct_exact: bool
    top: _containers.RepeatedCompositeFieldContainer[ValueCount]
    min_length: int
    mean_length: float
    max_length: int
    def __init__(self, count: _Optional[int] = ..., distinct: _Optional[int] = ..., distinct_exact: _Optional[bool] = ..., top: _Optional[_Iterable[_Union[ValueCount, _Mapping]]] = ..., min_length: _Optional[int] = ..., mean_length: _Optional[float] = ..., max_length: _Optional[int] = ...) -> None: ...

class RecordsProfile(_message.Message):
    __slots__ = ("count", "fields", "fields_truncated")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    FIELDS_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    count: int
    fields: _containers.RepeatedCompositeFieldContainer[FieldProfile]
    fields_truncated: bool
    def __init__(self, count: _Optional[int] = ..., fields: _Optional[_Iterable[_Union[FieldProfile, _Mapping]]] = ..., fields_truncated: _Optional[bool] = ...) -> None: ...

class FieldProfile(_message.Message):
    __slots__ = ("name", "present", "values")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PRESENT_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    name: str
    present: int
    values: ValueProfile
    def __init__(self, name: _Optional[str] = ..., present: _Optional[int] = ..., values: _Optional[_Union[ValueProfile, _Mapping]] = ...) -> None: ...

class Chart(_message.Message):
    __slots__ = ("kind", "field", "title", "svg")
    KIND_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    SVG_FIELD_NUMBER: _ClassVar[int]
    kind: str
    field: str
    title: str
    svg: str
    def __init__(self, kind: _Optional[str] = ..., field: _Optional[str] = ..., title: _Optional[str] = ..., svg: _Optional[str] = ...) -> None: ...

class ListTasksRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "status")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    status: TaskStatus
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., status: _Optional[_Union[TaskStatus, str]] = ...) -> None: ...

class ListTasksResponse(_message.Message):
    __slots__ = ("tasks", "next_page_token", "as_of")
    TASKS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[TaskSummary]
    next_page_token: str
    as_of: str
    def __init__(self, tasks: _Optional[_Iterable[_Union[TaskSummary, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., as_of: _Optional[str] = ...) -> None: ...

class TaskSummary(_message.Message):
    __slots__ = ("task_id", "status", "analysis_version", "narrative_analysis_version", "report", "last_change", "last_notification_id")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_VERSION_FIELD_NUMBER: _ClassVar[int]
    NARRATIVE_ANALYSIS_VERSION_FIELD_NUMBER: _ClassVar[int]
    REPORT_FIELD_NUMBER: _ClassVar[int]
    LAST_CHANGE_FIELD_NUMBER: _ClassVar[int]
    LAST_NOTIFICATION_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    status: TaskStatus
    analysis_version: int
    narrative_analysis_version: int
    report: StoredReport
    last_change: _timestamp_pb2.Timestamp
    last_notification_id: str
    def __init__(self, task_id: _Optional[str] = ..., status: _Optional[_Union[TaskStatus, str]] = ..., analysis_version: _Optional[int] = ..., narrative_analysis_version: _Optional[int] = ..., report: _Optional[_Union[StoredReport, _Mapping]] = ..., last_change: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_notification_id: _Optional[str] = ...) -> None: ...
