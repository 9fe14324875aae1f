import { z } from 'zod';
import { WebhookRecordSchema, WebhookStateSchema } from './webhooks.js';

/** Roles of the team server; new users are `user`. */
export const ROLES = ['admin', 'user'] as const;
export const RoleSchema = z.enum(ROLES);
export type Role = z.infer<typeof RoleSchema>;

/** A user of the daemon. `name` is unique across the team; the daemon stores it canonical (canonicalUserName: NFKC, lowercase). */
export const UserRecordSchema = z.object({
  id: z.string(),
  name: z.string(),
  role: RoleSchema,
  /** Opaque to the store (a KDF output with its parameters); never served by the API. */
  passwordHash: z.string().optional(),
  createdAt: z.number().int(),
  updatedAt: z.number().int(),
  disabled: z.boolean().optional(),
});
export type UserRecord = z.infer<typeof UserRecordSchema>;

/** A bearer token of a user. Only its hash is stored; the store matches it, never reads it. */
export const TokenRecordSchema = z.object({
  id: z.string(),
  userId: z.string(),
  name: z.string(),
  hash: z.string(),
  createdAt: z.number().int(),
  expiresAt: z.number().int().optional(),
  lastUsedAt: z.number().int().optional(),
  revokedAt: z.number().int().optional(),
});
export type TokenRecord = z.infer<typeof TokenRecordSchema>;

/**
 * A browser session, opened by a one-time login link (sky dashboard). Only a hash of the
 * cookie's secret is stored. `userId` names a user record in the team modes; a personal
 * daemon has no user records, and its sessions belong to the owner's declared identity.
 */
export const SessionRecordSchema = z.object({
  id: z.string(),
  userId: z.string(),
  userName: z.string(),
  hash: z.string(),
  createdAt: z.number().int(),
  expiresAt: z.number().int(),
  revokedAt: z.number().int().optional(),
  /** Opened on a personal daemon (auth mode none): counts only there, and a team daemon's sessions never count on it. */
  local: z.boolean().optional(),
});
export type SessionRecord = z.infer<typeof SessionRecordSchema>;

/** A workspace; a private one admits only `allowedUsers` (user ids). */
export const WorkspaceRecordSchema = z.object({
  name: z.string(),
  private: z.boolean(),
  allowedUsers: z.array(z.string()),
  /** Infra (drivers or pools) the workspace may use; every infra when absent. */
  allowedInfra: z.array(z.string()).optional(),
  createdAt: z.number().int(),
  updatedAt: z.number().int(),
  /** Webhooks events of the workspace are POSTed to (admins manage them); none when absent. */
  webhooks: z.array(WebhookRecordSchema).optional(),
  /** Per webhook id: the delivering replica's cursor and delivery log (only it writes this field). */
  webhookState: z.record(z.string(), WebhookStateSchema).optional(),
});
export type WorkspaceRecord = z.infer<typeof WorkspaceRecordSchema>;

export const AUDIT_RESULTS = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'DENIED'] as const;
export const AuditResultSchema = z.enum(AUDIT_RESULTS);
export type AuditResult = z.infer<typeof AuditResultSchema>;

/** One audited operation: who did what, to which target, with which result, and when. */
export const AuditRecordSchema = z.object({
  /** Sortable and assigned by the caller, like request ids: newest has the highest id. */
  id: z.string(),
  at: z.number().int(),
  user: z.string().describe('User id.'),
  userName: z.string(),
  action: z.string().describe('Operation name, e.g. "launch".'),
  target: z.string().optional(),
  result: AuditResultSchema,
  requestId: z.string().optional(),
  detail: z.string().optional(),
});
export type AuditRecord = z.infer<typeof AuditRecordSchema>;
