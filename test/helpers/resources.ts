// What a test suite started (emulators, sinks, hosts, temp folders), closed on every path: register each thing as
// soon as it exists, and `afterAll(() => resources.closeAll())` closes them all even when the set-up that started
// them threw half-way. Each close is bounded, so a stuck one cannot hold the run open.

interface Closer {
  name: string;
  close: () => unknown;
}

export class Resources {
  private closers: Closer[] = [];

  /** Registers `value`, closed by `close(value)` in `closeAll` (last registered, first closed). Returns `value`. */
  add<T>(name: string, value: T, close: (value: T) => unknown): T {
    this.closers.push({ name, close: () => close(value) });
    return value;
  }

  /** Registers a clean-up step that is not tied to a value. */
  defer(name: string, close: () => unknown): void {
    this.closers.push({ name, close });
  }

  /** Closes everything registered, newest first; each step gets `stepTimeoutMs`. Throws the failures at the end. */
  async closeAll(stepTimeoutMs = 30_000): Promise<void> {
    const failures: string[] = [];
    for (const { name, close } of this.closers.splice(0).reverse()) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>(
        (resolve) => (timer = setTimeout(() => resolve('timeout'), stepTimeoutMs)),
      );
      try {
        const outcome = await Promise.race([Promise.resolve().then(close), timeout]);
        if (outcome === 'timeout') failures.push(`${name}: not closed within ${stepTimeoutMs} ms`);
      } catch (error) {
        failures.push(`${name}: ${(error as Error).message}`);
      } finally {
        clearTimeout(timer);
      }
    }
    if (failures.length) throw new Error(`Closing test resources failed:\n${failures.join('\n')}`);
  }
}
