// Original file: node_modules/google-proto-files/google/rpc/error_details.proto


export interface RequestInfo {
  'requestId'?: (string);
  'servingData'?: (string);
}

export interface RequestInfo__Output {
  'requestId': (string);
  'servingData': (string);
}
