// What the Express adapter remembers about one request beyond the shared request state: cookie facts express-session decides on.

/**
 * express-session writes the cookie header as soon as it has *called* the store's set or touch,
 * before the write completes, and decides alone whether to send it. These facts, recorded
 * synchronously by the store, let the adapter's header hook make the cookie follow the store.
 */
export interface ExpressRequestFacts {
  /** The cookie value the request presented (express-session's `req.sessionID` at the start). */
  presentedKey: string | undefined;
  /** The `originalMaxAge` of the session object as the store handed it out, to notice "remember me". */
  loadedMaxAge: number | null | undefined;
  /** A new, empty session left unstored (`saveUninitialized: false`): its cookie is not sent. */
  unsaved: string | undefined;
  /** The request ended its own session (Session#destroy, `unset: 'destroy'`, logout). */
  destroyed: boolean;
  /** The expiry a write still in flight gives the session, for the cookie written before it completes. */
  planned: { key: string; expiresAt: number } | undefined;
}

const facts = new WeakMap<object, ExpressRequestFacts>();

/** Per request, keyed by the request object itself: gone with it, nothing to clean up. */
export function factsOf(req: object): ExpressRequestFacts {
  let found = facts.get(req);
  if (found === undefined) {
    found = {
      presentedKey: undefined,
      loadedMaxAge: undefined,
      unsaved: undefined,
      destroyed: false,
      planned: undefined,
    };
    facts.set(req, found);
  }
  return found;
}
