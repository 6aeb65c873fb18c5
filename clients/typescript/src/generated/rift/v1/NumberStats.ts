// Original file: ../../proto/rift/v1/rift.proto

import type { Long } from '@grpc/proto-loader';

export interface NumberStats {
  'count'?: (number | string | Long);
  'min'?: (number | string);
  'max'?: (number | string);
  'mean'?: (number | string);
  'sum'?: (number | string);
}

export interface NumberStats__Output {
  'count': (number);
  'min': (number);
  'max': (number);
  'mean': (number);
  'sum': (number);
}
