import { defineScripts } from '../connection/scripts.js';

/** The job record scripts: the job hash, then the arguments each file's header lists. */
export const jobScripts = defineScripts(import.meta.url, 'job', {
  create: { file: 'job-create-1.lua', keys: ['jobKey'] },
  update: { file: 'job-update-1.lua', keys: ['jobKey'] },
  restore: { file: 'job-restore-1.lua', keys: ['jobKey'] },
});
