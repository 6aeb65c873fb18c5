// Original file: ../../proto/rift/v1/rift.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { AnalyzeRequest as _rift_v1_AnalyzeRequest, AnalyzeRequest__Output as _rift_v1_AnalyzeRequest__Output } from '../../rift/v1/AnalyzeRequest';
import type { AnalyzeResponse as _rift_v1_AnalyzeResponse, AnalyzeResponse__Output as _rift_v1_AnalyzeResponse__Output } from '../../rift/v1/AnalyzeResponse';
import type { DeleteTaskRequest as _rift_v1_DeleteTaskRequest, DeleteTaskRequest__Output as _rift_v1_DeleteTaskRequest__Output } from '../../rift/v1/DeleteTaskRequest';
import type { DeleteTaskResponse as _rift_v1_DeleteTaskResponse, DeleteTaskResponse__Output as _rift_v1_DeleteTaskResponse__Output } from '../../rift/v1/DeleteTaskResponse';
import type { NarrateRequest as _rift_v1_NarrateRequest, NarrateRequest__Output as _rift_v1_NarrateRequest__Output } from '../../rift/v1/NarrateRequest';
import type { NarrateResponse as _rift_v1_NarrateResponse, NarrateResponse__Output as _rift_v1_NarrateResponse__Output } from '../../rift/v1/NarrateResponse';
import type { Notification as _rift_v1_Notification, Notification__Output as _rift_v1_Notification__Output } from '../../rift/v1/Notification';
import type { ProgressRequest as _rift_v1_ProgressRequest, ProgressRequest__Output as _rift_v1_ProgressRequest__Output } from '../../rift/v1/ProgressRequest';
import type { ProgressResponse as _rift_v1_ProgressResponse, ProgressResponse__Output as _rift_v1_ProgressResponse__Output } from '../../rift/v1/ProgressResponse';
import type { SubscribeRequest as _rift_v1_SubscribeRequest, SubscribeRequest__Output as _rift_v1_SubscribeRequest__Output } from '../../rift/v1/SubscribeRequest';

export interface RiftClient extends grpc.Client {
  Analyze(argument: _rift_v1_AnalyzeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_rift_v1_AnalyzeResponse__Output>): grpc.ClientUnaryCall;
  Analyze(argument: _rift_v1_AnalyzeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_rift_v1_AnalyzeResponse__Output>): grpc.ClientUnaryCall;
  Analyze(argument: _rift_v1_AnalyzeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_rift_v1_AnalyzeResponse__Output>): grpc.ClientUnaryCall;
  Analyze(argument: _rift_v1_AnalyzeRequest, callback: grpc.requestCallback<_rift_v1_AnalyzeResponse__Output>): grpc.ClientUnaryCall;
  analyze(argument: _rift_v1_AnalyzeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_rift_v1_AnalyzeResponse__Output>): grpc.ClientUnaryCall;
  analyze(argument: _rift_v1_AnalyzeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_rift_v1_AnalyzeResponse__Output>): grpc.ClientUnaryCall;
  analyze(argument: _rift_v1_AnalyzeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_rift_v1_AnalyzeResponse__Output>): grpc.ClientUnaryCall;
  analyze(argument: _rift_v1_AnalyzeRequest, callback: grpc.requestCallback<_rift_v1_AnalyzeResponse__Output>): grpc.ClientUnaryCall;
  
  DeleteTask(argument: _rift_v1_DeleteTaskRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_rift_v1_DeleteTaskResponse__Output>): grpc.ClientUnaryCall;
  DeleteTask(argument: _rift_v1_DeleteTaskRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_rift_v1_DeleteTaskResponse__Output>): grpc.ClientUnaryCall;
  DeleteTask(argument: _rift_v1_DeleteTaskRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_rift_v1_DeleteTaskResponse__Output>): grpc.ClientUnaryCall;
  DeleteTask(argument: _rift_v1_DeleteTaskRequest, callback: grpc.requestCallback<_rift_v1_DeleteTaskResponse__Output>): grpc.ClientUnaryCall;
  deleteTask(argument: _rift_v1_DeleteTaskRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_rift_v1_DeleteTaskResponse__Output>): grpc.ClientUnaryCall;
  deleteTask(argument: _rift_v1_DeleteTaskRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_rift_v1_DeleteTaskResponse__Output>): grpc.ClientUnaryCall;
  deleteTask(argument: _rift_v1_DeleteTaskRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_rift_v1_DeleteTaskResponse__Output>): grpc.ClientUnaryCall;
  deleteTask(argument: _rift_v1_DeleteTaskRequest, callback: grpc.requestCallback<_rift_v1_DeleteTaskResponse__Output>): grpc.ClientUnaryCall;
  
  Narrate(argument: _rift_v1_NarrateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_rift_v1_NarrateResponse__Output>): grpc.ClientUnaryCall;
  Narrate(argument: _rift_v1_NarrateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_rift_v1_NarrateResponse__Output>): grpc.ClientUnaryCall;
  Narrate(argument: _rift_v1_NarrateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_rift_v1_NarrateResponse__Output>): grpc.ClientUnaryCall;
  Narrate(argument: _rift_v1_NarrateRequest, callback: grpc.requestCallback<_rift_v1_NarrateResponse__Output>): grpc.ClientUnaryCall;
  narrate(argument: _rift_v1_NarrateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_rift_v1_NarrateResponse__Output>): grpc.ClientUnaryCall;
  narrate(argument: _rift_v1_NarrateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_rift_v1_NarrateResponse__Output>): grpc.ClientUnaryCall;
  narrate(argument: _rift_v1_NarrateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_rift_v1_NarrateResponse__Output>): grpc.ClientUnaryCall;
  narrate(argument: _rift_v1_NarrateRequest, callback: grpc.requestCallback<_rift_v1_NarrateResponse__Output>): grpc.ClientUnaryCall;
  
  Progress(argument: _rift_v1_ProgressRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_rift_v1_ProgressResponse__Output>): grpc.ClientUnaryCall;
  Progress(argument: _rift_v1_ProgressRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_rift_v1_ProgressResponse__Output>): grpc.ClientUnaryCall;
  Progress(argument: _rift_v1_ProgressRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_rift_v1_ProgressResponse__Output>): grpc.ClientUnaryCall;
  Progress(argument: _rift_v1_ProgressRequest, callback: grpc.requestCallback<_rift_v1_ProgressResponse__Output>): grpc.ClientUnaryCall;
  progress(argument: _rift_v1_ProgressRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_rift_v1_ProgressResponse__Output>): grpc.ClientUnaryCall;
  progress(argument: _rift_v1_ProgressRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_rift_v1_ProgressResponse__Output>): grpc.ClientUnaryCall;
  progress(argument: _rift_v1_ProgressRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_rift_v1_ProgressResponse__Output>): grpc.ClientUnaryCall;
  progress(argument: _rift_v1_ProgressRequest, callback: grpc.requestCallback<_rift_v1_ProgressResponse__Output>): grpc.ClientUnaryCall;
  
  Subscribe(argument: _rift_v1_SubscribeRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_rift_v1_Notification__Output>;
  Subscribe(argument: _rift_v1_SubscribeRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_rift_v1_Notification__Output>;
  subscribe(argument: _rift_v1_SubscribeRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_rift_v1_Notification__Output>;
  subscribe(argument: _rift_v1_SubscribeRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_rift_v1_Notification__Output>;
  
}

export interface RiftHandlers extends grpc.UntypedServiceImplementation {
  Analyze: grpc.handleUnaryCall<_rift_v1_AnalyzeRequest__Output, _rift_v1_AnalyzeResponse>;
  
  DeleteTask: grpc.handleUnaryCall<_rift_v1_DeleteTaskRequest__Output, _rift_v1_DeleteTaskResponse>;
  
  Narrate: grpc.handleUnaryCall<_rift_v1_NarrateRequest__Output, _rift_v1_NarrateResponse>;
  
  Progress: grpc.handleUnaryCall<_rift_v1_ProgressRequest__Output, _rift_v1_ProgressResponse>;
  
  Subscribe: grpc.handleServerStreamingCall<_rift_v1_SubscribeRequest__Output, _rift_v1_Notification>;
  
}

export interface RiftDefinition extends grpc.ServiceDefinition {
  Analyze: MethodDefinition<_rift_v1_AnalyzeRequest, _rift_v1_AnalyzeResponse, _rift_v1_AnalyzeRequest__Output, _rift_v1_AnalyzeResponse__Output>
  DeleteTask: MethodDefinition<_rift_v1_DeleteTaskRequest, _rift_v1_DeleteTaskResponse, _rift_v1_DeleteTaskRequest__Output, _rift_v1_DeleteTaskResponse__Output>
  Narrate: MethodDefinition<_rift_v1_NarrateRequest, _rift_v1_NarrateResponse, _rift_v1_NarrateRequest__Output, _rift_v1_NarrateResponse__Output>
  Progress: MethodDefinition<_rift_v1_ProgressRequest, _rift_v1_ProgressResponse, _rift_v1_ProgressRequest__Output, _rift_v1_ProgressResponse__Output>
  Subscribe: MethodDefinition<_rift_v1_SubscribeRequest, _rift_v1_Notification, _rift_v1_SubscribeRequest__Output, _rift_v1_Notification__Output>
}
