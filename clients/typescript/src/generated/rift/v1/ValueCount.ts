// Original file: ../../proto/rift/v1/rift.proto

import type { Long } from '@grpc/proto-loader';

export interface ValueCount {
  'value'?: (string);
  'count'?: (number | string | Long);
}

export interface ValueCount__Output {
  'value': (string);
  'count': (number);
}
