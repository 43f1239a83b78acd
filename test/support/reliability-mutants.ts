// Deliberately broken versions of the store's scripts, to show that a reliability suite can fail.
import type { Cluster, Redis } from 'ioredis';
import { SCRIPTS, type ScriptName } from '../../lib/core/scripts.js';

/**
 * Each mutant breaks one guarantee on purpose. It is swapped in on the client with defineCommand:
 * the store looks its commands up by name at call time, so nothing in lib/ changes.
 */
export interface Mutant {
  name: string;
  script: ScriptName;
  from: string;
  to: string;
}

/** The part of the login script from the epoch check to the epoch's creation. */
const loginSpan = ((lua: string) =>
  lua.slice(lua.indexOf("elseif ARGV[2] ~= '1' then"), lua.indexOf('  epochValue = ARGV[3]\n') + 23))(
  SCRIPTS.login.lua,
);

export const MUTANTS = {
  restoresEpoch: {
    name: 'a late regenerate puts back a missing epoch key',
    script: 'rekey',
    from: 'if not epochMatches then return 0 end',
    to:
      "if not epochValue then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[5]) epochMatches = true end\n" +
      'if not epochMatches then return 0 end',
  },
  predictableEpoch: {
    name: 'a lost epoch is recreated under its old value',
    script: 'login',
    // Two edits in one span: accept a missing epoch key for a guessed epoch, and recreate the key
    // under that guess (the value a fresh epoch would have) instead of refusing.
    from: loginSpan,
    to: loginSpan
      .replace("elseif ARGV[2] ~= '1' then", 'elseif false then')
      .replace('  epochValue = ARGV[3]\n', "  epochValue = ARGV[3] ~= '' and ARGV[3] or ARGV[1]\n"),
  },
  logoutOthersUnchecked: {
    name: 'logoutOthers does not check that its own session is still live',
    script: 'logoutOthers',
    from: "if not epochMatches then return 0 end\nif redis.call('EXISTS', KEYS[2]) == 0 then return 0 end",
    to: '',
  },
} satisfies Record<string, Mutant>;

/** Installs the mutant on a client; throws if lib/core/scripts.ts no longer contains the mutated line. */
export function installMutant(redis: Redis | Cluster, mutant: Mutant): void {
  const { lua } = SCRIPTS[mutant.script];
  if (!lua.includes(mutant.from)) {
    throw new Error(`the mutant "${mutant.name}" no longer applies: lib/core/scripts.ts changed; update it`);
  }
  // The store passes the number of keys on each call (lib/core/ioredis-driver.ts).
  redis.defineCommand(`epochSession_${mutant.script}`, { lua: lua.replace(mutant.from, mutant.to) });
}
