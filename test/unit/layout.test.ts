// The folder layout is the architecture: a framework-free core, a Koa adapter, an Express adapter, the CLI.
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const root = fileURLToPath(new URL('../../', import.meta.url));
const IMPORT = /(?:^|\n)\s*(?:import|export)(?:\s+type)?[^'"]*?from\s+['"]([^'"]+)['"]/g;

/** Every module an entry reaches through value imports (type-only imports vanish at run time). */
function reach(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const source = readFileSync(join(root, file), 'utf8');
    for (const match of source.matchAll(IMPORT)) {
      const statement = match[0];
      const specifier = match[1]!;
      if (/^\s*(?:import|export)\s+type\b/.test(statement)) continue;
      if (specifier.startsWith('.'))
        visit(relative(root, join(root, dirname(file), specifier)).replace(/\.js$/, '.ts'));
      else
        packages.add(
          specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!,
        );
    }
  };
  visit(entry);
  return { files, packages };
}

describe('package layout (issue 14)', () => {
  it('the core imports no framework and no adapter', () => {
    const { files, packages } = reach('lib/core/engine.ts');
    for (const admin of reach('lib/core/admin.ts').files) files.add(admin);
    expect([...files].filter((f) => !f.startsWith('lib/core/'))).to.deep.equal([]);
    expect([...packages].filter((p) => /koa|express/.test(p))).to.deep.equal([]);
  });

  it('the Express entry loads neither Koa nor koa-session nor the Koa adapter', () => {
    const { files, packages } = reach('lib/express/index.ts');
    expect([...files].filter((f) => f.startsWith('lib/koa/'))).to.deep.equal([]);
    expect([...packages].filter((p) => /koa/.test(p))).to.deep.equal([]);
    expect(files.has('lib/core/engine.ts'), 'it does load the core').to.equal(true);
  });

  it('the Koa entry loads neither Express nor express-session nor the Express adapter', () => {
    const { files, packages } = reach('lib/index.ts');
    expect([...files].filter((f) => f.startsWith('lib/express/'))).to.deep.equal([]);
    expect([...packages].filter((p) => /express/.test(p))).to.deep.equal([]);
    expect(packages.has('koa-session'), 'it does load koa-session').to.equal(true);
  });
});
