// Removes dist/ before a build, so that a deleted source file never leaves a stale test behind.
import { rmSync } from 'node:fs';
rmSync('dist', { recursive: true, force: true });
