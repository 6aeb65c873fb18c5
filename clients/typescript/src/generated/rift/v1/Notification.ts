// Original file: ../../proto/rift/v1/rift.proto

import type { Struct as _google_protobuf_Struct, Struct__Output as _google_protobuf_Struct__Output } from '../../google/protobuf/Struct';
import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../google/protobuf/Timestamp';

export interface Notification {
  'id'?: (string);
  'taskId'?: (string);
  'agent'?: (string);
  'action'?: (string);
  'payload'?: (_google_protobuf_Struct | null);
  'time'?: (_google_protobuf_Timestamp | null);
}

export interface Notification__Output {
  'id': (string);
  'taskId': (string);
  'agent': (string);
  'action': (string);
  'payload': (_google_protobuf_Struct__Output | null);
  'time': (_google_protobuf_Timestamp__Output | null);
}
