// Event-driven waits for tests on a loaded machine: poll a condition instead of sleeping a fixed time.
export async function waitFor<T>(
  check: () => T | undefined | false | null,
  what: string,
  timeoutMs = 10_000,
  everyMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    // A promise is truthy: an async check would end the wait at once, whatever it resolves to.
    if (typeof (value as { then?: unknown } | undefined)?.then === 'function')
      throw new Error(`waitFor(${what}): the check returned a promise; pass a synchronous check`);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** waitFor for a check that must await (a page, an HTTP call): each try finishes before the next starts. */
export async function waitForAsync<T>(
  check: () => Promise<T | undefined | false | null>,
  what: string,
  timeoutMs = 10_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
