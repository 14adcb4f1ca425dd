import { createHash, randomUUID } from 'node:crypto';
import { ExternalJobError, InvalidArgumentError } from '../../errors.js';
import type { ExternalJobAdapter, ExternalStatus } from '../types.js';

/** Options of the ComfyUI adapter. */
export interface ComfyUIAdapterOptions {
  /** e.g. `http://127.0.0.1:8188`. */
  baseUrl: string;
  /** ComfyUI's `client_id` for its websocket messages. Default: a random UUID per adapter. */
  clientId?: string;
  /** Bound on each HTTP call in ms. Default 10000. */
  timeoutMs?: number;
}

/** What a ComfyUI job takes: the workflow in API format (`{ "3": { class_type, inputs }, … }`). */
export interface ComfyUIInput {
  prompt: Record<string, unknown>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * ComfyUI's HTTP API as a job adapter: `POST /prompt` → `prompt_id`, `GET /history/{id}` for
 * finished prompts, `GET /queue` for running and pending ones, `POST /queue {delete}` and
 * `POST /interrupt` to cancel. The job id is sent as `prompt_id` (ComfyUI accepts a client
 * chosen one), which is what lets `find` answer "was it submitted?" after a crash.
 */
export class ComfyUIAdapter implements ExternalJobAdapter<ComfyUIInput> {
  readonly #base: string;
  readonly #clientId: string;
  readonly #timeoutMs: number;

  constructor(opts: ComfyUIAdapterOptions) {
    let url: URL;
    try {
      url = new URL(opts?.baseUrl);
    } catch {
      throw new InvalidArgumentError('baseUrl', `ComfyUI baseUrl must be an http(s) URL such as http://127.0.0.1:8188 (got ${JSON.stringify(opts?.baseUrl)})`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new InvalidArgumentError('baseUrl', `ComfyUI baseUrl must use http or https (got ${url.protocol})`);
    this.#base = url.toString().replace(/\/$/, '');
    this.#clientId = opts.clientId ?? randomUUID();
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
  }

  async submit(job: { id: string; input: ComfyUIInput }): Promise<string> {
    if (!job.input || typeof job.input.prompt !== 'object' || job.input.prompt === null) {
      throw new ExternalJobError('ComfyUI job input must be { prompt: <workflow in API format> }');
    }
    // ComfyUI keys prompts by UUID; a job id that is not one is mapped to a stable UUID-shaped id.
    const promptId = UUID.test(job.id) ? job.id : uuidFrom(job.id);
    const reply = (await this.#call('POST', '/prompt', { prompt: job.input.prompt, client_id: this.#clientId, prompt_id: promptId })) as { prompt_id?: string };
    if (!reply?.prompt_id) throw new ExternalJobError('ComfyUI answered POST /prompt without a prompt_id');
    return reply.prompt_id;
  }

  async status(promptId: string): Promise<ExternalStatus> {
    const history = (await this.#call('GET', `/history/${encodeURIComponent(promptId)}`)) as Record<
      string,
      { status?: { status_str?: string; completed?: boolean; messages?: unknown[] }; outputs?: unknown }
    >;
    const entry = history?.[promptId];
    if (entry) {
      const interrupted = entry.status?.messages?.some((m) => Array.isArray(m) && m[0] === 'execution_interrupted');
      if (interrupted) return { state: 'cancelled' };
      if (entry.status?.status_str === 'error') return { state: 'failed', error: errorText(entry.status.messages) };
      return { state: 'succeeded', progress: 100, result: { outputs: entry.outputs ?? {} } };
    }
    const queue = (await this.#call('GET', '/queue')) as { queue_running?: unknown[][]; queue_pending?: unknown[][] };
    if (queue?.queue_running?.some((item) => item[1] === promptId)) return { state: 'running' };
    if (queue?.queue_pending?.some((item) => item[1] === promptId)) return { state: 'queued' };
    return { state: 'unknown' };
  }

  async cancel(promptId: string): Promise<void> {
    const queue = (await this.#call('GET', '/queue')) as { queue_running?: unknown[][] };
    if (queue?.queue_running?.some((item) => item[1] === promptId)) await this.#call('POST', '/interrupt', { prompt_id: promptId });
    else await this.#call('POST', '/queue', { delete: [promptId] });
  }

  async find(job: { id: string }): Promise<string | null> {
    const promptId = UUID.test(job.id) ? job.id : uuidFrom(job.id);
    return (await this.status(promptId)).state === 'unknown' ? null : promptId;
  }

  async #call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    let res: Response;
    try {
      res = await fetch(`${this.#base}${path}`, {
        method,
        headers: body === undefined ? undefined : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (err) {
      throw new ExternalJobError(`ComfyUI ${method} ${path} failed: ${(err as Error)?.message ?? err} — is ComfyUI running at ${this.#base}?`, null, {
        cause: err,
      });
    }
    const text = await res.text();
    if (!res.ok) throw new ExternalJobError(`ComfyUI ${method} ${path} answered ${res.status}: ${text.slice(0, 300)}`, res.status);
    if (!text) return null;
    try {
      return JSON.parse(text);
    } catch {
      throw new ExternalJobError(`ComfyUI ${method} ${path} answered with invalid JSON`, res.status);
    }
  }
}

function errorText(messages: unknown[] | undefined): string {
  const error = messages?.find((m) => Array.isArray(m) && m[0] === 'execution_error') as [string, { exception_message?: string }] | undefined;
  return error?.[1]?.exception_message ?? 'ComfyUI reported an execution error';
}

/** A deterministic UUID-shaped id from any string (same input, same id). */
function uuidFrom(id: string): string {
  const hex = createHash('sha256').update(id).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
