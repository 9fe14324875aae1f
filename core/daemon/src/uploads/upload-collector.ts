import { inject, injectable } from 'tsyringe';
import type { Logger } from 'pino';
import { TOKENS } from '../tokens.js';
import type { DaemonConfig } from '../config/schema.js';
import { UploadService } from './upload-service.js';

/** Runs upload garbage collection at start and every uploads.gc_interval_seconds. */
@injectable()
export class UploadCollector {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    @inject(UploadService) private readonly uploads: UploadService,
    @inject(TOKENS.Config) private readonly config: DaemonConfig,
    @inject(TOKENS.Logger) private readonly logger: Logger,
  ) {}

  /** One pass (never two at once); failures are logged. */
  collectOnce(): Promise<unknown> {
    this.running ??= this.uploads
      .collect()
      .catch((err: unknown) => this.logger.error({ err }, 'collecting unused uploads failed'))
      .finally(() => (this.running = undefined));
    return this.running;
  }

  start(): void {
    void this.collectOnce();
    this.timer = setInterval(() => void this.collectOnce(), this.config.uploads.gc_interval_seconds * 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}
