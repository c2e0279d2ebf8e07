/**
 * In-process exclusion per key: a promise chain per key, dropped when idle so the map never grows
 * with the number of installations ever seen.
 */
export class KeyedMutex {
  readonly #tails = new Map<string, Promise<unknown>>();

  /**
   * Runs `fn` after every earlier `run` for the same key has settled; a rejection does not block
   * the next caller.
   *
   * @example
   * const m = new KeyedMutex(); await m.run('a', async () => { ... });
   */
  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const result = previous.then(fn, fn);
    const tail = result.then(noop, noop);
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }

  /** Resolves once everything queued so far has settled. */
  async idle(): Promise<void> {
    while (this.#tails.size > 0) await Promise.all([...this.#tails.values()]);
  }
}

function noop(): void {}
