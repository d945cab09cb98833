/**
 * `pulumi up -s stateless | stateful`: read and check the configuration (a wrong value stops
 * the program here, before anything is declared), ask DigitalOcean what the stack must know
 * first, then build the stack (see stack.ts for the wiring, one component per concern).
 */
import * as pulumi from '@pulumi/pulumi';
import { loadConfig } from './config';
import { createStack, StackOutputs } from './stack';

const stack = createStack(loadConfig());

/** One stack output; it keeps its own secrecy (only the kubeconfig is secret). */
function output<K extends keyof StackOutputs>(key: K): pulumi.Output<pulumi.Unwrap<StackOutputs[K]>> {
  return pulumi.output<StackOutputs[K]>(stack.then((s) => s[key]));
}

/** Open it in a browser: https://<chat:domain>, or http://<load balancer IP> without chat:domain. */
export const url = output('url');
/** The load balancer's IPv4 address (what the chat:domain A record points at). */
export const loadBalancerIp = output('loadBalancerIp');
/** For kubectl: `pulumi stack output kubeconfig --show-secrets > kubeconfig.yaml` (secret). */
export const kubeconfig = output('kubeconfig');
export const clusterName = output('clusterName');
export const registryEndpoint = output('registryEndpoint');
/** The image the chat pods run (by digest when built here). */
export const image = output('image');
/** "memory" (phase 1 of the tutorial) or "aof" (phase 2); with chat:redis managed, "rdb" or "memory" (persistence off). */
export const persistence = output('persistence');
/** How much a crash can lose: everysec (up to a second) or always (nothing acknowledged); null when memory-only. */
export const appendfsync = output('appendfsync');
export const redisCommand = output('redisCommand');
/** The experiment's commands for this stack. */
export const experiment = output('experiment');
/** The snapshot redis-pvc was created from (chat:restoreFrom), else null. */
export const restoredFrom = output('restoredFrom');
/** "pod" (redis-deployment) or "managed" (DigitalOcean Managed Valkey): chat:redis. */
export const redis = output('redis');
/** The stack's monthly list price from what it declares, with the lines and the day the prices were read (infra/prices.ts). */
export const monthlyCost = output('monthlyCost');
