// The package as a user gets it: packed from a clean copy of the sources, installed into a new app outside the repo.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { testRedisUrl } from '../support/hooks.js';
import { freePort, waitForPort } from '../support/ports.js';
import { exerciseReadmeSample, readmeSample } from '../support/readme-sample.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const tsc = join(root, 'node_modules/typescript/bin/tsc');

/** The version the repository itself was tested with, so the install is served from npm's cache. */
const installed = (name: string): string =>
  `${name}@${JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')).version}`;

/** npm as a person runs it: none of the outer `npm test`'s lifecycle settings leak in. */
function npm(args: string[], cwd: string) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
  return run('npm', ['--no-audit', '--no-fund', '--loglevel=error', ...args], {
    cwd,
    env,
    maxBuffer: 1 << 24,
  });
}

describe('the packed package, installed into a new app', function () {
  this.timeout(180_000);
  let work: string;
  let app: string;
  let files: string[];
  let server: ChildProcess | undefined;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'kes-package-'));
    // A fresh clone's files (tracked and new, never ignored ones such as dist/), as `npm pack` sees them there.
    const source = join(work, 'source');
    const { stdout } = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
      cwd: root,
      maxBuffer: 1 << 24,
    });
    for (const file of stdout.split('\0').filter(Boolean)) {
      mkdirSync(dirname(join(source, file)), { recursive: true });
      try {
        cpSync(join(root, file), join(source, file));
      } catch (error) {
        // A file deleted in the work tree but not yet in git: a fresh clone would not have it either.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    symlinkSync(join(root, 'node_modules'), join(source, 'node_modules'), 'dir');
    const packed = await npm(['pack', '--json', '--pack-destination', work], source);
    const [report] = JSON.parse(packed.stdout) as [{ filename: string; files: { path: string }[] }];
    files = report.files.map((f) => f.path).sort();

    app = join(work, 'app');
    mkdirSync(app);
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify({ name: 'scratch-app', private: true, type: 'module' }, null, 2),
    );
    await npm(
      [
        'install',
        '--prefer-offline',
        join(work, report.filename),
        installed('koa'),
        installed('ioredis'),
        installed('@types/node'),
      ],
      app,
    );
  });

  after(() => {
    server?.kill('SIGKILL');
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('holds the built code, its types, the licence and the sources its maps point at; no tests or demo', () => {
    for (const file of [
      'package.json',
      'README.md',
      'LICENSE',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/cli/main.js',
    ]) {
      expect(files).to.include(file);
    }
    for (const map of files.filter((f) => f.endsWith('.map'))) {
      const { sources } = JSON.parse(readFileSync(join(app, 'node_modules/koa-epoch-session', map), 'utf8'));
      for (const source of sources as string[]) {
        expect(files, `${map} points at ${source}`).to.include(join(dirname(map), source));
      }
    }
    expect(files.filter((f) => !/^(dist|lib)\/|^(package\.json|README\.md|LICENSE)$/.test(f))).to.deep.equal(
      [],
    );
    const installedManifest = JSON.parse(
      readFileSync(join(app, 'node_modules/koa-epoch-session/package.json'), 'utf8'),
    );
    expect(installedManifest).to.include.keys('repository', 'homepage', 'bugs');
    expect(installedManifest.license).to.equal('MIT');
    // A package page shows README images only from absolute URLs.
    const images = [...readFileSync(join(root, 'README.md'), 'utf8').matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)];
    for (const [, url] of images) expect(url).to.match(/^https:\/\//);
  });

  it("runs the README's first sample with plain node: refused login, login, sign out everywhere, logout", async () => {
    writeFileSync(join(app, 'server.mjs'), readmeSample());
    const port = await freePort();
    server = spawn(process.execPath, ['server.mjs'], {
      cwd: app,
      env: { ...process.env, PORT: String(port), REDIS_URL: testRedisUrl(), SESSION_SECRET: 'test secret' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    await waitForPort(port);
    await exerciseReadmeSample(`http://127.0.0.1:${port}`);
  });

  it('loads with require() from CommonJS (Node 20.19+)', async () => {
    const { stdout } = await run(
      process.execPath,
      [
        '-e',
        "const m = require('koa-epoch-session'); console.log(typeof m.createSessions, typeof m.createSessionAdmin)",
      ],
      { cwd: app },
    );
    expect(stdout.trim()).to.equal('function function');
  });

  it('type-checks with tsc for an ESM consumer (the README sample) and a CommonJS one', async () => {
    writeFileSync(join(app, 'sample.ts'), readmeSample());
    writeFileSync(
      join(app, 'consumer.cts'),
      [
        "import sessions = require('koa-epoch-session');",
        "import type { Sessions } from 'koa-epoch-session';",
        'export const create: typeof sessions.createSessions = sessions.createSessions;',
        'export type Helpers = Pick<Sessions, "login" | "rotate" | "logout">;',
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          target: 'es2023',
          strict: true,
          noEmit: true,
          types: ['node'],
        },
        files: ['sample.ts', 'consumer.cts'],
      }),
    );
    const checked = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: app }).catch(
      (error: { stdout: string }) => ({ stdout: error.stdout, failed: true }),
    );
    expect(checked.stdout).to.equal('');
    expect(checked).to.not.have.property('failed');
  });

  it('koa-epoch-session/express: the Koa entry loads without express; the subpath resolves, with types, once express and express-session are installed', async () => {
    const load = (source: string) =>
      run(process.execPath, ['--input-type=module', '-e', source], { cwd: app }).then((r) => r.stdout.trim());
    expect(existsSync(join(app, 'node_modules/express-session')), 'not installed yet').to.equal(false);
    expect(
      await load("const m = await import('koa-epoch-session'); console.log(typeof m.createSessions)"),
    ).to.equal('function');
    await npm(
      [
        'install',
        '--prefer-offline',
        installed('express'),
        installed('express-session'),
        installed('@types/express'),
        installed('@types/express-session'),
      ],
      app,
    );
    expect(
      await load(
        "const m = await import('koa-epoch-session/express'); console.log(typeof m.createExpressSessions, typeof m.ExpressEpochStore)",
      ),
    ).to.equal('function function');
    expect(files).to.include.members(['dist/express/index.js', 'dist/express/index.d.ts']);
    writeFileSync(
      join(app, 'express-sample.ts'),
      [
        "import express from 'express';",
        "import { createExpressSessions, type ExpressSessions } from 'koa-epoch-session/express';",
        'export function wire(redis: Parameters<typeof createExpressSessions>[0]["redis"]): ExpressSessions {',
        "  const sessions = createExpressSessions({ redis, secret: 'a secret' });",
        '  express().use(sessions.middleware).post("/login", async (req, res) => {',
        "    await sessions.login(req, 'alice');",
        '    res.json({ user: sessions.userId(req) ?? null });',
        '  });',
        '  return sessions;',
        '}',
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(app, 'tsconfig.express.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          target: 'es2023',
          strict: true,
          noEmit: true,
          types: ['node'],
        },
        files: ['express-sample.ts'],
      }),
    );
    const checked = await run(process.execPath, [tsc, '-p', 'tsconfig.express.json'], { cwd: app }).catch(
      (error: { stdout: string }) => ({ stdout: error.stdout, failed: true }),
    );
    expect(checked.stdout).to.equal('');
    expect(checked).to.not.have.property('failed');
  });

  it('runs the operator CLI through npx', async () => {
    const version = await npm(['exec', '--no', '--', 'koa-epoch-session', '--version'], app);
    expect(version.stdout.trim()).to.equal(manifest.version);
    const env = { ...process.env, REDIS_URL: testRedisUrl() };
    const stats = await run('npx', ['--no', 'koa-epoch-session', 'stats', '--json'], { cwd: app, env });
    expect(JSON.parse(stats.stdout)).to.include({ prefix: 'sess:', complete: true, withoutTtl: 0 });
  });
});
