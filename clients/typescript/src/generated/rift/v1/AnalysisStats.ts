// Original file: ../../proto/rift/v1/rift.proto

import type { TypeCounts as _rift_v1_TypeCounts, TypeCounts__Output as _rift_v1_TypeCounts__Output } from '../../rift/v1/TypeCounts';
import type { NumberStats as _rift_v1_NumberStats, NumberStats__Output as _rift_v1_NumberStats__Output } from '../../rift/v1/NumberStats';
import type { StringStats as _rift_v1_StringStats, StringStats__Output as _rift_v1_StringStats__Output } from '../../rift/v1/StringStats';
import type { Long } from '@grpc/proto-loader';

export interface AnalysisStats {
  'itemCount'?: (number | string | Long);
  'types'?: (_rift_v1_TypeCounts | null);
  'numbers'?: (_rift_v1_NumberStats | null);
  'strings'?: (_rift_v1_StringStats | null);
}

export interface AnalysisStats__Output {
  'itemCount': (number);
  'types': (_rift_v1_TypeCounts__Output | null);
  'numbers': (_rift_v1_NumberStats__Output | null);
  'strings': (_rift_v1_StringStats__Output | null);
}
