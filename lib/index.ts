// koa-epoch-session: a koa-session store on Redis that signs a user out everywhere in one write.
export { createSessionAdmin, type SessionAdmin } from './admin.js';
export { type AesGcmCodecOptions, aesGcmCodec, type SessionCodec } from './codec.js';
export type { SessionData, SessionObject } from './context.js';
export {
  CHANNELS,
  type LoginMessage,
  type ReadMessage,
  type RedisErrorMessage,
  type RejectedMessage,
  type RevokeMessage,
  type RotateMessage,
  type WriteMessage,
} from './diagnostics.js';
export {
  SessionError,
  SessionLimitError,
  SessionNotFreshError,
  SessionReplicationError,
  SessionStoreUnavailableError,
} from './errors.js';
export type {
  EpochSessionOptions,
  EpochStoreOptions,
  LegacyOptions,
  LoginEvent,
  SessionLimitPolicy,
} from './options.js';
export { DEFAULTS } from './options.js';
export type { SessionInfo } from './registry.js';
export { REASONS } from './revocation.js';
export type { LoginOptions, LoginResult, Sessions } from './sessions.js';
export { createSessions } from './sessions.js';
export type { Revocation } from './state.js';
export { EpochStore } from './store.js';
