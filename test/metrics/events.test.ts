// kit.on / kit.off: typed events, a listener that throws never breaks the toolkit, unknown
// names are refused, and `wants` (what emit sites check first) follows the listeners.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError, REDKIT_EVENTS, type Logger } from '../../src/index.js';
import { standaloneKit } from '../helpers/kit.js';

test('listeners get the payload; wants follows on/off; a throwing listener is logged', async () => {
  const warnings: object[] = [];
  const logger: Logger = {
    debug() {},
    info() {},
    error() {},
    warn(obj) {
      warnings.push(obj);
    },
  };
  const kit = await standaloneKit({ logger });
  try {
    const events = kit.metrics.events;
    for (const name of REDKIT_EVENTS) assert.equal(events.wants[name], false, `${name} unwanted at start`);
    const seen: unknown[] = [];
    const off = kit.on('lockLost', (p) => seen.push(p));
    const offThrower = kit.on('lockLost', () => {
      throw new Error('listener bug');
    });
    assert.equal(events.wants.lockLost, true);
    events.emit('lockLost', { kind: 'lock', name: 'jobs' });
    assert.deepEqual(seen, [{ kind: 'lock', name: 'jobs' }]);
    assert.equal(warnings.length, 1, 'the throwing listener was logged, the emit did not throw');
    off();
    events.emit('lockLost', { kind: 'lock', name: 'jobs' });
    assert.equal(seen.length, 1, 'removed listener is not called');
    assert.equal(events.wants.lockLost, true, 'still wanted: one listener left');
    offThrower();
    assert.equal(events.wants.lockLost, false, 'unwanted once the last listener is gone');
    assert.throws(() => kit.on('nope' as 'hit', () => {}), InvalidArgumentError);
  } finally {
    await kit.close();
  }
});
