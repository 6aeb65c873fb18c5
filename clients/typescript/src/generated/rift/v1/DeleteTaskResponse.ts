// Original file: ../../proto/rift/v1/rift.proto


export interface DeleteTaskResponse {
  'taskId'?: (string);
  'deleted'?: (boolean);
}

export interface DeleteTaskResponse__Output {
  'taskId': (string);
  'deleted': (boolean);
}
