// Deliberately broken versions of the store's scripts, to show that a reliability suite can fail.
import type { Cluster, Redis } from 'ioredis';
import { RANDOM_LENGTH } from '../../lib/keys.js';
import { SCRIPTS, type ScriptName } from '../../lib/scripts.js';

/** How the scripts read the epoch off the epoch key's value (lib/scripts.ts). */
const EPOCH = `string.sub(epochValue, 1, ${RANDOM_LENGTH})`;

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

export const MUTANTS = {
  restoresEpoch: {
    name: 'a late write puts back a missing epoch key',
    script: 'writeUser',
    from: `if not epochValue or ${EPOCH} ~= ARGV[2] then return 0 end`,
    to:
      "if not epochValue then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[5]) epochValue = ARGV[2] end\n" +
      `if ${EPOCH} ~= ARGV[2] then return 0 end`,
  },
  predictableEpoch: {
    name: 'a recreated epoch is predictable (always the same value)',
    script: 'login',
    from: '  epochValue = ARGV[1]\n',
    to: `  epochValue = string.rep('A', ${RANDOM_LENGTH})\n`,
  },
  logoutOthersUnchecked: {
    name: 'logoutOthers does not check that its own session is still live',
    script: 'logoutOthers',
    from: `if not epochValue or ${EPOCH} ~= ARGV[1] then return 0 end`,
    to: '',
  },
} satisfies Record<string, Mutant>;

/** Installs the mutant on a client; throws if lib/scripts.ts no longer contains the mutated line. */
export function installMutant(redis: Redis | Cluster, mutant: Mutant): void {
  const { lua, keys } = SCRIPTS[mutant.script];
  if (!lua.includes(mutant.from)) {
    throw new Error(`the mutant "${mutant.name}" no longer applies: lib/scripts.ts changed; update it`);
  }
  redis.defineCommand(`epochSession_${mutant.script}`, {
    numberOfKeys: keys,
    lua: lua.replace(mutant.from, mutant.to),
  });
}
