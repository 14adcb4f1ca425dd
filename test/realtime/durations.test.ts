import { test } from 'node:test';
import assert from 'node:assert/strict';
import { standaloneKit } from '../helpers/kit.js';
import { InvalidArgumentError, createGateway } from '../../src/index.js';

// Realtime durations take the `ms` grammar (a bare number is ms); a bad one names the option;
// configure() and createGateway() refuse unknown keys by name.

const isArg = (argument: string) => (err: unknown) => err instanceof InvalidArgumentError && err.argument === argument;

test('realtime options: "10s" works, "10 parsecs" is an InvalidArgumentError naming the option', async () => {
  for (const option of ['heartbeatTtlMs', 'heartbeatIntervalMs', 'reapIntervalMs', 'reactionsIdleTtlMs'] as const) {
    const kit = await standaloneKit();
    try {
      kit.realtime.configure({ [option]: '10s' });
      assert.equal(kit.realtime.options[option], 10_000, option);
      assert.throws(
        () => kit.realtime.configure({ [option]: '10 parsecs' }),
        (err: unknown) => isArg(option)(err) && (err as Error).message.includes('10 parsecs'),
        option,
      );
    } finally {
      await kit.close();
    }
  }
  const kit = await standaloneKit();
  try {
    assert.throws(() => kit.realtime.configure({ heartbeatTtl: '10s' } as never), isArg('realtime options.heartbeatTtl'));
  } finally {
    await kit.close();
  }
});

test('gateway options: "10s" works, "10 parsecs" is an InvalidArgumentError naming the option', async () => {
  const kit = await standaloneKit();
  try {
    for (const option of ['pingIntervalMs', 'floodGraceMs'] as const) {
      const gateway = createGateway(kit, { [option]: '10s' });
      await gateway.close();
      assert.throws(
        () => createGateway(kit, { [option]: '10 parsecs' }),
        (err: unknown) => isArg(option)(err) && (err as Error).message.includes('10 parsecs'),
        option,
      );
    }
    assert.throws(() => createGateway(kit, { pingInterval: 1000 } as never), isArg('gateway options.pingInterval'));
  } finally {
    await kit.close();
  }
});
