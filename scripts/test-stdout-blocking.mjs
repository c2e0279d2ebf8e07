// Preloaded into `node --test` and every test-file child it spawns (scripts/test.sh). With
// --test-force-exit a child calls process.exit() as soon as its last test ends, while its report to the
// parent may still sit in the non-blocking stdout pipe: those verdicts are then silently lost (the run
// reports fewer tests and still passes; nodejs/node#64833). A blocking stdout writes every frame before
// the exit can happen.
const handle = /** @type {{ setBlocking?: (on: boolean) => void } | undefined} */ (process.stdout._handle);
handle?.setBlocking?.(true);
