// Original file: ../../proto/rift/v1/rift.proto

import type { AnalysisStats as _rift_v1_AnalysisStats, AnalysisStats__Output as _rift_v1_AnalysisStats__Output } from '../../rift/v1/AnalysisStats';
import type { Long } from '@grpc/proto-loader';

export interface AnalyzeResponse {
  'taskId'?: (string);
  'summary'?: (string);
  'version'?: (number | string | Long);
  'stats'?: (_rift_v1_AnalysisStats | null);
}

export interface AnalyzeResponse__Output {
  'taskId': (string);
  'summary': (string);
  'version': (number);
  'stats': (_rift_v1_AnalysisStats__Output | null);
}
