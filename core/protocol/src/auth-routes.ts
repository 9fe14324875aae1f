import { z } from 'zod';
import { RoleSchema } from './auth.js';

/** What a user name may hold once NFKC-normalised: ASCII letters, digits, ".", "_", "@" and "-". */
export const USER_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

/**
 * The one spelling of a user name: NFKC-normalised (so full-width "Ａｌｉｃｅ" is "Alice"),
 * within the ASCII pattern, then case-folded (ASCII lowercase). Undefined when the name has
 * characters outside the pattern after NFKC: look-alikes such as a Cyrillic "а" are refused,
 * never mapped. Names are unique and looked up in this form.
 */
export function canonicalUserName(raw: string): string | undefined {
  const nfkc = raw.normalize('NFKC');
  return USER_NAME_PATTERN.test(nfkc) ? nfkc.toLowerCase() : undefined;
}

/** User names as the API accepts them: NFKC-normalised before the ASCII check (the daemon then case-folds them). */
const UserNameSchema = z
  .string()
  .overwrite((v) => v.normalize('NFKC'))
  .min(1)
  .max(64)
  .regex(USER_NAME_PATTERN, 'a user name has ASCII letters, digits, ".", "_", "@" or "-", starting with a letter or digit (names are case-insensitive)');
const PasswordSchema = z.string().min(8, 'at least 8 characters').max(1024);

/** A user as the API shows it: never a password hash. */
export const UserViewSchema = z
  .object({ id: z.string(), name: z.string(), role: RoleSchema, createdAt: z.number().int(), disabled: z.boolean().optional() })
  .meta({ id: 'User' });
export type UserView = z.infer<typeof UserViewSchema>;

/**
 * How the caller was authenticated: none (anonymous), local (the personal daemon's owner, by
 * its local token), basic (password), token (bearer token), proxy (a trusted SSO proxy's
 * header) or session (a browser's session cookie).
 */
export const AUTH_VIA = ['none', 'local', 'basic', 'token', 'proxy', 'session'] as const;
export type AuthVia = (typeof AUTH_VIA)[number];
export const WhoAmISchema = z
  .object({
    id: z.string(),
    name: z.string(),
    role: RoleSchema,
    via: z.enum(AUTH_VIA),
    expiresAt: z.number().int().optional().describe('When the credential in use (a token or a session) expires.'),
  })
  .meta({ id: 'WhoAmI' });
export type WhoAmI = z.infer<typeof WhoAmISchema>;

export const UserListSchema = z.object({ items: z.array(UserViewSchema) }).meta({ id: 'UserList' });
export const CreateUserBodySchema = z.strictObject({ name: UserNameSchema, password: PasswordSchema.optional(), role: RoleSchema.optional() }).meta({ id: 'CreateUserBody' });
export type CreateUserBody = z.infer<typeof CreateUserBodySchema>;
export const UserNameParamsSchema = z.strictObject({ name: UserNameSchema });
const boolFlag = z.preprocess((v) => (v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : v), z.boolean());

/**
 * Offboarding: what happens to the clusters of a deleted user. One of the two is required when
 * the user owns clusters; as query parameters or in the body.
 */
const OffboardingFields = {
  transfer_to: UserNameSchema.optional().describe('Give their clusters to this user.'),
  down: boolFlag.optional().describe('Tear their clusters down.'),
};
export const DeleteUserQuerySchema = z.strictObject(OffboardingFields);
export const DeleteUserBodySchema = z.strictObject(OffboardingFields).meta({ id: 'DeleteUserBody' });
export type DeleteUserOptions = z.infer<typeof DeleteUserBodySchema>;

/** A deleted user, and what became of their credentials, requests and clusters. */
export const DeletedUserSchema = UserViewSchema.extend({
  revokedTokens: z.number().int().describe('Tokens (and browser sessions) revoked.'),
  cancelledRequests: z.array(z.string()).describe('Their requests that were still pending or running.'),
  transferredTo: z.string().optional().describe('Who got their clusters.'),
  transferred: z.array(z.string()).describe('Clusters given to transferredTo.'),
  downRequests: z.array(z.object({ cluster: z.string(), requestId: z.string() })).describe('Tear-downs submitted (follow them with sky api logs ID).'),
}).meta({ id: 'DeletedUser' });
export type DeletedUser = z.infer<typeof DeletedUserSchema>;

export const SetRoleBodySchema = z.strictObject({ role: RoleSchema }).meta({ id: 'SetRoleBody' });
export const PasswordBodySchema = z
  .strictObject({
    password: PasswordSchema,
    current_password: z.string().max(1024).optional().describe('Required to change your own password; not needed by an admin setting another user\'s.'),
  })
  .meta({ id: 'PasswordBody' });
export type PasswordBody = z.infer<typeof PasswordBodySchema>;
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

/** A one-time login link for a browser (sky dashboard): visiting it sets a session cookie. */
export const LoginLinkSchema = z
  .object({
    path: z.string().describe('Path (with the one-time code) to open on this API server, relative to its root.'),
    expiresAt: z.number().int().describe('The link works once, until this time.'),
    sessionExpiresAt: z.number().int().describe('When the session the link opens will expire.'),
  })
  .meta({ id: 'LoginLink' });
export type LoginLink = z.infer<typeof LoginLinkSchema>;
export const OpenSessionQuerySchema = z.strictObject({ code: z.string().min(1).max(200).describe('The one-time code of a login link.') });
export const ClosedSessionSchema = z.object({ closed: z.boolean() }).meta({ id: 'ClosedSession' });

/** The auth modes of an API server: none (personal), basic (passwords), token (bearer tokens only), proxy (a trusted SSO proxy). */
export const AUTH_MODES = ['none', 'basic', 'token', 'proxy'] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

/** How a browser signs in here, before it is signed in: what the dashboard's login page asks. */
export const AuthMethodsSchema = z
  .object({
    mode: z.enum(AUTH_MODES).describe('none: a personal server (open the link sky dashboard prints); proxy: the auth proxy in front signs you in; basic or token: log in.'),
    passwordLogin: z.boolean().describe('Whether POST /api/v1/auth/password-session accepts a user name and password (auth mode basic).'),
  })
  .meta({ id: 'AuthMethods' });
export type AuthMethods = z.infer<typeof AuthMethodsSchema>;

/** A browser's password login. Any name is checked the same way: a name nobody has fails exactly like a wrong password. */
export const PasswordLoginBodySchema = z
  .strictObject({
    name: z.string().min(1).max(256).describe('The user name.'),
    password: z.string().min(1).max(1024).describe('The password.'),
  })
  .meta({ id: 'PasswordLoginBody' });
export type PasswordLoginBody = z.infer<typeof PasswordLoginBodySchema>;
