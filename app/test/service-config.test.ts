import os from 'node:os';
import { loadConfig } from '../src/config';

describe('loadConfig: the service is configured from the environment', () => {
  it('has a default for everything', () => {
    expect(loadConfig({})).toEqual({
      port: 8080,
      host: '0.0.0.0',
      redisUrl: 'redis://127.0.0.1:6379',
      redisPassword: undefined,
      historyLimit: 100,
      replicaName: os.hostname(),
      rateLimitPerMin: 60,
      logLevel: 'info',
      trustProxy: false,
      httpsOnly: false,
      maxLiveStreams: 4000,
      maxStreamsPerClient: 10,
      drainSeconds: 10,
    });
  });

  it('reads every variable', () => {
    expect(
      loadConfig({
        PORT: '0',
        HOST: '127.0.0.1',
        REDIS_URL: 'rediss://redis-service:6380/0',
        REDIS_PASSWORD: ' s3cret ',
        HISTORY_LIMIT: '7',
        REPLICA_NAME: 'chat-app-deployment-5d9f-abcde',
        RATE_LIMIT_PER_MIN: '0',
        LOG_LEVEL: 'debug',
        TRUST_PROXY: '1',
        HTTPS_ONLY: 'true',
        MAX_LIVE_STREAMS: '250',
        MAX_STREAMS_PER_CLIENT: '3',
        DRAIN_SECONDS: '25',
      }),
    ).toEqual({
      port: 0,
      host: '127.0.0.1',
      redisUrl: 'rediss://redis-service:6380/0',
      redisPassword: ' s3cret ',
      historyLimit: 7,
      replicaName: 'chat-app-deployment-5d9f-abcde',
      rateLimitPerMin: 0,
      logLevel: 'debug',
      trustProxy: 1,
      httpsOnly: true,
      maxLiveStreams: 250,
      maxStreamsPerClient: 3,
      drainSeconds: 25,
    });
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ PORT: '', HISTORY_LIMIT: ' ', REDIS_PASSWORD: '' })).toMatchObject({
      port: 8080,
      historyLimit: 100,
      redisPassword: undefined,
    });
  });

  it('turns the per-client live-feed cap off with MAX_STREAMS_PER_CLIENT=0; the replica-wide cap cannot be turned off', () => {
    expect(loadConfig({ MAX_STREAMS_PER_CLIENT: '0', MAX_LIVE_STREAMS: '100000' })).toMatchObject({
      maxStreamsPerClient: 0,
      maxLiveStreams: 100_000,
    });
    expect(() => loadConfig({ MAX_LIVE_STREAMS: '0' })).toThrow(
      /MAX_LIVE_STREAMS must be a whole number from 1 to 100000; got "0"/,
    );
  });

  it.each([
    ['true', true],
    ['false', false],
    ['2', 2],
    ['loopback, 10.0.0.0/8,fd00::/8', 'loopback, 10.0.0.0/8, fd00::/8'],
  ])('reads TRUST_PROXY=%j', (value, expected) => {
    expect(loadConfig({ TRUST_PROXY: value }).trustProxy).toEqual(expected);
  });

  it.each([
    ['PORT', 'http', /PORT must be a whole number from 0 to 65535; got "http"/],
    ['PORT', '65536', /PORT must be a whole number from 0 to 65535/],
    ['PORT', '-1', /PORT must be a whole number/],
    ['PORT', '80.5', /PORT must be a whole number/],
    ['HISTORY_LIMIT', '0', /HISTORY_LIMIT must be a whole number from 1 to 10000; got "0"/],
    ['HISTORY_LIMIT', 'lots', /HISTORY_LIMIT must be a whole number/],
    ['RATE_LIMIT_PER_MIN', '-5', /RATE_LIMIT_PER_MIN must be a whole number from 0 to 1000000/],
    ['REDIS_URL', 'redis-service:6379', /REDIS_URL must be a URL like redis:\/\/host:6379/],
    ['REDIS_URL', 'http://redis:6379', /REDIS_URL must be a URL like redis:\/\/host:6379 .*got "http:\/\/redis:6379"/],
    ['LOG_LEVEL', 'verbose', /LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent; got "verbose"/],
    [
      'TRUST_PROXY',
      'yes',
      /TRUST_PROXY must be false, true, a number of proxy hops \(0-10\), or a comma-separated list/,
    ],
    ['TRUST_PROXY', '10.0.0.0/33', /TRUST_PROXY must be/],
    ['HTTPS_ONLY', 'yes', /HTTPS_ONLY must be true or false; got "yes"/],
    ['MAX_LIVE_STREAMS', 'many', /MAX_LIVE_STREAMS must be a whole number from 1 to 100000; got "many"/],
    ['MAX_LIVE_STREAMS', '100001', /MAX_LIVE_STREAMS must be a whole number from 1 to 100000/],
    ['MAX_LIVE_STREAMS', '-1', /MAX_LIVE_STREAMS must be a whole number/],
    ['MAX_STREAMS_PER_CLIENT', '2.5', /MAX_STREAMS_PER_CLIENT must be a whole number from 0 to 100000; got "2.5"/],
    ['MAX_STREAMS_PER_CLIENT', '100001', /MAX_STREAMS_PER_CLIENT must be a whole number from 0 to 100000/],
    ['REPLICA_NAME', 'pod\u0007', /REPLICA_NAME must be 1 to 100 printable ASCII characters/],
  ])('rejects %s=%j with a message naming it', (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrow(message);
  });
});
