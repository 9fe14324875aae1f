#!/usr/bin/env node
// sky-node-helper: run as root; see plugins/driver-local/README.md.
import { main } from '../dist/helper/main.js';

process.exitCode = await main(process.argv.slice(2));
