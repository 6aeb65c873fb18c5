// Original file: ../../proto/rift/v1/rift.proto


export interface SubscribeRequest {
  'taskId'?: (string);
  'after'?: (string);
}

export interface SubscribeRequest__Output {
  'taskId': (string);
  'after': (string);
}
