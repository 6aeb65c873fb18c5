import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { ListValue as _google_protobuf_ListValue, ListValue__Output as _google_protobuf_ListValue__Output } from './google/protobuf/ListValue';
import type { Struct as _google_protobuf_Struct, Struct__Output as _google_protobuf_Struct__Output } from './google/protobuf/Struct';
import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from './google/protobuf/Timestamp';
import type { Value as _google_protobuf_Value, Value__Output as _google_protobuf_Value__Output } from './google/protobuf/Value';
import type { AnalysisStats as _rift_v1_AnalysisStats, AnalysisStats__Output as _rift_v1_AnalysisStats__Output } from './rift/v1/AnalysisStats';
import type { AnalyzeRequest as _rift_v1_AnalyzeRequest, AnalyzeRequest__Output as _rift_v1_AnalyzeRequest__Output } from './rift/v1/AnalyzeRequest';
import type { AnalyzeResponse as _rift_v1_AnalyzeResponse, AnalyzeResponse__Output as _rift_v1_AnalyzeResponse__Output } from './rift/v1/AnalyzeResponse';
import type { DeleteTaskRequest as _rift_v1_DeleteTaskRequest, DeleteTaskRequest__Output as _rift_v1_DeleteTaskRequest__Output } from './rift/v1/DeleteTaskRequest';
import type { DeleteTaskResponse as _rift_v1_DeleteTaskResponse, DeleteTaskResponse__Output as _rift_v1_DeleteTaskResponse__Output } from './rift/v1/DeleteTaskResponse';
import type { NarrateRequest as _rift_v1_NarrateRequest, NarrateRequest__Output as _rift_v1_NarrateRequest__Output } from './rift/v1/NarrateRequest';
import type { NarrateResponse as _rift_v1_NarrateResponse, NarrateResponse__Output as _rift_v1_NarrateResponse__Output } from './rift/v1/NarrateResponse';
import type { Notification as _rift_v1_Notification, Notification__Output as _rift_v1_Notification__Output } from './rift/v1/Notification';
import type { NumberStats as _rift_v1_NumberStats, NumberStats__Output as _rift_v1_NumberStats__Output } from './rift/v1/NumberStats';
import type { ProgressRequest as _rift_v1_ProgressRequest, ProgressRequest__Output as _rift_v1_ProgressRequest__Output } from './rift/v1/ProgressRequest';
import type { ProgressResponse as _rift_v1_ProgressResponse, ProgressResponse__Output as _rift_v1_ProgressResponse__Output } from './rift/v1/ProgressResponse';
import type { RiftClient as _rift_v1_RiftClient, RiftDefinition as _rift_v1_RiftDefinition } from './rift/v1/Rift';
import type { StringStats as _rift_v1_StringStats, StringStats__Output as _rift_v1_StringStats__Output } from './rift/v1/StringStats';
import type { SubscribeRequest as _rift_v1_SubscribeRequest, SubscribeRequest__Output as _rift_v1_SubscribeRequest__Output } from './rift/v1/SubscribeRequest';
import type { TypeCounts as _rift_v1_TypeCounts, TypeCounts__Output as _rift_v1_TypeCounts__Output } from './rift/v1/TypeCounts';
import type { ValueCount as _rift_v1_ValueCount, ValueCount__Output as _rift_v1_ValueCount__Output } from './rift/v1/ValueCount';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  google: {
    protobuf: {
      ListValue: MessageTypeDefinition<_google_protobuf_ListValue, _google_protobuf_ListValue__Output>
      NullValue: EnumTypeDefinition
      Struct: MessageTypeDefinition<_google_protobuf_Struct, _google_protobuf_Struct__Output>
      Timestamp: MessageTypeDefinition<_google_protobuf_Timestamp, _google_protobuf_Timestamp__Output>
      Value: MessageTypeDefinition<_google_protobuf_Value, _google_protobuf_Value__Output>
    }
  }
  rift: {
    v1: {
      AnalysisStats: MessageTypeDefinition<_rift_v1_AnalysisStats, _rift_v1_AnalysisStats__Output>
      AnalyzeRequest: MessageTypeDefinition<_rift_v1_AnalyzeRequest, _rift_v1_AnalyzeRequest__Output>
      AnalyzeResponse: MessageTypeDefinition<_rift_v1_AnalyzeResponse, _rift_v1_AnalyzeResponse__Output>
      DeleteTaskRequest: MessageTypeDefinition<_rift_v1_DeleteTaskRequest, _rift_v1_DeleteTaskRequest__Output>
      DeleteTaskResponse: MessageTypeDefinition<_rift_v1_DeleteTaskResponse, _rift_v1_DeleteTaskResponse__Output>
      NarrateRequest: MessageTypeDefinition<_rift_v1_NarrateRequest, _rift_v1_NarrateRequest__Output>
      NarrateResponse: MessageTypeDefinition<_rift_v1_NarrateResponse, _rift_v1_NarrateResponse__Output>
      Notification: MessageTypeDefinition<_rift_v1_Notification, _rift_v1_Notification__Output>
      NumberStats: MessageTypeDefinition<_rift_v1_NumberStats, _rift_v1_NumberStats__Output>
      ProgressRequest: MessageTypeDefinition<_rift_v1_ProgressRequest, _rift_v1_ProgressRequest__Output>
      ProgressResponse: MessageTypeDefinition<_rift_v1_ProgressResponse, _rift_v1_ProgressResponse__Output>
      Rift: SubtypeConstructor<typeof grpc.Client, _rift_v1_RiftClient> & { service: _rift_v1_RiftDefinition }
      StringStats: MessageTypeDefinition<_rift_v1_StringStats, _rift_v1_StringStats__Output>
      SubscribeRequest: MessageTypeDefinition<_rift_v1_SubscribeRequest, _rift_v1_SubscribeRequest__Output>
      TaskStatus: EnumTypeDefinition
      TypeCounts: MessageTypeDefinition<_rift_v1_TypeCounts, _rift_v1_TypeCounts__Output>
      ValueCount: MessageTypeDefinition<_rift_v1_ValueCount, _rift_v1_ValueCount__Output>
    }
  }
}

