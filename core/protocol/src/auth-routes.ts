import { z } from 'zod';
import { RoleSchema } from './auth.js';

const UserNameSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._@-]*$/, 'a user name has letters, digits, ".", "_", "@" or "-", starting with a letter or digit');
const PasswordSchema = z.string().min(8, 'at least 8 characters').max(1024);

/** A user as the API shows it: never a password hash. */
export const UserViewSchema = z
  .object({ id: z.string(), name: z.string(), role: RoleSchema, createdAt: z.number().int(), disabled: z.boolean().optional() })
  .meta({ id: 'User' });
export type UserView = z.infer<typeof UserViewSchema>;

export const WhoAmISchema = z.object({ id: z.string(), name: z.string(), role: RoleSchema, via: z.enum(['none', 'basic', 'token', 'proxy']) }).meta({ id: 'WhoAmI' });
export type WhoAmI = z.infer<typeof WhoAmISchema>;

export const UserListSchema = z.object({ items: z.array(UserViewSchema) }).meta({ id: 'UserList' });
export const CreateUserBodySchema = z.strictObject({ name: UserNameSchema, password: PasswordSchema.optional(), role: RoleSchema.optional() }).meta({ id: 'CreateUserBody' });
export type CreateUserBody = z.infer<typeof CreateUserBodySchema>;
export const UserNameParamsSchema = z.strictObject({ name: UserNameSchema });
export const SetRoleBodySchema = z.strictObject({ role: RoleSchema }).meta({ id: 'SetRoleBody' });
export const PasswordBodySchema = z.strictObject({ password: PasswordSchema }).meta({ id: 'PasswordBody' });
export const ImportUsersBodySchema = z
  .strictObject({ users: z.array(z.strictObject({ name: UserNameSchema, password: PasswordSchema, role: RoleSchema.optional() })).min(1).max(10000) })
  .meta({ id: 'ImportUsersBody' });
export type ImportUsersBody = z.infer<typeof ImportUsersBodySchema>;
export const ImportUsersResultSchema = z.object({ created: z.array(z.string()), skipped: z.array(z.object({ name: z.string(), reason: z.string() })) }).meta({ id: 'ImportUsersResult' });
export type ImportUsersResult = z.infer<typeof ImportUsersResultSchema>;

/** A token as the API shows it: never its secret or hash (the secret is shown once, at creation). */
export const TokenViewSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    userId: z.string(),
    userName: z.string(),
    createdAt: z.number().int(),
    expiresAt: z.number().int().optional(),
    lastUsedAt: z.number().int().optional(),
    revokedAt: z.number().int().optional(),
  })
  .meta({ id: 'Token' });
export type TokenView = z.infer<typeof TokenViewSchema>;
export const TokenListSchema = z.object({ items: z.array(TokenViewSchema) }).meta({ id: 'TokenList' });
export const TokenQuerySchema = z.strictObject({ user: UserNameSchema.optional().describe("Another user's tokens (admins).") });
export const CreateTokenBodySchema = z
  .strictObject({
    name: z.string().min(1).max(100),
    expires_in_days: z.number().positive().max(3650).optional(),
    user: UserNameSchema.optional().describe('Create it for another user (admins).'),
  })
  .meta({ id: 'CreateTokenBody' });
export type CreateTokenBody = z.infer<typeof CreateTokenBodySchema>;
export const NewTokenSchema = z.object({ token: z.string().describe('The secret: shown once, store it now.'), record: TokenViewSchema }).meta({ id: 'NewToken' });
export type NewToken = z.infer<typeof NewTokenSchema>;
export const TokenIdParamsSchema = z.strictObject({ id: z.string().min(1).max(100) });
