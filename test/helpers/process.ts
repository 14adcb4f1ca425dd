import { spawn, type ChildProcess } from 'node:child_process';

/** A Node process spawned by a test, with its stdout collected line by line. */
export interface LineProcess {
  child: ChildProcess;
  lines: string[];
}

/** Runs `script` with the test's env plus `env`; stderr goes to the test output. */
export function spawnWithLines(script: string, env: Record<string, string>): LineProcess {
  const child = spawn(process.execPath, [script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    lines.push(...parts);
  });
  return { child, lines };
}
