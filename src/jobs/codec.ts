import type { JobRecord, JobStatus } from './types.js';

/** A record as hash fields: JSON for input/result, plain strings for the rest. */
export function toFields(record: Partial<JobRecord>): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(record)) {
    if (v === undefined) continue;
    if (k === 'input' || k === 'result') out.push(k, JSON.stringify(v));
    else if (k === 'externalId') out.push(k, v === null ? '' : String(v));
    else out.push(k, String(v));
  }
  return out;
}

/** The inverse of `toFields`, from HGETALL's object or a flat field/value array. */
export function fromFields(raw: Record<string, string> | string[]): JobRecord {
  const h: Record<string, string> = {};
  if (Array.isArray(raw)) for (let i = 0; i + 1 < raw.length; i += 2) h[raw[i]!] = raw[i + 1]!;
  else Object.assign(h, raw);
  const record: JobRecord = {
    id: h.id ?? '',
    kind: h.kind ?? '',
    status: (h.status ?? 'queued') as JobStatus,
    progress: Number(h.progress ?? 0),
    externalId: h.externalId ? h.externalId : null,
    attempts: Number(h.attempts ?? 0),
    createdAt: Number(h.createdAt ?? 0),
    updatedAt: Number(h.updatedAt ?? 0),
  };
  if (h.input !== undefined) record.input = JSON.parse(h.input);
  if (h.result !== undefined) record.result = JSON.parse(h.result);
  if (h.error !== undefined) record.error = h.error;
  return record;
}
