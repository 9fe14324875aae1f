import { z } from 'zod';

/** The media type of a state file (sky api export): JSON lines, see the README. */
export const STATE_FILE_MEDIA_TYPE = 'application/x-ndjson';

/** GET /api/v1/admin/export: the whole state as a sky-state file. */
export const ExportStateQuerySchema = z.strictObject({
  gzip: z
    .preprocess((v) => (v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : v), z.boolean())
    .optional()
    .describe('Compress the file with gzip (Content-Encoding is not used: the bytes are the .gz file).'),
});
export type ExportStateQuery = z.infer<typeof ExportStateQuerySchema>;
