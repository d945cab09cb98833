import { loadConfig, type ServiceConfig } from '../../src/config';
import { startService, type RunningService, type ServiceOptions } from '../../src/service';

export type TestService = RunningService & { config: ServiceConfig };

/** One in-process replica on a free 127.0.0.1 port, silent, rate limit off unless asked. */
export async function startTestService(
  redisUrl: string,
  env: Record<string, string> = {},
  opts: ServiceOptions = {},
): Promise<TestService> {
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    REDIS_URL: redisUrl,
    REPLICA_NAME: 'test-replica',
    LOG_LEVEL: 'silent',
    RATE_LIMIT_PER_MIN: '0',
    ...env,
  });
  const service = await startService(config, opts);
  return { ...service, config };
}
