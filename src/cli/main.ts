#!/usr/bin/env node
// `redkit` command line. Flags override env vars, as options do in code.
import { parseArgs } from 'node:util';
import type { RedkitOptions } from '../config/types.js';
import { formatDoctor, runDoctor } from './doctor.js';

const usage = `usage: redkit doctor [--url URL] [--host H] [--port P] [--username U] [--password P]
                     [--tls] [--no-tls] [--db N] [--timeout MS] [--json]
Checks config, DNS, TCP, TLS, AUTH, PING, version, maxmemory-policy and persistence.
Exit code: 0 usable, 1 not usable, 2 bad configuration. Env: REDIS_URL, REDIS_HOST, …`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command !== 'doctor') {
    process.stdout.write(`${usage}\n`);
    return command === undefined || command === '--help' || command === 'help' ? 0 : 2;
  }
  let values;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        url: { type: 'string' },
        host: { type: 'string' },
        port: { type: 'string' },
        username: { type: 'string' },
        password: { type: 'string' },
        tls: { type: 'boolean' },
        'no-tls': { type: 'boolean' },
        db: { type: 'string' },
        timeout: { type: 'string' },
        json: { type: 'boolean' },
      },
    }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${usage}\n`);
    return 2;
  }
  const options: RedkitOptions = {};
  if (values.url !== undefined) options.url = values.url;
  if (values.host !== undefined) options.host = values.host;
  if (values.port !== undefined) options.port = values.port as unknown as number;
  if (values.username !== undefined) options.username = values.username;
  if (values.password !== undefined) options.password = values.password;
  if (values.tls) options.tls = true;
  if (values['no-tls']) options.tls = false;
  if (values.db !== undefined) options.db = values.db as unknown as number;
  if (values.timeout !== undefined) options.connectTimeoutMs = values.timeout as unknown as number;
  const report = await runDoctor(options);
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatDoctor(report)}\n`);
  return report.exitCode;
}

// Exits explicitly: a CLI must not linger on a half-open socket to a misbehaving server.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`redkit: ${(err as Error)?.message ?? err}\n`);
    process.exit(1);
  },
);
