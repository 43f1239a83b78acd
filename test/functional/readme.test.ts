// The README's first sample, run as written (through tsx, against the repository's own build).
import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { testRedisUrl } from '../support/hooks.js';
import { freePort, waitForPort } from '../support/ports.js';
import { exerciseReadmeSample, readmeSample } from '../support/readme-sample.js';

const EXAMPLE = 'test/.readme-example.ts';

describe('README example', () => {
  let child: ChildProcess | undefined;
  afterEach(() => {
    child?.kill('SIGKILL');
    rmSync(EXAMPLE, { force: true });
  });

  it('runs as written: 400 without a user, login, device list, sign out everywhere clears the cookie, logout', async () => {
    writeFileSync(EXAMPLE, readmeSample());
    const port = await freePort();
    child = spawn(process.execPath, ['--import', 'tsx', EXAMPLE], {
      env: { ...process.env, PORT: String(port), REDIS_URL: testRedisUrl(), SESSION_SECRET: 'test secret' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    await waitForPort(port);
    await exerciseReadmeSample(`http://127.0.0.1:${port}`);
  });
});
