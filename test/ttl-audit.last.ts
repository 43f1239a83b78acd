// Runs last: every test before it was followed by a scan for keys without a TTL (invariant 4).
import { expect } from 'chai';
import { keysWithoutTtl, ttlAudit } from './support/hooks.js';

describe('everything expires (invariant 4)', () => {
  it('left no key without a TTL after any test of the suite', () => {
    expect(ttlAudit.tests, 'the audit ran after the suite').to.be.greaterThan(20);
    expect(ttlAudit.keysSeen, 'the audit saw keys').to.be.greaterThan(50);
    expect(keysWithoutTtl).to.deep.equal([]);
  });
});
