#!/usr/bin/env -S node --
// `node --`: Node 20 otherwise reads a `--env-file` anywhere in argv as its own flag (nodejs/node#54232),
// and `sky launch --env-file FILE` is SkyPilot's flag for the task's environment.
import { main } from '../dist/sky.js';

process.exitCode = await main(process.argv);
