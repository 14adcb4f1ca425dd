import diagnostics from 'node:diagnostics_channel';
import type { RedisClient } from '../connection/cluster.js';

/**
 * What identifies a redkit operation in a trace: `name` is `redkit.<capability>.<operation>`
 * (`redkit.lock.acquire`). Never a key, a value or a member id: a tracer may export it.
 */
export interface OperationLabel {
  name: string;
  capability: string;
  operation: string;
}

/** The context published on `redkit:operation` (plus `result` / `error` set by the tracing channel). */
export interface OperationContext extends OperationLabel {
  result?: unknown;
  error?: unknown;
}

/** The context ioredis publishes on `ioredis:command`, with `redkit` added for redkit's script calls. */
export interface LabelledCommandContext {
  command: string;
  args: string[];
  /** Which script this EVALSHA runs, and how many calls one batched EVALSHA carries. */
  redkit?: OperationLabel & { script: string; calls: number };
}

/**
 * redkit's tracing channel, named like ioredis's own (`ioredis:command`): start/end/asyncStart/
 * asyncEnd/error around a capability operation. An OpenTelemetry or APM subscriber turns it into
 * a span named `context.name`; the ioredis commands the operation sends nest under it.
 */
export const operationChannel = diagnostics.tracingChannel<OperationContext>('redkit:operation');

/**
 * Runs `fn` as the traced operation `label` when someone subscribes to `redkit:operation`;
 * otherwise calls `fn` directly (one property read of cost).
 */
export function traced<T>(label: OperationLabel, fn: () => Promise<T>): Promise<T> {
  if (!operationChannel.hasSubscribers) return fn();
  // A fresh object per call: the channel adds result/error to it.
  return operationChannel.tracePromise(fn, { name: label.name, capability: label.capability, operation: label.operation });
}

/** The label of an operation, made once per call site (`operationLabel('lock', 'acquire')`). */
export function operationLabel(capability: string, operation: string): OperationLabel {
  return { name: `redkit.${capability}.${operation}`, capability, operation };
}

const scriptLabels = new Map<string, OperationLabel & { script: string }>();

/**
 * The label of a registered script, from its name in defineScripts: `lock.acquire` →
 * `redkit.lock.acquire`; also from a versioned name: `redkitJobLockExtendV1` → `redkit.job.lockExtend`.
 */
export function scriptLabel(script: string): OperationLabel & { script: string } {
  let label = scriptLabels.get(script);
  const dot = script.indexOf('.');
  if (!label && dot > 0) {
    label = { ...operationLabel(script.slice(0, dot), script.slice(dot + 1)), script };
    scriptLabels.set(script, label);
  }
  if (!label) {
    const words = script
      .replace(/^redkit/, '')
      .replace(/V\d+$/, '')
      .split(/(?=[A-Z])/);
    const capability = (words[0] ?? 'script').toLowerCase();
    const rest = words.slice(1).join('');
    const operation = rest ? rest[0]!.toLowerCase() + rest.slice(1) : 'run';
    label = { ...operationLabel(capability, operation), script };
    scriptLabels.set(script, label);
  }
  return label;
}

const commandChannel = diagnostics.tracingChannel('ioredis:command');

/** Whether anyone traces ioredis commands now: labels are only built then. */
export function commandTracingActive(): boolean {
  return commandChannel.hasSubscribers;
}

/** Where a Command sent by redkit keeps its label (read by the patched context builder below). */
export const COMMAND_LABEL = Symbol.for('redkit.commandLabel');

/** Tags an ioredis Command with the script it runs, so `ioredis:command` subscribers can name it. */
export function labelCommand(command: object, script: string, calls: number): void {
  (command as Record<symbol, unknown>)[COMMAND_LABEL] = { ...scriptLabel(script), calls };
}

interface ContextBuilder {
  _buildCommandContext?: (command: object) => LabelledCommandContext;
}

/**
 * Makes `client`'s `ioredis:command` contexts carry `redkit: { name, capability, operation,
 * script, calls }` for the commands redkit labelled, instead of an anonymous `evalsha`. ioredis 6
 * builds that context only when the channel has subscribers, so this costs nothing otherwise.
 * The builder is an ioredis internal: when a version lacks it, contexts stay unlabelled.
 */
export function labelClientCommands(client: RedisClient): void {
  const target = client as unknown as ContextBuilder;
  const build = target._buildCommandContext;
  if (typeof build !== 'function' || (build as { labelled?: boolean }).labelled) return;
  const labelled = function (this: unknown, command: object): LabelledCommandContext {
    const context = build.call(this, command);
    const label = (command as Record<symbol, LabelledCommandContext['redkit']>)[COMMAND_LABEL];
    if (label) context.redkit = label;
    return context;
  };
  (labelled as { labelled?: boolean }).labelled = true;
  target._buildCommandContext = labelled;
}
