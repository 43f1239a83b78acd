// The library as the app processes load it: the build in dist/, which is what npm installs.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Loads a module of the built package. Measuring the TypeScript source instead would add what tsx
 * adds: esbuild's `__name` wrapper around every function and closure the store creates per
 * request, a cost no user pays. `npm run bench` builds first; a dist/ older than lib/ is refused.
 */
export async function library<T>(path: string): Promise<T> {
  const built = new URL(`../dist/${path}`, import.meta.url);
  if (!existsSync(built)) {
    throw new Error(`bench: ${fileURLToPath(built)} is missing; run \`npm run build\` (npm run bench does)`);
  }
  if (newestSource() > statSync(built).mtimeMs) {
    throw new Error(`bench: dist/ is older than lib/; run \`npm run build\` (npm run bench does)`);
  }
  return (await import(built.href)) as T;
}

/** The latest change to any file under lib/, in ms. */
function newestSource(): number {
  const lib = fileURLToPath(new URL('../lib/', import.meta.url));
  return Math.max(
    ...readdirSync(lib, { recursive: true, encoding: 'utf8' }).map(
      (file) => statSync(`${lib}${file}`).mtimeMs,
    ),
  );
}
