// A typed TypeScript client for Rift's gRPC API (rift.v1.Rift), on @grpc/grpc-js.
export {
  DEFAULT_TARGET,
  RiftClient,
  RiftError,
  Subscription,
  riftErrorFrom,
} from './client';
export type {
  AnalysisStats,
  AnalyzeResult,
  FieldViolation,
  Json,
  NarrateResult,
  Notification,
  NumberStats,
  ProgressResult,
  RiftClientOptions,
  StringStats,
  TaskStatus,
} from './client';
