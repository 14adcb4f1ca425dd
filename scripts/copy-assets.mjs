// tsc compiles TypeScript only; the Lua scripts in each capability's lua/ folder are copied
// into dist/src beside their modules so that the published package (files: dist/src) has them,
// and the tests' own scripts into dist/test.
import { cpSync, readdirSync, statSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

function copyLua(dir) {
  let copied = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) copied += copyLua(path);
    else if (name.endsWith('.lua')) {
      const target = join('dist', path);
      mkdirSync(dirname(target), { recursive: true });
      cpSync(path, target);
      copied++;
    }
  }
  return copied;
}
console.log(`copied ${copyLua('src')} Lua scripts into dist/src, ${copyLua('test')} into dist/test`);
