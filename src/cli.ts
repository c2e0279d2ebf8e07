/**
 * The kit's one entry point.
 *
 *   serve (default)   the integration server (sandbox mode when no Sentry credentials are set)
 *   emulator          the Sentry + Pushover emulators, standalone
 *   conformance       grade an implementation against the emulators
 *   check-images      check a logo and/or icon PNG against Sentry's rules
 *   preflight         check an app configuration before publication review
 *   dead-letters      show or replay notifications that could not be delivered
 *
 * Each command module exports `run(args: string[]): Promise<number>`; the number is the exit status.
 */
const COMMANDS: Record<string, () => Promise<{ run(args: string[]): Promise<number> }>> = {
  serve: () => import('./server/main.ts'),
  emulator: () => import('../conformance/emulator/main.ts'),
  conformance: () => import('../conformance/main.ts'),
  'check-images': () => import('./images/cli.ts'),
  preflight: () => import('./publication/cli.ts'),
  'dead-letters': () => import('./outbox/cli.ts'),
};

const USAGE = `usage: sentry-integration-kit <command> [options]
commands: ${Object.keys(COMMANDS).join(', ')}   (default: serve)
Run a command with --help for its options.`;

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === '--help' || first === '-h' || first === 'help') {
    console.log(USAGE);
    return 0;
  }
  const name = first === undefined || first.startsWith('-') ? 'serve' : first;
  const args = name === first ? rest : argv;
  const load = COMMANDS[name];
  if (!load) {
    console.error(`unknown command: ${name}\n${USAGE}`);
    return 2;
  }
  const command = await load();
  return command.run(args);
}

// `… | head` closes the pipe early: that is the reader's choice, not an error (Node threw EPIPE with a
// stack trace; Deno stops writing quietly by itself). Nothing more is written, and the command goes on
// to its own end: exiting here would skip its clean-up (a conformance run's implementation would be
// left running) and stop a server whose log reader went away with status 0.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.stdout.write = (() => true) as typeof process.stdout.write;
});

const status = await main(process.argv.slice(2));
// A server command resolves only when it has shut down; anything else exits with its status.
process.exitCode = status;
