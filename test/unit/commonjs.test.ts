import { execFileSync } from 'node:child_process';
import { expect } from 'chai';

describe('packaging (unit)', () => {
  it('can be require()d from CommonJS on Node 20.19+ through the exports map', () => {
    // npm test builds dist/ first; this loads the package by name, as a consumer would.
    const out = execFileSync(
      process.execPath,
      [
        '-e',
        "const m = require('koa-epoch-session'); console.log(typeof m.createSessions, typeof m.SessionStoreUnavailableError)",
      ],
      { encoding: 'utf8' },
    );
    expect(out.trim()).to.equal('function function');
  });
});
