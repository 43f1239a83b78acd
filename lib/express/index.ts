// koa-epoch-session/express: the same epoch-keyed sessions for express-session, with the same helpers as the Koa entry.
export { createSessionAdmin, type SessionAdmin } from '../admin.js';
export { type AesGcmCodecOptions, aesGcmCodec, type SessionCodec } from '../codec.js';
export { CHANNELS } from '../diagnostics.js';
export {
  SessionError,
  SessionLimitError,
  SessionReplicationError,
  SessionStoreUnavailableError,
} from '../errors.js';
export type { EpochStoreOptions, LegacyOptions, LoginEvent, SessionLimitPolicy } from '../options.js';
export type { SessionInfo } from '../registry.js';
export { REASONS } from '../revocation.js';
export type { Revocation } from '../state.js';
export type { ExpressSessionOptions } from './options.js';
export { createExpressSessions, type ExpressSessions, type LoginResult } from './sessions.js';
export { type CookieDefaults, ExpressEpochStore, type ExpressStoreOptions } from './store.js';
