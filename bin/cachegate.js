#!/usr/bin/env node
import { main } from '../dist/src/cli/main.js';

main(process.argv).then((code) => {
  if (typeof code === 'number') process.exitCode = code;
});
