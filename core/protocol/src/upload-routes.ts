import { z } from 'zod';
import { SHA256_PATTERN, UPLOAD_ID_PATTERN } from './wire/manifest.js';

export const UploadIdSchema = z.string().regex(UPLOAD_ID_PATTERN, 'an upload id is "up-" and 64 hex digits').describe('An upload (manifest) id, from POST /api/v1/uploads.');
const Sha256Schema = z.string().regex(SHA256_PATTERN, 'a chunk id is its sha256: 64 lowercase hex digits');

/**
 * The manifest as the route table shows it. The daemon checks the body further with
 * manifestProblems (paths, duplicates, chunk counts, limits) and answers UPLOAD_INVALID.
 */
export const UploadManifestSchema = z
  .strictObject({
    kind: z.enum(['dir', 'file']).describe('A directory tree, or one file.'),
    files: z
      .array(
        z.strictObject({
          path: z.string().describe("Relative, '/'-separated; never empty, '.' or '..' segments. A single file: its name."),
          mode: z.number().int().min(0).max(0o777).describe('Permission bits.'),
          mtimeMs: z.number().min(0),
          size: z.number().int().min(0),
          chunks: z.array(Sha256Schema).describe('sha256 of each 4 MiB piece, in order.'),
        }),
      )
      .describe('Every regular file (symbolic links inside the tree are sent as what they point to).'),
    dirs: z.array(z.string()).describe('Directories to create even when empty.'),
  })
  .meta({ id: 'UploadManifest' });

export const UploadCreatedSchema = z
  .object({
    id: UploadIdSchema,
    missing: z.array(z.string()).describe('Chunks the API server lacks for you: PUT each to /api/v1/uploads/chunks/{hash}.'),
    bytes: z.number().int().describe('Total bytes of the upload.'),
    missingBytes: z.number().int(),
    usedBytes: z.number().int().describe('Bytes you store on the API server now.'),
    quotaBytes: z.number().int(),
  })
  .meta({ id: 'UploadCreated' });
export type UploadCreated = z.infer<typeof UploadCreatedSchema>;

export const UploadViewSchema = z
  .object({
    id: UploadIdSchema,
    kind: z.enum(['dir', 'file']),
    files: z.number().int(),
    dirs: z.number().int(),
    bytes: z.number().int(),
    createdAt: z.number().int(),
    lastUsedAt: z.number().int(),
    missing: z.array(z.string()).describe('Chunks still to send; empty when the upload is complete.'),
  })
  .meta({ id: 'Upload' });
export type UploadView = z.infer<typeof UploadViewSchema>;

export const UploadIdParamsSchema = z.strictObject({ id: UploadIdSchema });
export const ChunkParamsSchema = z.strictObject({ hash: Sha256Schema.describe("The chunk's sha256.") });
export const ChunkStoredSchema = z
  .object({ sha256: z.string(), size: z.number().int(), created: z.boolean().describe('False when you had stored it already.'), usedBytes: z.number().int() })
  .meta({ id: 'ChunkStored' });
export type ChunkStored = z.infer<typeof ChunkStoredSchema>;

/** Uploads a launch or exec uses instead of paths: the workdir, and file mounts by destination. */
export const TaskUploadsSchema = z
  .strictObject({
    workdir: UploadIdSchema.optional().describe('Synced to ~/sky_workdir; replaces the task\'s workdir path.'),
    file_mounts: z
      .record(z.string().min(1).max(4096), UploadIdSchema)
      .optional()
      .describe("Destination → upload; replaces the task's file_mounts source for that destination (or adds the mount)."),
  })
  .meta({ id: 'TaskUploads' });
export type TaskUploads = z.infer<typeof TaskUploadsSchema>;
