// Original file: ../../proto/rift/v1/rift.proto

import type { Long } from '@grpc/proto-loader';

export interface TypeCounts {
  'nulls'?: (number | string | Long);
  'booleans'?: (number | string | Long);
  'numbers'?: (number | string | Long);
  'strings'?: (number | string | Long);
  'lists'?: (number | string | Long);
  'objects'?: (number | string | Long);
}

export interface TypeCounts__Output {
  'nulls': (number);
  'booleans': (number);
  'numbers': (number);
  'strings': (number);
  'lists': (number);
  'objects': (number);
}
