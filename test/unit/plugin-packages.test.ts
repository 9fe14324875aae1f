import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PLUGIN_API_VERSION } from '@sky/plugin-api';
import { npmGlobalRoot, npmInstallArgs, parseInstallSpec, pluginSearchPath, searchDirs } from '../../core/daemon/src/plugins/index.js';
import { REPO_ROOT } from '../helpers/daemon-process.js';

const manifest = (dir: string): Record<string, unknown> => JSON.parse(readFileSync(join(REPO_ROOT, dir, 'package.json'), 'utf8')) as Record<string, unknown>;
const majorMinor = (v: string): string => v.split('.').slice(0, 2).join('.');

describe('the publishable packages: one version story', () => {
  it("@sky/plugin-api's package version is the plugin API version (major.minor), so a bump of one cannot drift from the other", () => {
    const api = manifest('core/plugin-api');
    assert.equal(majorMinor(String(api['version'])), majorMinor(PLUGIN_API_VERSION), 'bump core/plugin-api/package.json with src/version.ts');
  });

  it('@sky/protocol is versioned with it, and @sky/plugin-api depends on exactly that version', () => {
    const api = manifest('core/plugin-api');
    const protocol = manifest('core/protocol');
    assert.equal(protocol['version'], api['version']);
    assert.equal((api['dependencies'] as Record<string, string>)['@sky/protocol'], protocol['version']);
  });

  it('@sky/client is versioned with them: it depends on exactly that @sky/protocol, and the CLI on exactly its version', () => {
    const version = manifest('core/plugin-api')['version'];
    const client = manifest('core/client');
    assert.equal(client['version'], version);
    assert.equal((client['dependencies'] as Record<string, string>)['@sky/protocol'], version);
    assert.equal((manifest('cli')['dependencies'] as Record<string, string>)['@sky/client'], version);
  });

  it('all three are publishable: not private, no file:/workspace: dependencies, types and exports for the API and /testing', () => {
    for (const dir of ['core/plugin-api', 'core/protocol', 'core/client']) {
      const m = manifest(dir);
      assert.notEqual(m['private'], true, `${dir} is private`);
      for (const [dep, spec] of Object.entries((m['dependencies'] ?? {}) as Record<string, string>)) {
        assert.doesNotMatch(spec, /^(file|link|workspace|portal):/, `${dir}: ${dep} ${spec}`);
      }
      assert.ok(typeof m['types'] === 'string');
      assert.deepEqual(m['files'], ['dist', '!dist/**/*.tsbuildinfo', 'README.md'], `${dir}: what the tarball carries`);
    }
    const client = manifest('core/client')['exports'] as Record<string, Record<string, string>>;
    assert.equal(client['.']?.['types'], './dist/index.d.ts');
    assert.equal(client['.']?.['default'], './dist/index.js');
    const exports = manifest('core/plugin-api')['exports'] as Record<string, Record<string, string>>;
    assert.equal(exports['.']?.['types'], './dist/index.d.ts');
    assert.equal(exports['./testing']?.['default'], './dist/testing/index.js');
  });

  it('every workspace depends on the current version of both', () => {
    const version = manifest('core/plugin-api')['version'];
    for (const dir of ['core/daemon', 'core/store-level', 'core/store-postgres', 'core/runtime', 'core/client', 'cli', 'plugins/driver-local', 'plugins/driver-ssh', 'plugins/driver-kubernetes']) {
      const deps = (manifest(dir)['dependencies'] ?? {}) as Record<string, string>;
      for (const name of ['@sky/plugin-api', '@sky/protocol']) if (deps[name] !== undefined) assert.equal(deps[name], version, `${dir}: ${name}`);
    }
  });

  it('the example driver depends on @sky/plugin-api by a semver range that includes this plugin API', () => {
    const deps = manifest('examples/sky-driver-example')['dependencies'] as Record<string, string>;
    assert.deepEqual(Object.keys(deps), ['@sky/plugin-api']);
    assert.match(deps['@sky/plugin-api']!, /^\^\d+\.\d+\.\d+$/);
  });

  it('the Temporal example depends on @sky/client alone, by a caret range that includes this version', () => {
    const deps = manifest('examples/temporal')['dependencies'] as Record<string, string>;
    assert.deepEqual(Object.keys(deps), ['@sky/client']);
    const [major, minor] = String(manifest('core/client')['version']).split('.').map(Number);
    const m = /^\^(\d+)\.(\d+)\.\d+$/.exec(deps['@sky/client']!);
    assert.ok(m, deps['@sky/client']);
    assert.equal(Number(m[1]), major);
    assert.ok(Number(m[2]) <= minor!, `${deps['@sky/client']} does not include ${major}.${minor}`);
  });
});

describe('where the daemon looks for plugins', () => {
  it("npm's global root: npm_config_prefix, else the prefix of the Node.js that runs the daemon", () => {
    assert.equal(npmGlobalRoot({ npm_config_prefix: '/opt/npm' }, '/usr/bin/node'), '/opt/npm/lib/node_modules');
    assert.equal(npmGlobalRoot({ NPM_CONFIG_PREFIX: '/home/a/.npm-global' }, '/usr/bin/node'), '/home/a/.npm-global/lib/node_modules');
    assert.equal(npmGlobalRoot({}, '/usr/local/bin/node'), '/usr/local/lib/node_modules');
  });

  it('order: plugins.dirs, the plugins directory, node_modules from the working directory and the daemon up, then the global packages', () => {
    const search = pluginSearchPath({ dirs: ['/dev-plugins'], installDir: '/home/sky/.sky/plugins', global: true, searchFrom: ['/srv/app'], env: {}, execPath: '/usr/bin/node' });
    assert.deepEqual(searchDirs(search), ['/dev-plugins', '/home/sky/.sky/plugins/node_modules', '/srv/app/node_modules', '/srv/node_modules', '/node_modules', '/usr/lib/node_modules']);
  });

  it('plugins.global: false leaves the global packages out', () => {
    const search = pluginSearchPath({ dirs: [], installDir: '/p', global: false, searchFrom: [], env: {}, execPath: '/usr/bin/node' });
    assert.deepEqual(searchDirs(search), ['/p/node_modules']);
  });
});

describe('sky plugins install: what reaches npm', () => {
  it('package names, with an optional version, range or tag; scoped names; absolute tarball paths', () => {
    assert.deepEqual(parseInstallSpec('sky-driver-acme'), { kind: 'registry', name: 'sky-driver-acme', spec: 'sky-driver-acme' });
    assert.deepEqual(parseInstallSpec('@acme/sky-driver-x@^1.2.0'), { kind: 'registry', name: '@acme/sky-driver-x', spec: '@acme/sky-driver-x@^1.2.0' });
    assert.equal(parseInstallSpec('sky-driver-acme@latest').kind, 'registry');
    assert.deepEqual(parseInstallSpec('/srv/p/sky-driver-acme-1.0.0.tgz'), { kind: 'tarball', path: '/srv/p/sky-driver-acme-1.0.0.tgz', spec: '/srv/p/sky-driver-acme-1.0.0.tgz' });
  });

  for (const bad of ['-g', '--prefix=/', 'git+ssh://x', 'http://x/y.tgz', 'file:../x', 'npm:x@1', 'github:a/b', 'a/b', './x.tgz', '/a/../b.tgz', '/a//b.tgz', '/etc/passwd', 'UPPER', 'x@1 2', 'x@a/b', 'x@', '', 'x\ty', '.hidden', '_under']) {
    it(`refuses ${JSON.stringify(bad)} with VALIDATION_FAILED`, () => {
      assert.throws(() => parseInstallSpec(bad), (e: unknown) => (e as { code?: string }).code === 'VALIDATION_FAILED');
    });
  }

  it('npm always gets --ignore-scripts, the plugins directory as prefix, and the specs after --', () => {
    const args = npmInstallArgs('/p', [parseInstallSpec('sky-driver-a'), parseInstallSpec('/t/x.tgz')]);
    assert.ok(args.includes('--ignore-scripts'));
    assert.deepEqual(args.slice(args.indexOf('--prefix'), args.indexOf('--prefix') + 2), ['--prefix', '/p']);
    assert.deepEqual(args.slice(args.indexOf('--') + 1), ['sky-driver-a', '/t/x.tgz']);
  });
});
