#!/usr/bin/env node
// The operator's command line: sign a user out, list and revoke their sessions, count what Redis holds.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { assertUserId, HANDLE_LENGTH, isHandle } from '../core/keys.js';
import { assertReason, REASONS } from '../core/revocation.js';
import {
  asCliError,
  CliError,
  checkRedisUrl,
  closeRedis,
  collectStats,
  connectAdmin,
  EXIT,
} from './commands.js';
import {
  COMMANDS,
  type Command,
  commandHelp,
  DEFAULT_REDIS_URL,
  type Listed,
  listText,
  MAIN_HELP,
  NAME,
  printable,
  progressReporter,
  REASON_RULE,
  statsText,
} from './output.js';

/** What a command produced: the exit code, and what to print with and without --json. */
interface Outcome {
  exitCode: number;
  json: unknown;
  text: string;
  /** Said on stderr when nothing was found, so an empty stdout is never the only sign. */
  note?: string;
}

/** The arguments of one command, checked before any connection is made. */
interface Request {
  command: Command;
  userId: string;
  sessionId: string;
  reason: string;
  prefix: string | undefined;
  sample: number | undefined;
  progress: boolean;
  /** rotate: revoke legacy sessions not adopted yet, with a marker that lives this long (ms). */
  legacyLifetime: number | undefined;
}

/**
 * A session id is base64url, so one in 64 starts with "-" and parseArgs would take it for an
 * option. A token of a handle's shape is never an option (none has 16 characters), so it
 * is marked as an argument before parsing. NUL cannot occur in an argv string: the mark is unambiguous.
 */
const HANDLE_SHAPED = new RegExp(`^-[A-Za-z0-9_-]{${HANDLE_LENGTH - 1}}$`);
const MARK = '\0';
const unmark = (value: string) => (value.startsWith(MARK) ? value.slice(MARK.length) : value);

function parse(argv: string[]) {
  const { values, positionals } = parseMarked(argv.map((a) => (HANDLE_SHAPED.test(a) ? MARK + a : a)));
  for (const [name, value] of Object.entries(values)) {
    if (typeof value === 'string') (values as Record<string, unknown>)[name] = unmark(value);
  }
  return { values, positionals: positionals.map(unmark) };
}

function parseMarked(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        json: { type: 'boolean' },
        version: { type: 'boolean' },
        prefix: { type: 'string' },
        reason: { type: 'string' },
        sample: { type: 'string' },
        progress: { type: 'boolean' },
        'legacy-lifetime': { type: 'string' },
      },
    });
  } catch (error) {
    throw usage((error as Error).message);
  }
}

function usage(message: string, command?: Command): CliError {
  const help = command ? `${NAME} ${command} --help` : `${NAME} --help`;
  return new CliError(`${message}\nRun '${help}' for usage.`, EXIT.usage);
}

const page = (text: string): Outcome => ({ exitCode: EXIT.ok, json: { help: text }, text: `${text}\n` });

async function main(argv: string[]): Promise<number> {
  const end = argv.indexOf('--');
  const json = (end === -1 ? argv : argv.slice(0, end)).includes('--json');
  try {
    const outcome = await run(argv);
    process.stdout.write(json ? `${JSON.stringify(outcome.json, null, 2)}\n` : outcome.text);
    if (outcome.note) process.stderr.write(`${outcome.note}\n`);
    return outcome.exitCode;
  } catch (error) {
    const failure = asCliError(error);
    process.stderr.write(`${NAME}: ${failure.message}\n`);
    if (json) {
      const error = { exitCode: failure.exitCode, message: failure.message.split('\n')[0] };
      process.stdout.write(`${JSON.stringify({ error }, null, 2)}\n`);
    }
    return failure.exitCode;
  }
}

async function run(argv: string[]): Promise<Outcome> {
  const { values, positionals } = parse(argv);
  const [name, ...args] = positionals;
  if (values.version) {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    return { exitCode: EXIT.ok, json: { version }, text: `${version}\n` };
  }
  if (name === undefined || name === 'help') {
    const topic = args[0];
    if (topic !== undefined && !Object.hasOwn(COMMANDS, topic)) throw usage(`unknown command "${topic}"`);
    if (name === undefined && !values.help) throw usage('a command is needed');
    return page(topic ? commandHelp(topic as Command) : MAIN_HELP);
  }
  if (!Object.hasOwn(COMMANDS, name)) {
    throw usage(`unknown command "${name}"; the commands are ${Object.keys(COMMANDS).join(', ')}`);
  }
  const command = name as Command;
  if (values.help) return page(commandHelp(command));
  const request = check(command, args, values);
  // Checked before connecting: a bad URL is a usage error, whether or not Redis is up.
  const url = process.env.REDIS_URL || DEFAULT_REDIS_URL;
  checkRedisUrl(url);
  const admin = await connectAdmin(url, request.prefix, request.legacyLifetime);
  try {
    return await execute(admin, request);
  } finally {
    await closeRedis(admin.store.settings.redis);
  }
}

function check(command: Command, args: string[], values: ReturnType<typeof parse>['values']): Request {
  const spec = COMMANDS[command];
  for (const option of ['reason', 'sample', 'progress', 'legacy-lifetime'] as const) {
    if (values[option] !== undefined && !(spec.options as readonly string[]).includes(option)) {
      throw usage(`${command} takes no --${option}`, command);
    }
  }
  if (args.length !== spec.args.length) {
    const expected = spec.args.length === 0 ? 'no arguments' : spec.args.map((a) => `<${a}>`).join(' ');
    throw usage(`${command} takes ${expected}, got ${args.length} argument(s)`, command);
  }
  const [userId = '', sessionId = ''] = args;
  if (spec.args.length > 0) {
    try {
      assertUserId(userId);
    } catch {
      throw usage('<userId> must be a non-empty string', command);
    }
  }
  if (command === 'revoke' && !isHandle(sessionId)) {
    throw usage(
      '<sessionId> must be a session id as list prints it: 16 characters of A-Z, a-z, 0-9, "_" and "-"',
      command,
    );
  }
  const reason = values.reason ?? (command === 'revoke' ? REASONS.revoked : REASONS.rotated);
  try {
    assertReason(reason);
  } catch {
    throw usage(`--reason must be ${REASON_RULE} (got ${JSON.stringify(reason)})`, command);
  }
  const { sample } = values;
  if (sample !== undefined && !/^[1-9][0-9]{0,9}$/.test(sample)) {
    throw usage(`--sample must be a positive whole number of keys (got ${JSON.stringify(sample)})`, command);
  }
  const legacy = values['legacy-lifetime'];
  if (legacy !== undefined && !/^[1-9][0-9]{0,12}$/.test(legacy)) {
    throw usage(
      `--legacy-lifetime must be a positive whole number of milliseconds (got ${JSON.stringify(legacy)})`,
      command,
    );
  }
  return {
    command,
    userId,
    sessionId,
    reason,
    prefix: values.prefix,
    sample: sample === undefined ? undefined : Number(sample),
    progress: values.progress === true,
    legacyLifetime: legacy === undefined ? undefined : Number(legacy),
  };
}

async function execute(admin: Awaited<ReturnType<typeof connectAdmin>>, request: Request): Promise<Outcome> {
  const { command, userId, sessionId, reason } = request;
  const who = JSON.stringify(userId);
  const prefix = JSON.stringify(admin.store.keys.prefix);
  if (command === 'rotate') {
    const legacy = request.legacyLifetime !== undefined;
    const rotated = await admin.rotate(userId, { reason });
    if (!rotated) {
      const note = `${who} has no sessions under ${prefix}: nothing to revoke (check the user id and --prefix)`;
      return { exitCode: EXIT.notFound, json: { userId, rotated, reason }, text: '', note };
    }
    const also = legacy ? ', including legacy sessions not moved yet' : '';
    const text = `signed ${who} out everywhere${also} (reason: ${reason})\n`;
    return {
      exitCode: EXIT.ok,
      json: { userId, rotated, reason, ...(legacy ? { legacy: true } : {}) },
      text,
    };
  }
  if (command === 'revoke') {
    const revoked = await admin.revoke(userId, sessionId, { reason });
    const json = { userId, sessionId, revoked, reason };
    if (!revoked) {
      const note = `no live session ${sessionId} of ${who} under ${prefix}: nothing to revoke`;
      return { exitCode: EXIT.notFound, json, text: '', note };
    }
    return { exitCode: EXIT.ok, json, text: `revoked session ${sessionId} of ${who} (reason: ${reason})\n` };
  }
  if (command === 'list') {
    // `current` means "the caller's own session", which a command line never has.
    const sessions: Listed[] = (await admin.list(userId)).map(({ current: _, ...session }) => session);
    if (sessions.length === 0) {
      const note = `no live sessions of ${who} under ${prefix} (the device list needs registry: true in the app)`;
      return { exitCode: EXIT.notFound, json: { userId, sessions }, text: '', note };
    }
    return { exitCode: EXIT.ok, json: { userId, sessions }, text: listText(userId, sessions) };
  }
  const stats = await collectStats(admin, {
    ...(request.sample === undefined ? {} : { sample: request.sample }),
    onProgress: progressReporter(request.progress),
  });
  const outcome: Outcome = { exitCode: EXIT.ok, json: stats, text: statsText(stats) };
  if (stats.withoutTtl > 0) {
    const examples = stats.withoutTtlExamples.map((key) => JSON.stringify(printable(key))).join(', ');
    outcome.exitCode = EXIT.notFound;
    outcome.note = `keys without a TTL under ${prefix}: this library always sets one, so something else writes there (for example ${examples})`;
  }
  return outcome;
}

process.exitCode = await main(process.argv.slice(2));
