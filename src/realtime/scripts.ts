import { defineScripts } from '../connection/scripts.js';

/** The realtime scripts: presence and reactions, keys then the arguments each file's header lists. */
export const realtimeScripts = defineScripts(import.meta.url, 'realtime', {
  presenceJoin: { file: 'presence-join-3.lua', keys: ['membersKey', 'metaKey', 'instanceKey'] },
  presenceLeave: { file: 'presence-leave-3.lua', keys: ['membersKey', 'metaKey', 'instanceKey'] },
  presenceHeartbeat: { file: 'presence-heartbeat-1.lua', keys: ['instancesKey'] },
  presenceExpired: { file: 'presence-expired-1.lua', keys: ['instancesKey'] },
  reactionsAdd: { file: 'reactions-add-2.lua', keys: ['countsKey', 'byKey'] },
  reactionsAssert: { file: 'reactions-assert-2.lua', keys: ['countsKey', 'byKey'] },
});
