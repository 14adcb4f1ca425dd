// Unknown option keys are refused by name, not ignored: createRedkit (ConfigError) and the
// NestJS module's forRoot / forRootAsync (InvalidArgumentError), with a suggestion for a typo.
import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, InvalidArgumentError, createRedkit, silentLogger } from '../../src/index.js';
import { RedkitModule } from '../../src/nestjs/index.js';

test('createRedkit refuses an unknown key with a ConfigError naming it', async () => {
  await assert.rejects(
    createRedkit({ env: {}, logger: silentLogger, keyPrefx: 'app' } as never),
    (err: unknown) => err instanceof ConfigError && err.variable === 'createRedkit options.keyPrefx' && err.message.includes('did you mean "keyPrefix"'),
  );
  // Every documented key (and the internals) is accepted.
  const kit = await createRedkit({ env: {}, logger: silentLogger, keyPrefix: 'ok', standalone: true, backoff: { baseMs: 10, maxMs: 100 }, stallMs: 500 });
  await kit.close();
});

test('RedkitModule.forRoot and forRootAsync refuse unknown keys by name', () => {
  assert.throws(
    () => RedkitModule.forRoot({ env: {}, isGlobl: true } as never),
    (err: unknown) =>
      err instanceof InvalidArgumentError && err.argument === 'RedkitModule.forRoot options.isGlobl' && err.message.includes('did you mean "isGlobal"'),
  );
  assert.throws(
    () => RedkitModule.forRootAsync({ useFactory: () => ({}), injct: [] } as never),
    (err: unknown) => err instanceof InvalidArgumentError && err.argument === 'RedkitModule.forRootAsync options.injct',
  );
  // Known keys pass: the module's own and createRedkit's.
  RedkitModule.forRoot({ env: {}, isGlobal: true, caches: {}, keyPrefix: 'x', closeOnShutdown: true });
  RedkitModule.forRootAsync({ useFactory: () => ({}), inject: [], isGlobal: false });
});
