// Original file: ../../proto/rift/v1/rift.proto


export interface NarrateRequest {
  'taskId'?: (string);
  'requestId'?: (string);
}

export interface NarrateRequest__Output {
  'taskId': (string);
  'requestId': (string);
}
