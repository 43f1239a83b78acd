// koa-epoch-session: a koa-session store on Redis that signs a user out everywhere in one write.
export { createSessionAdmin, type SessionAdmin } from './core/admin.js';
export { type AesGcmCodecOptions, aesGcmCodec, type SessionCodec } from './core/codec.js';
export {
  CHANNELS,
  type LoginMessage,
  type ReadMessage,
  type RedisErrorMessage,
  type RejectedMessage,
  type RevokeMessage,
  type RotateMessage,
  type WriteMessage,
} from './core/diagnostics.js';
export {
  SessionError,
  SessionLimitError,
  SessionNotFreshError,
  SessionReplicationError,
  SessionStoreUnavailableError,
} from './core/errors.js';
export type {
  CookieChoices,
  EpochStoreOptions,
  LegacyOptions,
  LoginEvent,
  SessionLimitOptions,
  SessionLimitPolicy,
} from './core/options.js';
export { DEFAULTS } from './core/options.js';
export type { SessionInfo } from './core/registry.js';
export { REASONS } from './core/revocation.js';
export type { Revocation } from './core/state.js';
export type { SessionData, SessionObject } from './koa/context.js';
export type { EpochSessionOptions } from './koa/options.js';
export type { LoginOptions, LoginResult, Sessions } from './koa/sessions.js';
export { createSessions } from './koa/sessions.js';
export { EpochStore } from './koa/store.js';
