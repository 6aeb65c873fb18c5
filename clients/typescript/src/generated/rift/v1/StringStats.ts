// Original file: ../../proto/rift/v1/rift.proto

import type { ValueCount as _rift_v1_ValueCount, ValueCount__Output as _rift_v1_ValueCount__Output } from '../../rift/v1/ValueCount';
import type { Long } from '@grpc/proto-loader';

export interface StringStats {
  'count'?: (number | string | Long);
  'distinct'?: (number | string | Long);
  'top'?: (_rift_v1_ValueCount)[];
}

export interface StringStats__Output {
  'count': (number);
  'distinct': (number);
  'top': (_rift_v1_ValueCount__Output)[];
}
