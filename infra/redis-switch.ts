/**
 * Switching an existing stack between chat:redis pod and managed is refused, never done
 * silently: the program does not copy the history (see infra/README.md, "Switch an existing
 * stack"). It reads what the stack's last `pulumi up` reported (its own outputs, through a
 * StackReference to itself) and stops when that names the other place.
 *
 * Only when chat:redis is set: stacks without the key declare exactly what they did before.
 * A switch back made by deleting the key is stopped by `protect` on the database instead.
 */
import * as pulumi from '@pulumi/pulumi';
import type { RedisMode } from './managed-redis';
import type { PreviousOutputs } from './previous-deployment';

/** Where the last deployment kept the history, from its outputs; undefined for a new stack. */
export function previousMode(outputs: PreviousOutputs): RedisMode | undefined {
  if (outputs.redis === 'pod' || outputs.redis === 'managed') return outputs.redis;
  // Deployed before chat:redis existed: it ran the pod.
  return outputs.persistence !== undefined ? 'pod' : undefined;
}

/** The refusal, or undefined when the requested place is where the history already is. */
export function switchProblem(previous: RedisMode | undefined, wanted: RedisMode): string | undefined {
  if (previous === undefined || previous === wanted) return undefined;
  const from =
    previous === 'pod'
      ? 'the redis-deployment pod (and redis-pvc on a persistent stack)'
      : 'the Managed Valkey database <stack>-valkey';
  return (
    `chat:redis must stay "${previous}" on this stack: its chat history is in ${from}, and switching to ` +
    `"${wanted}" would start the chat on an empty ${wanted === 'managed' ? 'database' : 'Redis'} and delete the old one. ` +
    'This program does not copy the history. To move it: deploy a new stack with chat:redis ' +
    `${wanted}, copy the keys chat_history, chat_history_appended and chat_history_runs with DUMP/RESTORE ` +
    '(infra/README.md, "Switch an existing stack"), point your users at the new stack, then destroy this one. ' +
    `Or set chat:redis back to ${previous}.`
  );
}

/** Declares the check: the problem (a sentence) when the last deployment kept the history elsewhere. */
export function redisSwitchProblem(
  wanted: RedisMode,
  previous: pulumi.Output<PreviousOutputs>,
): pulumi.Output<string | undefined> {
  return previous.apply((outputs) => switchProblem(previousMode(outputs), wanted));
}

/** The stack's `redis` output: the mode, or the refusal as the error that stops `pulumi preview` and `up`. */
export function guardRedisSwitch(
  wanted: RedisMode,
  previous: pulumi.Output<PreviousOutputs>,
): pulumi.Output<RedisMode> {
  return redisSwitchProblem(wanted, previous).apply((problem) => {
    if (problem) throw new pulumi.RunError(problem);
    return wanted;
  });
}
