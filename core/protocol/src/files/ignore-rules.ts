import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import ignore, { type Ignore } from 'ignore';

/** The ignore file SkyPilot reads at the root of a workdir or file-mount source. */
export const SKYIGNORE = '.skyignore';
const GITIGNORE = '.gitignore';

interface RuleSet {
  /** Directory the rules belong to, relative to the tree root ('' for the root). */
  base: string;
  rules: Ignore;
}

async function readRules(file: string): Promise<Ignore | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  return ignore().add(text);
}

/**
 * Which paths of a tree are left out, in gitignore syntax: `.skyignore` at the root when it
 * exists (and then nothing else), else every `.gitignore` of the tree, each applying below its
 * own directory, deeper files overriding shallower ones (as git does).
 */
export class IgnoreRules {
  private constructor(
    private readonly sets: RuleSet[],
    /** Whether nested .gitignore files are read as directories are entered. */
    private readonly gitignores: boolean,
  ) {}

  static async forRoot(root: string): Promise<IgnoreRules> {
    const sky = await readRules(join(root, SKYIGNORE));
    if (sky !== undefined) return new IgnoreRules([{ base: '', rules: sky }], false);
    const git = await readRules(join(root, GITIGNORE));
    return new IgnoreRules(git === undefined ? [] : [{ base: '', rules: git }], true);
  }

  /** The rules inside directory `rel` (relative to the root): adds its .gitignore when .gitignore files apply. */
  async enter(absolute: string, rel: string): Promise<IgnoreRules> {
    if (!this.gitignores || rel === '') return this;
    const git = await readRules(join(absolute, GITIGNORE));
    return git === undefined ? this : new IgnoreRules([...this.sets, { base: rel, rules: git }], true);
  }

  /** Whether `rel` (relative to the root, '/'-separated) is left out; directories are tested with `dir`. */
  ignores(rel: string, dir: boolean): boolean {
    let ignored = false;
    for (const { base, rules } of this.sets) {
      const inner = base === '' ? rel : rel.slice(base.length + 1);
      const result = rules.test(dir ? `${inner}/` : inner);
      if (result.ignored) ignored = true;
      else if (result.unignored) ignored = false;
    }
    return ignored;
  }
}
