export { LeaderManager, Election, DEFAULT_LEADER_TTL_MS } from './leader.js';
export type { CampaignOptions, LeaderInfo, ElectionEvents } from './leader.js';
