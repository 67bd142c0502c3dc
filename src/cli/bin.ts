#!/usr/bin/env node
/** Entry point of the `kubepath` command. */
import { main } from './main.js';

process.exitCode = main(process.argv.slice(2));
