// Original file: ../../proto/rift/v1/rift.proto

import type { Value as _google_protobuf_Value, Value__Output as _google_protobuf_Value__Output } from '../../google/protobuf/Value';

export interface AnalyzeRequest {
  'taskId'?: (string);
  'data'?: (_google_protobuf_Value)[];
}

export interface AnalyzeRequest__Output {
  'taskId': (string);
  'data': (_google_protobuf_Value__Output)[];
}
