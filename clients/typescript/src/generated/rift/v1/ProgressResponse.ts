// Original file: ../../proto/rift/v1/rift.proto

import type { TaskStatus as _rift_v1_TaskStatus, TaskStatus__Output as _rift_v1_TaskStatus__Output } from '../../rift/v1/TaskStatus';
import type { Long } from '@grpc/proto-loader';

export interface ProgressResponse {
  'taskId'?: (string);
  'status'?: (_rift_v1_TaskStatus);
  'analysisVersion'?: (number | string | Long);
  'narrativeAnalysisVersion'?: (number | string | Long);
}

export interface ProgressResponse__Output {
  'taskId': (string);
  'status': (_rift_v1_TaskStatus__Output);
  'analysisVersion': (number);
  'narrativeAnalysisVersion': (number);
}
