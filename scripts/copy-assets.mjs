// tsc compiles TypeScript only; the Lua scripts that sit next to each capability are copied
// into dist/src beside their modules so that the published package (files: dist/src) has them.
import { cpSync, readdirSync, statSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

let copied = 0;
(function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith('.lua')) {
      const target = join('dist', path);
      mkdirSync(dirname(target), { recursive: true });
      cpSync(path, target);
      copied++;
    }
  }
})('src');
console.log(`copied ${copied} Lua scripts into dist/src`);
