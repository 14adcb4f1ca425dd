import type { Redis } from 'ioredis';

type Socket = Redis['stream'];

/**
 * Sends every command `client` is given during one tick in one socket write: the socket is
 * corked at the tick's first command and uncorked once the tick's callbacks and promise jobs
 * have run (process.nextTick).
 *
 * Why not ioredis's `enableAutoPipelining`: it keeps one batch in flight per client, so this
 * process and Redis take turns, each idle while the other works. Corking batches the writes just
 * as well (a write syscall costs ~25 µs on this machine) with no limit on batches in flight.
 * Measured with plain GET/SET at 100 concurrent: 127 k → 187 k GET/s and 120 k → 177 k SET/s.
 *
 * It wraps the instance's `sendCommand`, through which every command of the client goes.
 * `flushWrites(client)` sends what is corked at once (callers that want Redis to start early).
 */
export function batchWritesPerTick(client: Redis): void {
  const send = client.sendCommand;
  const state: CorkState = { corked: null, scripts: 0 };
  const uncork = () => {
    const socket = state.corked;
    state.corked = null;
    state.scripts = 0;
    socket?.uncork();
  };
  corkState.set(client, state);
  client.sendCommand = function sendCorked(this: Redis, ...args: Parameters<Redis['sendCommand']>) {
    if (state.corked === null && client.status === 'ready') {
      const socket = client.stream;
      if (socket) {
        socket.cork();
        state.corked = socket;
        process.nextTick(uncork);
      }
    }
    const sent = send.apply(this, args);
    // Scripts are costly in Redis: held to the end of the tick, a tick's worth would reach
    // Redis at once and come back at once, this process and Redis taking turns again (job
    // updates: 0.55× the throughput). Every SCRIPTS_PER_WRITE of them go out without waiting.
    const name = args[0].name;
    if ((name === 'evalsha' || name === 'eval') && ++state.scripts >= SCRIPTS_PER_WRITE) flush(state);
    return sent;
  } as Redis['sendCommand'];
}

const SCRIPTS_PER_WRITE = 16;

interface CorkState {
  corked: Socket | null;
  scripts: number;
}

const corkState = new WeakMap<Redis, CorkState>();

/** Writes what `client` holds corked now; later commands of this tick are corked again. */
export function flushWrites(client: object): void {
  // A Cluster has no cork state of its own (its node connections do): nothing to flush here.
  const state = corkState.get(client as Redis);
  if (state) flush(state);
}

function flush(state: CorkState): void {
  state.scripts = 0;
  const socket = state.corked;
  if (!socket) return;
  socket.uncork();
  socket.cork();
}
