// Typed `ctx.session` for Koa apps, through module augmentation of Koa's context.

/**
 * The app's session fields. Augment it to type them (the file must import the package):
 *
 *   import 'koa-epoch-session';
 *   declare module 'koa-epoch-session' {
 *     interface SessionData { cart?: string[]; locale?: string }
 *   }
 */
export interface SessionData {
  [key: string]: unknown;
}

/** koa-session's session object, as `ctx.session` holds it. */
export type SessionObject = SessionData & {
  readonly isNew: boolean;
  readonly externalKey: string | undefined;
  readonly length: number;
  readonly populated: boolean;
  maxAge: number | 'session' | undefined;
  save(): Promise<void>;
  regenerate(): Promise<void>;
  manuallyCommit(): Promise<void>;
  toJSON(): Record<string, unknown>;
};

declare module 'koa' {
  interface DefaultContext {
    /** The session; `null` after `ctx.session = null` (sign out). Typed by koa-epoch-session. */
    get session(): SessionObject | null;
    set session(value: SessionData | null);
    readonly sessionOptions: { maxAge?: number | 'session' } & Record<string, unknown>;
  }
}
