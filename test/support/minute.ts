// Waiting out a minute boundary: horizon writes behave differently when a session's end crosses one.

/**
 * Returns once the clock is at least `margin` ms away from a minute boundary on either side.
 * Just after a boundary it waits only until `margin` past it, not for the next minute (which
 * outlasted the tests' timeouts whenever a test started in the first seconds of a minute).
 */
export async function clearOfMinuteBoundary(margin = 3_000): Promise<void> {
  const into = Date.now() % 60_000;
  const wait = into < margin ? margin - into : into > 60_000 - margin ? 60_000 - into + margin : 0;
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
}
