// koa-epoch-session/express: the same epoch-keyed sessions for express-session, with the same helpers as the Koa entry.
export { createSessionAdmin, type SessionAdmin } from '../core/admin.js';
export { type AesGcmCodecOptions, aesGcmCodec, type SessionCodec } from '../core/codec.js';
export { CHANNELS } from '../core/diagnostics.js';
export {
  SessionError,
  SessionLimitError,
  SessionNotFreshError,
  SessionReplicationError,
  SessionStoreUnavailableError,
} from '../core/errors.js';
export type { EpochStoreOptions, LegacyOptions, LoginEvent, SessionLimitPolicy } from '../core/options.js';
export type { SessionInfo } from '../core/registry.js';
export { REASONS } from '../core/revocation.js';
export type { Revocation } from '../core/state.js';
export type { ExpressSessionOptions } from './options.js';
export {
  createExpressSessions,
  type ExpressSessions,
  type LoginOptions,
  type LoginResult,
} from './sessions.js';
export { type CookieDefaults, ExpressEpochStore, type ExpressStoreOptions } from './store.js';
