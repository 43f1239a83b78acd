import { spawnSync } from 'node:child_process';
import { expect } from 'chai';

describe('types (unit)', () => {
  it('the store fits koa-session, ctx.session is typed, and wrong options fail to compile', function () {
    this.timeout(60_000);
    // test/types/fit.ts marks each wrong use with @ts-expect-error: if one compiled, tsc would fail.
    const result = spawnSync(
      process.execPath,
      ['node_modules/typescript/bin/tsc', '-p', 'test/types/tsconfig.json'],
      {
        encoding: 'utf8',
      },
    );
    expect(result.stdout + result.stderr).to.equal('');
    expect(result.status).to.equal(0);
  });
});
