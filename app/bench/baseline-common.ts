/**
 * What the two baseline replica programs share: the environment a replica reads, the
 * chat's Redis connections (a command connection with ChatStore, and a subscriber on
 * the messages channel, as every service replica holds, so Redis fans each PUBLISH out
 * to the same number of connections), and a stop on SIGTERM.
 */
import type { Server } from 'node:http';
import { Redis } from 'ioredis';
import { ChatStore, MESSAGES_CHANNEL } from '../src/chat-store';

export const env = {
  port: Number(process.env.PORT ?? 0),
  host: process.env.HOST ?? '127.0.0.1',
  redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  replica: process.env.REPLICA_NAME ?? `baseline-${process.pid}`,
  historyLimit: Number(process.env.HISTORY_LIMIT ?? 100),
};

export const redis = new Redis(env.redisUrl);
const subscriber = new Redis(env.redisUrl);
redis.on('error', () => {});
subscriber.on('error', () => {});
void subscriber.subscribe(MESSAGES_CHANNEL).catch(() => {});
subscriber.on('message', () => {});

export const store = new ChatStore(redis, { historyLimit: env.historyLimit });

/** Listens, and stops (connections, Redis) on SIGTERM from the cluster primary. */
export function serve(server: Server): void {
  server.listen(env.port, env.host);
  process.on('SIGTERM', () => {
    server.close();
    server.closeAllConnections();
    void Promise.allSettled([redis.quit(), subscriber.quit()]).then(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
