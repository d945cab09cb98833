import type { AppendFsync } from '../../infra/persistence';
import type { TargetKind } from './args';

/** What a target says about itself once started. */
export interface TargetInfo {
  /** Base URL of the chat service (the load balancer, or the local stack's port). */
  url: string;
  /** Whether Redis keeps an append-only file on a volume (the stack's promise). */
  persistence: boolean;
  /** Redis's fsync policy; null when there is no AOF. */
  appendfsync: AppendFsync | null;
  /** --redis managed: the emulated managed service's persistence and dump interval. */
  managed?: ManagedRun;
  /** One line for the report's header, e.g. the Redis command line. */
  description: string;
}

export interface ManagedRun {
  persistence: 'rdb' | 'off';
  /** Seconds between dumps with rdb; null with off. */
  snapshotSeconds: number | null;
}

export interface KillResult {
  /** From the kill until the replacement Redis accepts connections (local) or its pod is Ready (cluster). */
  redisRecoveryMs: number;
  /** Whether the replacement logged "DB loaded from append only file". */
  aofLoaded: boolean;
  /** Whether it loaded an RDB snapshot ("DB loaded from disk"; the managed emulation). */
  snapshotLoaded?: boolean;
}

/**
 * Where the experiment runs. `killRedis` does what `kubectl delete pod -l app=redis`
 * does and resolves once the replacement Redis is up; `waitServiceReady` resolves once
 * the chat answers GET /readyz 200 again.
 */
export interface Target {
  readonly kind: TargetKind;
  start(): Promise<TargetInfo>;
  killRedis(): Promise<KillResult>;
  waitServiceReady(timeoutMs: number): Promise<void>;
  /** Idempotent; leaves no process behind. */
  stop(): Promise<void>;
}

/** A failure to set up or run against a target: reported as its message, without a stack trace. */
export class TargetError extends Error {}
