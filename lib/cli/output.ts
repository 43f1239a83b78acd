// What the operator CLI prints: the help pages, the session table, the stats report and the progress line.

import type { SessionInfo } from '../core/registry.js';
import { REASONS } from '../core/revocation.js';
import { SCAN_COUNT, type Stats, type StatsOptions } from './commands.js';

export const NAME = 'koa-epoch-session';
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

const OPTIONS = `Options for every command:
  --prefix <prefix>  the app's key prefix (default "sess:"); put the client's ioredis keyPrefix
                     in front of it, if the app sets one
  --json             print one JSON document on stdout; errors too: {"error":{"exitCode","message"}}
  -h, --help         this help`;

const ENVIRONMENT = `Environment:
  REDIS_URL          redis:// or rediss:// URL of the Redis primary (default ${DEFAULT_REDIS_URL});
                     one connection attempt, 5 s connect and command timeouts`;

export const REASON_RULE =
  '1 to 64 characters: letters, digits, space, "_", ".", ":" or "-", starting with a letter or digit';

export const COMMANDS = {
  rotate: {
    args: ['userId'],
    options: ['reason', 'legacy-lifetime'],
    summary: 'sign a user out everywhere, on every device, at once',
    help: `Usage: ${NAME} rotate <userId> [--reason <reason>] [--legacy-lifetime <ms>]

Revokes every session of <userId> on every device in one write. The revoked keys are no longer
reachable and expire by their own TTL. The app can tell the next request from a revoked cookie
why it ended (sessions.revokedReason(ctx)).

  --reason <reason>       why, for that next request (default "${REASONS.rotated}");
                          ${REASON_RULE}
  --legacy-lifetime <ms>  while the app adopts koa-redis or connect-redis sessions (its legacy
                          option): the old sessions' longest lifetime (the app's legacy.maxAge).
                          The user's legacy sessions not moved yet are revoked too, by a marker
                          that lives that long; without it they are not touched.

Exit status: 0 revoked; 1 the user had no sessions (no epoch key under this prefix: check the id
and --prefix), never with --legacy-lifetime; 2 usage error; 3 Redis unavailable; 4 other failure.`,
  },
  list: {
    args: ['userId'],
    options: [],
    summary: "list a user's live sessions (needs registry: true in the app)",
    help: `Usage: ${NAME} list <userId>

Lists the live sessions of <userId>, most recently active first: id, last seen, created, expires,
IP and user agent. The list comes from the device registry, so the app must run with
registry: true. The id is a public handle (a hash of the secret session id), to pass to revoke.

Exit status: 0 sessions listed; 1 none found; 2 usage error; 3 Redis unavailable; 4 other failure.`,
  },
  revoke: {
    args: ['userId', 'sessionId'],
    options: ['reason'],
    summary: 'end one session, by the id that list prints',
    help: `Usage: ${NAME} revoke <userId> <sessionId> [--reason <reason>]

Ends one session of <userId>, named by the 16-character id that list prints. The user's other
sessions are untouched. Works with or without the registry.

  --reason <reason>  why, for the next request from that session (default "${REASONS.revoked}");
                     ${REASON_RULE}

Exit status: 0 revoked; 1 no such live session; 2 usage error (including an id that is not a
session id: a cookie value is not one); 3 Redis unavailable; 4 other failure.`,
  },
  stats: {
    args: [],
    options: ['sample', 'progress'],
    summary: 'count sessions, users and keys without a TTL (SCAN, never KEYS)',
    help: `Usage: ${NAME} stats [--sample <n>] [--progress]

Walks the keys under the prefix with SCAN, ${SCAN_COUNT} keys a call, and counts: signed-in sessions,
sessions orphaned by a rotation (unreachable, waiting for their TTL), anonymous sessions, users
(epoch keys), device registries, revocation reasons, keys outside the layout, and keys without a
TTL, which must be 0. The counts are as of the scan: keys written or expired meanwhile may be
missed, and a key may be counted twice while Redis resizes its table.

  --sample <n>  stop after n keys and estimate the totals from the share of the keyspace scanned
                (SCAN visits keys in hash order, so the first n are a fair sample)
  --progress    report progress on stderr even when it is not a terminal (on a terminal it always is)

Exit status: 0 done; 1 keys without a TTL were found; 2 usage error; 3 Redis unavailable; 4 other failure.`,
  },
} as const;

export type Command = keyof typeof COMMANDS;

export const MAIN_HELP = `Usage: ${NAME} <command> [arguments] [options]

Incident and support commands for koa-epoch-session, the koa-session store on Redis.

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${`${name} ${c.args.map((a) => `<${a}>`).join(' ')}`.padEnd(29)}${c.summary}`)
  .join('\n')}
  ${'help [command]'.padEnd(29)}show the help of a command

${OPTIONS}
  --version          print the version

${ENVIRONMENT}

Exit status:
  0  done
  1  nothing found: rotate of a user with no sessions, revoke of a session that is not live,
     list with no sessions, stats that found keys without a TTL
  2  usage error: unknown command or option, missing or malformed argument, bad REDIS_URL
  3  Redis unavailable: cannot connect, timed out, or refusing for now (loading, failover, OOM)
  4  any other failure (Redis refused the command, unexpected reply)

A user id that starts with "-" goes after "--":  ${NAME} rotate -- -alice`;

/** Control and format characters (escape sequences, bidi overrides) from a user agent never reach the terminal raw. */
export function printable(text: string): string {
  return text.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
}

const time = (date: Date) =>
  date
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d{3}Z$/, 'Z');
const count = (n: number, estimated: boolean) => (estimated ? '~' : '') + n.toLocaleString('en');
const keys = (n: number) => `${n.toLocaleString('en')} ${n === 1 ? 'key' : 'keys'}`;

export type Listed = Omit<SessionInfo, 'current'>;

export function listText(userId: string, sessions: Listed[]): string {
  if (sessions.length === 0) return '';
  const rows = [
    ['ID', 'LAST SEEN', 'CREATED', 'EXPIRES', 'IP', 'USER AGENT'],
    ...sessions.map((s) => [
      s.id,
      time(s.lastSeenAt),
      time(s.createdAt),
      time(s.expiresAt),
      s.ip,
      s.userAgent,
    ]),
  ].map((row) => row.map(printable));
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const lines = rows.map((row) =>
    row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '),
  );
  const noun = sessions.length === 1 ? 'session' : 'sessions';
  return `${sessions.length} live ${noun} of ${JSON.stringify(userId)}, most recently active first:\n${lines.join('\n')}\n`;
}

export function statsText(stats: Stats): string {
  const est = !stats.complete;
  const scope = est
    ? `estimated from ${keys(stats.examined)}, ${(stats.coverage * 100).toFixed(1)}% of the keyspace`
    : `complete scan, ${keys(stats.examined)}`;
  const rows: [string, number, string?][] = [
    ['signed-in sessions', stats.sessions.signedIn],
    ['orphaned by a rotation', stats.sessions.orphaned, 'unreachable; their TTL removes them'],
    ['anonymous sessions', stats.sessions.anonymous],
    ['users (epoch keys)', stats.users],
    ['device registries', stats.registries],
    ['device metadata', stats.deviceTables],
    ['revocation reasons', stats.reasons],
    ['moved-session forwards', stats.forwards, 'after a regenerate or logoutOthers'],
    ['legacy rotation markers', stats.legacyMarkers, 'while a legacy migration runs'],
    ['other keys', stats.other, 'not in this layout'],
    ['keys without a TTL', stats.withoutTtl, 'must be 0'],
  ];
  const lines = rows.map(([label, n, note]) =>
    `  ${label.padEnd(24)}${count(n, est).padStart(12)}${note ? `  ${note}` : ''}`.trimEnd(),
  );
  return `Keys under ${JSON.stringify(stats.prefix)} (${scope}):\n${lines.join('\n')}\n`;
}

export function progressReporter(force: boolean): StatsOptions['onProgress'] {
  const stream = process.stderr;
  const tty = stream.isTTY === true;
  if (!force && !tty) return undefined;
  let last = 0;
  return ({ coverage, examined, done }) => {
    const now = Date.now();
    if (!done && now - last < (tty ? 100 : 1000)) return;
    last = now;
    const line = `scanned ${(coverage * 100).toFixed(1)}% of the keyspace, ${keys(examined)} under the prefix`;
    stream.write(tty ? `\r\x1b[K${line}${done ? '\n' : ''}` : `${line}\n`);
  };
}

/** A command's page, complete on its own: what it does, its options, the shared ones, the environment. */
export function commandHelp(command: Command): string {
  return `${COMMANDS[command].help}\n\n${OPTIONS}\n\n${ENVIRONMENT}`;
}
