import { defineScripts } from '../connection/scripts.js';

/** The presence scripts: keys, then the arguments each file's header lists. */
export const presenceScripts = defineScripts(import.meta.url, 'presence', {
  join: { file: 'presence-join-3.lua', keys: ['membersKey', 'metaKey', 'instanceKey'] },
  leave: { file: 'presence-leave-3.lua', keys: ['membersKey', 'metaKey', 'instanceKey'] },
  heartbeat: { file: 'presence-heartbeat-1.lua', keys: ['instancesKey'] },
  expired: { file: 'presence-expired-1.lua', keys: ['instancesKey'] },
});

/** The reaction scripts: keys, then the arguments each file's header lists. */
export const reactionScripts = defineScripts(import.meta.url, 'reactions', {
  add: { file: 'reactions-add-2.lua', keys: ['countsKey', 'byKey'] },
  assert: { file: 'reactions-assert-2.lua', keys: ['countsKey', 'byKey'] },
});
