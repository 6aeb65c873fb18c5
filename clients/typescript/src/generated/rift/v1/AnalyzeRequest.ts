// Original file: ../../proto/rift/v1/rift.proto

import type { Value as _google_protobuf_Value, Value__Output as _google_protobuf_Value__Output } from '../../google/protobuf/Value';
import type { Long } from '@grpc/proto-loader';

export interface AnalyzeRequest {
  'taskId'?: (string);
  'data'?: (_google_protobuf_Value)[];
  'requestId'?: (string);
  'expectedVersion'?: (number | string | Long);
  '_expectedVersion'?: "expectedVersion";
}

export interface AnalyzeRequest__Output {
  'taskId': (string);
  'data': (_google_protobuf_Value__Output)[];
  'requestId': (string);
  'expectedVersion'?: (number);
  '_expectedVersion'?: "expectedVersion";
}
