import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Which cluster holds which host (`host:port` → cluster id), kept in the plugin's data directory so a restarted daemon finds it. */
export type Holds = Record<string, string>;

/**
 * The driver's one piece of state, a JSON file changed under an in-process lock: calls for
 * different clusters may overlap, and each change is a read, a decision and a write. Written to
 * a temporary file and renamed, so a crash never leaves half a file.
 */
export class HoldsFile {
  private chain: Promise<unknown> = Promise.resolve();
  private readonly file: string;

  constructor(private readonly dir: string) {
    this.file = join(dir, 'holds.json');
  }

  async read(): Promise<Holds> {
    try {
      return JSON.parse(await readFile(this.file, 'utf8')) as Holds;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw err;
    }
  }

  /** Run `change` on the current holds with no other change in between; what it returns is written back. */
  update<T>(change: (holds: Holds) => { holds: Holds; result: T }): Promise<T> {
    const next = this.chain.then(async () => {
      const { holds, result } = change(await this.read());
      await mkdir(this.dir, { recursive: true });
      const tmp = `${this.file}.${process.pid}.tmp`;
      await writeFile(tmp, `${JSON.stringify(holds)}\n`, { mode: 0o600 });
      await rename(tmp, this.file);
      return result;
    });
    this.chain = next.catch(() => undefined);
    return next;
  }
}
