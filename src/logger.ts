import type { Logger } from './config/types.js';

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 } as const;
type Level = keyof typeof LEVELS;

/**
 * The default logger: JSON lines on stderr at `REDKIT_LOG_LEVEL` (default `warn`).
 * Pass a pino instance as `options.logger` to use your own.
 */
export function createDefaultLogger(level: string | undefined = process.env.REDKIT_LOG_LEVEL): Logger {
  const min = LEVELS[(level as Level) in LEVELS ? (level as Level) : 'warn'];
  const write = (name: Level) => (obj: object, msg?: string) => {
    if (LEVELS[name] < min) return;
    process.stderr.write(`${JSON.stringify({ level: name, time: Date.now(), name: 'redkit', ...obj, msg })}\n`);
  };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

/** A logger that drops everything. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
