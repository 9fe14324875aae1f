import { createRequire } from 'node:module';

type Yaml = typeof import('yaml');
let loaded: Yaml | undefined;

/**
 * The YAML parser, loaded the first time YAML is read: most processes that load the protocol
 * (a daemon that is never sent a task file, a CLI command that runs a command) never read any,
 * and the parser is a sizeable share of what they would otherwise load and keep in memory.
 */
export function yamlLib(): Yaml {
  return (loaded ??= createRequire(import.meta.url)('yaml') as Yaml);
}
