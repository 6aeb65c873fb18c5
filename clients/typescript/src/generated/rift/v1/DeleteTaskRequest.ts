// Original file: ../../proto/rift/v1/rift.proto


export interface DeleteTaskRequest {
  'taskId'?: (string);
}

export interface DeleteTaskRequest__Output {
  'taskId': (string);
}
