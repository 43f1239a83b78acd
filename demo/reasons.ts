// Why a device was signed out, in words: the library's reasons plus the two this app records.
import { REASONS, type Revocation } from '../lib/index.js';

/** Reasons this app passes to rotate() and revoke(); the library records and reports them verbatim. */
export const APP_REASONS = Object.freeze({
  passwordChanged: 'password-changed',
  admin: 'admin-signed-out',
});

const MESSAGES: Record<string, string> = {
  [APP_REASONS.passwordChanged]:
    'Your password was changed on another device, so every other session was signed out. Sign in with the new password.',
  [APP_REASONS.admin]: 'An administrator signed you out of every device.',
  [REASONS.revoked]: 'This device was signed out from another device.',
  [REASONS.signedOutElsewhere]: 'You chose “Sign out all other devices” on another device.',
  [REASONS.sessionLimit]:
    'You signed in on more devices than this account allows, so this device, the oldest session, was signed out.',
  [REASONS.lifetime]: 'Your session reached its maximum lifetime. Please sign in again.',
  [REASONS.rotated]: 'Every session of this account was signed out.',
};

export function revocationMessage(revocation: Revocation): string {
  return MESSAGES[revocation.reason] ?? `You were signed out (reason: ${revocation.reason}).`;
}
