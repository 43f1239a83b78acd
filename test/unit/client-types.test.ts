// Both clients in the types: each type-checks as `redis`, and the published declarations need neither package.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { expect } from 'chai';

const tsc = (args: string[]) =>
  spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', ...args], { encoding: 'utf8' });

describe('client types (unit)', () => {
  it('ioredis Redis and Cluster, node-redis createClient and createCluster (RESP3, type-mapped) fit `redis`; other values fail to compile', function () {
    this.timeout(60_000);
    // test/types/clients.ts marks each wrong use with @ts-expect-error: if one compiled, tsc would fail.
    const result = tsc(['-p', 'test/types/tsconfig.clients.json']);
    expect(result.stdout + result.stderr).to.equal('');
    expect(result.status).to.equal(0);
  });

  it("the declarations an app compiles against import neither 'ioredis' nor 'redis'", function () {
    this.timeout(60_000);
    const out = mkdtempSync(join(tmpdir(), 'kes-dts-'));
    try {
      const build = tsc(['-p', 'tsconfig.build.json', '--outDir', out, '--declarationMap', 'false']);
      expect(build.stdout + build.stderr).to.equal('');
      // Every declaration file reachable from the entry points, through relative imports.
      const pending = ['index.d.ts', 'express/index.d.ts'].filter((entry) => existsSync(join(out, entry)));
      const seen = new Set<string>();
      const packages: string[] = [];
      while (pending.length > 0) {
        const file = pending.pop()!;
        if (seen.has(file)) continue;
        seen.add(file);
        const text = readFileSync(join(out, file), 'utf8');
        for (const [, specifier] of text.matchAll(/(?:from\s+|import\()\s*['"]([^'"]+)['"]/g)) {
          if (specifier!.startsWith('.'))
            pending.push(join(dirname(file), specifier!.replace(/\.js$/, '.d.ts')));
          else packages.push(`${file}: ${specifier}`);
        }
      }
      expect(seen.size).to.be.greaterThan(5);
      expect(packages.filter((p) => /: (ioredis|redis|@redis\/.*)$/.test(p))).to.deep.equal([]);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
