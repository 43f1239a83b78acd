// The epochs this process saw lately, per user tag: a first guess for the steps that need the epoch in their keys.

/**
 * Every key a script touches must be declared before it runs (invariant 7), and a session key
 * contains the user's epoch. Login, revoke and list therefore name the epoch up front; a guess from
 * this cache makes that one round trip in the usual case. The cache is never trusted: each script
 * compares the guess with the epoch key and, on a mismatch, answers with the real one, which the
 * client then uses. A stale entry costs a round trip, never a wrong answer.
 */
export class EpochCache {
  readonly #epochs = new Map<string, string>();
  readonly #limit: number;

  constructor(limit = 10_000) {
    this.#limit = limit;
  }

  get(tag: string): string | undefined {
    return this.#epochs.get(tag);
  }

  set(tag: string, epoch: string): void {
    if (this.#epochs.get(tag) === epoch) return;
    this.#epochs.delete(tag);
    this.#epochs.set(tag, epoch);
    // Map keeps insertion order: the first entry is the one seen longest ago.
    if (this.#epochs.size > this.#limit) this.#epochs.delete(this.#epochs.keys().next().value!);
  }

  delete(tag: string): void {
    this.#epochs.delete(tag);
  }
}
