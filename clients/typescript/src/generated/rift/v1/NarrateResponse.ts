// Original file: ../../proto/rift/v1/rift.proto

import type { Long } from '@grpc/proto-loader';

export interface NarrateResponse {
  'taskId'?: (string);
  'narrative'?: (string);
  'analysisVersion'?: (number | string | Long);
}

export interface NarrateResponse__Output {
  'taskId': (string);
  'narrative': (string);
  'analysisVersion': (number);
}
