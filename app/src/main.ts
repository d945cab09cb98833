/**
 * The replica process: `npm run serve`, the container's CMD, and each cluster worker
 * of the local stack (it only listens on PORT/HOST, so it works unchanged there).
 */
import { loadConfig, type ServiceConfig } from './config';
import { createLogger } from './logger';
import { startService } from './service';

/**
 * After SIGTERM the replica is gone within DRAIN_SECONDS (config.drainSeconds): it stops
 * accepting and ends the live feeds at once, lets requests in flight finish until this much
 * before the limit, then cuts what is left, closes Redis and exits. The pod's grace period
 * (infra/chat-app.ts) is the preStop wait plus DRAIN_SECONDS plus slack.
 */
const CLOSE_MS = 2_000;

async function main(): Promise<void> {
  let config: ServiceConfig;
  try {
    config = loadConfig();
  } catch (err) {
    process.stderr.write(`chat: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const logger = createLogger(config.logLevel, config.replicaName);

  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception; exiting');
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    logger.fatal({ err }, 'unhandled rejection; exiting');
    process.exit(1);
  });

  let service;
  try {
    service = await startService(config, { logger, drainMs: config.drainSeconds * 1000 - CLOSE_MS });
  } catch (err) {
    logger.fatal({ err }, `could not start: ${(err as Error).message}`);
    process.exit(1);
  }

  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    const limitMs = config.drainSeconds * 1000;
    logger.info({ signal, drainSeconds: config.drainSeconds }, 'shutting down');
    const force = setTimeout(() => {
      logger.error(`still running ${limitMs} ms after ${signal}; exiting anyway`);
      process.exit(1);
    }, limitMs);
    force.unref();
    service.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

void main().catch((err: unknown) => {
  process.stderr.write(`chat: ${String((err as Error)?.stack ?? err)}\n`);
  process.exit(1);
});
