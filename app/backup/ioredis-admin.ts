import type Redis from 'ioredis';
import type { RedisAdmin } from './aof-quiesce';

/** RedisAdmin over an ioredis connection (the local stack's Redis). */
export function ioredisAdmin(redis: Redis): RedisAdmin {
  return {
    async configGet(name) {
      const reply = (await redis.config('GET', name)) as string[];
      return reply[1] ?? '';
    },
    async configSet(name, value) {
      await redis.config('SET', name, value);
    },
    async bgrewriteaof() {
      return String(await redis.bgrewriteaof());
    },
    info: (section) => redis.info(section),
  };
}
