import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SkyError, parseTaskPipelineYaml, parseTaskYaml } from '@sky/protocol';

/*
 * Pipelines as SkyPilot writes them: one file, several YAML documents separated by `---`, each
 * a task; an optional first document holding only `name:` names the pipeline.
 */

function skyError(run: () => unknown): SkyError {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof SkyError, `expected a SkyError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a SkyError');
}

describe('parseTaskPipelineYaml', () => {
  it('reads every document as a task, in order, and the header as the pipeline name', () => {
    const p = parseTaskPipelineYaml('name: pipe\n---\nname: a\nrun: echo a\n---\nname: b\nnum_nodes: 2\nrun: echo b\n', 'p.yaml');
    assert.equal(p.name, 'pipe');
    assert.deepEqual(
      p.tasks.map((t) => [t.name, t.run, t.num_nodes]),
      [
        ['a', 'echo a', 1],
        ['b', 'echo b', 2],
      ],
    );
  });

  it("the corpus's SkyPilot pipeline reads as its two stages", () => {
    const file = join(import.meta.dirname, '../fixtures/skypilot-corpus/32-pipeline.yaml');
    const p = parseTaskPipelineYaml(readFileSync(file, 'utf8'), '32-pipeline.yaml');
    assert.equal(p.name, 'pipeline');
    assert.deepEqual(p.tasks.map((t) => [t.name, t.run]), [
      ['preprocess', 'echo preprocess'],
      ['train', 'echo train'],
    ]);
  });

  it('without a header there is no pipeline name; a first document with more than a name is a task', () => {
    const p = parseTaskPipelineYaml('name: a\nrun: echo a\n---\nrun: echo b\n', 'p.yaml');
    assert.equal(p.name, undefined);
    assert.deepEqual(p.tasks.map((t) => t.run), ['echo a', 'echo b']);
  });

  it('one document is a pipeline of one task (a name alone is then the task, not a header)', () => {
    assert.deepEqual(parseTaskPipelineYaml('run: echo solo\n', 't.yaml').tasks.map((t) => t.run), ['echo solo']);
    const named = parseTaskPipelineYaml('name: only\n', 't.yaml');
    assert.deepEqual([named.name, named.tasks.map((t) => t.name)], [undefined, ['only']]);
  });

  it('documents with nothing in them (a leading, doubled or trailing ---) are skipped but keep their numbers', () => {
    const p = parseTaskPipelineYaml('---\nrun: echo a\n---\n---\nrun: echo b\n---\n', 'p.yaml');
    assert.deepEqual(p.tasks.map((t) => t.run), ['echo a', 'echo b']);
    const err = skyError(() => parseTaskPipelineYaml('run: echo a\n---\n---\nrun: echo b\nresources: {cpus: x}\n', 'p.yaml'));
    assert.match(err.message, /^p\.yaml:5:\d+: document 3: resources\.cpus: /);
  });

  it('a bad document is named by number, with each problem at its line and field; the issues carry the document', () => {
    const err = skyError(() => parseTaskPipelineYaml('name: p\n---\nrun: a\n---\nrun: b\nfoo: 1\nresources:\n  cpus: x\n', 'p.yaml'));
    assert.equal(err.code, 'TASK_INVALID');
    const lines = err.message.split('\n');
    assert.match(lines[0]!, /^p\.yaml:6:1: document 3: foo: unknown field; /);
    assert.match(lines[1]!, /^p\.yaml:8:9: document 3: resources\.cpus: expected a CPU count/);
    const issues = (err.details as { issues: Array<{ path: string; line: number; document: number }> }).issues;
    assert.deepEqual(issues.map((i) => [i.path, i.line, i.document]), [
      ['foo', 6, 3],
      ['resources.cpus', 8, 3],
    ]);
  });

  it('a header whose name is not text is refused in document 1', () => {
    const err = skyError(() => parseTaskPipelineYaml('name: [a]\n---\nrun: b\n', 'p.yaml'));
    assert.match(err.message, /^p\.yaml:1:7: document 1: name: the pipeline name must be a non-empty string, got a list$/);
  });

  it('YAML syntax errors and an empty file are refused as for one task', () => {
    assert.match(skyError(() => parseTaskPipelineYaml('run: a\n---\nrun: [b\n', 'p.yaml')).message, /^p\.yaml:\d+:\d+: YAML syntax error: /);
    assert.match(skyError(() => parseTaskPipelineYaml('', 'p.yaml')).message, /^p\.yaml:1:1: the task file is empty/);
    assert.match(skyError(() => parseTaskPipelineYaml('---\n---\n', 'p.yaml')).message, /^p\.yaml:1:1: the task file is empty/);
  });

  it('a repeated key is a warning naming its document', () => {
    const p = parseTaskPipelineYaml('run: a\n---\nrun: b\nrun: c\n', 'p.yaml');
    assert.equal(p.tasks[1]!.run, 'c');
    assert.deepEqual(p.tasks[1]!.ignored, ["document 2: run: given twice (lines 3 and 4); the later one is used, as SkyPilot's YAML reader does"]);
  });

  it('sky launch (parseTaskYaml) still takes one task only', () => {
    const err = skyError(() => parseTaskYaml('run: a\n---\nrun: b\n', 't.yaml'));
    assert.equal(err.code, 'TASK_UNSUPPORTED');
  });
});
