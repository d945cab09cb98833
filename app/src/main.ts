/**
 * The replica process: `npm run serve`, the container's CMD, and each cluster worker
 * of the local stack (it only listens on PORT/HOST, so it works unchanged there).
 */
import { loadConfig, type ServiceConfig } from './config';
import { createLogger } from './logger';
import { startService } from './service';

/** The service promises to be gone this long after SIGTERM (Kubernetes waits 30 s by default). */
const SHUTDOWN_LIMIT_MS = 10_000;

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
    service = await startService(config, { logger, drainMs: SHUTDOWN_LIMIT_MS - 2000 });
  } catch (err) {
    logger.fatal({ err }, `could not start: ${(err as Error).message}`);
    process.exit(1);
  }

  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      logger.error(`still running ${SHUTDOWN_LIMIT_MS} ms after ${signal}; exiting anyway`);
      process.exit(1);
    }, SHUTDOWN_LIMIT_MS);
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
