import { describe, before, after } from 'node:test';

/** One way to build the subject of a contract suite: the Redis and the in-memory implementation. */
export interface Implementation<T> {
  name: string;
  /** Builds a fresh subject; `teardown` releases it (and any server it started). */
  setup(): Promise<{ subject: T; teardown(): Promise<void> }>;
}

/**
 * Runs the same tests against every implementation of a capability — how the in-memory mode is
 * proven real. `tests` receives a getter for the subject built by the current implementation.
 */
export function contractSuite<T>(title: string, implementations: Array<Implementation<T>>, tests: (subject: () => T, implementation: string) => void): void {
  for (const implementation of implementations) {
    describe(`${title} [${implementation.name}]`, () => {
      let built: { subject: T; teardown(): Promise<void> } | undefined;
      before(async () => {
        built = await implementation.setup();
      });
      after(async () => {
        await built?.teardown();
      });
      tests(() => {
        if (!built) throw new Error(`${implementation.name} was not set up`);
        return built.subject;
      }, implementation.name);
    });
  }
}
