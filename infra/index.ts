/**
 * `pulumi up -s stateless | stateful`: read and check the configuration, then build the
 * stack (see stack.ts for the wiring, one component per concern).
 */
import { loadConfig } from './config';
import { createStack } from './stack';

const stack = createStack(loadConfig());

/** Open it in a browser: https://<chat:domain>, or http://<load balancer IP> without chat:domain. */
export const url = stack.url;
/** The load balancer's IPv4 address (what the chat:domain A record points at). */
export const loadBalancerIp = stack.loadBalancerIp;
/** For kubectl: `pulumi stack output kubeconfig --show-secrets > kubeconfig.yaml` (secret). */
export const kubeconfig = stack.kubeconfig;
export const clusterName = stack.clusterName;
export const registryEndpoint = stack.registryEndpoint;
/** The image the chat pods run (by digest when built here). */
export const image = stack.image;
/** "memory" (phase 1 of the tutorial) or "aof" (phase 2); with chat:redis managed, "rdb" or "memory" (persistence off). */
export const persistence = stack.persistence;
/** How much a crash can lose: everysec (up to a second) or always (nothing acknowledged); null when memory-only. */
export const appendfsync = stack.appendfsync;
export const redisCommand = stack.redisCommand;
/** The experiment's commands for this stack. */
export const experiment = stack.experiment;
/** The snapshot redis-pvc was created from (chat:restoreFrom), else null. */
export const restoredFrom = stack.restoredFrom;
/** "pod" (redis-deployment) or "managed" (DigitalOcean Managed Valkey): chat:redis. */
export const redis = stack.redis;
/** The stack's monthly list price from what it declares, with the lines and the day the prices were read (infra/prices.ts). */
export const monthlyCost = stack.monthlyCost;
