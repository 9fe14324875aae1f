import { z } from 'zod';

/** Workspace names: lowercase letters, digits, "-" and "_", starting with a letter or digit (they travel in a header). */
export const WorkspaceNameSchema = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9][a-z0-9_-]*$/, 'a workspace name has lowercase letters, digits, "-" or "_", starting with a letter or digit');

/** Infra a workspace may use: a driver (`ssh`) or a driver and pool (`ssh/gpu-a`). */
export const WorkspaceInfraSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[a-z0-9][a-z0-9_-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)?$/, 'infra is a driver (e.g. ssh) or a driver and pool (e.g. ssh/gpu-a)');

const UserNamesSchema = z.array(z.string().min(1).max(64)).max(10000);

/** A workspace as the API shows it: its allowed users by id and by name. */
export const WorkspaceViewSchema = z
  .object({
    name: z.string(),
    private: z.boolean(),
    allowedUsers: z.array(z.string()).describe('User ids.'),
    allowedUserNames: z.array(z.string()).describe('The same users by name (the id when the user no longer exists).'),
    allowedInfra: z.array(z.string()).optional().describe('Infra it may use; every infra when absent.'),
    createdAt: z.number().int(),
    updatedAt: z.number().int(),
  })
  .meta({ id: 'Workspace' });
export type WorkspaceView = z.infer<typeof WorkspaceViewSchema>;

export const WorkspaceListSchema = z.object({ items: z.array(WorkspaceViewSchema) }).meta({ id: 'WorkspaceList' });
export const WorkspaceNameParamsSchema = z.strictObject({ name: WorkspaceNameSchema });

export const CreateWorkspaceBodySchema = z
  .strictObject({
    name: WorkspaceNameSchema,
    private: z.boolean().optional(),
    allowed_users: UserNamesSchema.optional().describe('User names admitted to a private workspace.'),
    allowed_infra: z.array(WorkspaceInfraSchema).max(100).optional().describe('Restrict it to these drivers or driver/pools.'),
  })
  .meta({ id: 'CreateWorkspaceBody' });
export type CreateWorkspaceBody = z.infer<typeof CreateWorkspaceBodySchema>;

export const UpdateWorkspaceBodySchema = z
  .strictObject({
    private: z.boolean().optional(),
    allowed_users: UserNamesSchema.optional().describe('Replaces the allowed users (names).'),
    allowed_infra: z.array(WorkspaceInfraSchema).max(100).nullable().optional().describe('Replaces the allowed infra; null lifts the restriction.'),
  })
  .meta({ id: 'UpdateWorkspaceBody' });
export type UpdateWorkspaceBody = z.infer<typeof UpdateWorkspaceBodySchema>;
