// Original file: ../../proto/rift/v1/rift.proto


export interface ProgressRequest {
  'taskId'?: (string);
}

export interface ProgressRequest__Output {
  'taskId': (string);
}
