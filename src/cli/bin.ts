#!/usr/bin/env node
/** Entry point of the `kubepath` command. */
import { main } from './main.js';

// A reader that goes away (`kubepath rules ... | head`) is not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

process.exitCode = main(process.argv.slice(2));
