// Error codes are a typed union: tsc refuses a code that is not in RedkitErrorCode (the
// expect-error directives below fail the build if it ever accepts one), and every class in `errors`
// carries a code of the union at run time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RedkitError, RedisUnavailableError, errors, type RedkitErrorCode } from 'redkit';

const KNOWN: readonly RedkitErrorCode[] = [
  'E_CONFIG',
  'E_INVALID_ARGUMENT',
  'E_STANDALONE',
  'E_CLOSED',
  'E_NEST_NOT_INSTALLED',
  'E_REDIS_UNAVAILABLE',
  'E_REDIS_NOPERM',
  'E_REDIS_OOM',
  'E_REDIS_READONLY',
  'E_REDIS_REPLY',
  'E_CACHE_SERIALIZATION',
  'E_CACHE_VALUE_TOO_LARGE',
  'E_CACHE_REMOTE_LOAD',
  'E_LOCK_BUSY',
  'E_LOCK_NOT_HELD',
  'E_QUEUE_UNAVAILABLE',
  'E_JOB_DATA',
  'E_JOB_TIMEOUT',
  'E_JOB_NOT_FOUND',
  'E_JOB_EXISTS',
  'E_JOB_TRANSITION',
  'E_EXTERNAL_JOB',
  'E_SESSION_UNAVAILABLE',
  'E_SESSION_DATA',
];

test('tsc refuses a code outside the union', () => {
  // @ts-expect-error 'E_NOT_A_CODE' is not a RedkitErrorCode
  const bad = new RedkitError('E_NOT_A_CODE', 'x');
  // @ts-expect-error the fourth argument is a RedkitErrorCode too
  const badSub = new RedisUnavailableError('x', 'UNAVAILABLE', undefined, 'E_TYPO');
  // Runtime is unchanged: the constructor stores whatever it is given.
  assert.equal(bad.code, 'E_NOT_A_CODE');
  assert.equal(badSub.code, 'E_TYPO');
});

test('a code narrows in a switch', () => {
  const describe = (err: RedkitError): string => {
    switch (err.code) {
      case 'E_LOCK_BUSY':
        return 'busy';
      // @ts-expect-error a misspelt case is an error against the union
      case 'E_LOCK_BSY':
        return 'never';
      default:
        return 'other';
    }
  };
  assert.equal(describe(new errors.LockBusyError('x', 'busy', 10, 10)), 'busy');
});

test('every error class carries a known code', () => {
  const samples: RedkitError[] = [
    new errors.ConfigError('REDIS_URL', 'bad'),
    new errors.InvalidArgumentError('ttl', 'bad'),
    new errors.RedisUnavailableError('down'),
    new errors.ClosedError('kit'),
    new errors.LockBusyError('x', 'busy', 10, 10),
    new errors.JobNotFoundError('j'),
    new errors.JobExistsError('j'),
    new errors.CacheValueTooLargeError('ns', 'k', 10, 5),
  ];
  for (const err of samples) assert.ok(KNOWN.includes(err.code), `${err.name}: ${err.code}`);
});
