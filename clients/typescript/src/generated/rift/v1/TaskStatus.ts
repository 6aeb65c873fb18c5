// Original file: ../../proto/rift/v1/rift.proto

export const TaskStatus = {
  TASK_STATUS_UNSPECIFIED: 'TASK_STATUS_UNSPECIFIED',
  NOT_STARTED: 'NOT_STARTED',
  IN_PROGRESS: 'IN_PROGRESS',
  COMPLETED: 'COMPLETED',
  STALE: 'STALE',
} as const;

export type TaskStatus =
  | 'TASK_STATUS_UNSPECIFIED'
  | 0
  | 'NOT_STARTED'
  | 1
  | 'IN_PROGRESS'
  | 2
  | 'COMPLETED'
  | 3
  | 'STALE'
  | 4

export type TaskStatus__Output = typeof TaskStatus[keyof typeof TaskStatus]
