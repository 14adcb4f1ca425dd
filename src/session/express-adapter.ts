import type { SessionStore, StoredSession } from './session-store.js';
import type { SessionCallback, SessionData } from './types.js';

/** A subclass of express-session's `Store` that delegates to `store`. */
export function expressAdapter(Base: new () => object, store: SessionStore): object {
  const Adapter = class RedkitExpressSessionStore extends Base {
    get(sid: string, cb: SessionCallback<SessionData | null>) {
      store.get(sid, cb);
    }
    set(sid: string, session: object, cb?: SessionCallback) {
      store.set(sid, session, cb ?? noop);
    }
    touch(sid: string, session: object, cb?: SessionCallback) {
      store.touch(sid, session, cb ?? noop);
    }
    destroy(sid: string, cb?: SessionCallback) {
      store.destroy(sid, cb ?? noop);
    }
    all(cb: SessionCallback<StoredSession[]>) {
      store.all(cb);
    }
    length(cb: SessionCallback<number>) {
      store.length(cb);
    }
    clear(cb?: SessionCallback) {
      store.clear(cb ?? noop);
    }
  };
  return new Adapter();
}

// express-session always passes a callback; a direct caller that passes none asked not to hear back.
function noop(): void {}
