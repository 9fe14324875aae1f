/**
 * Who may call a route or submit an operation. The daemon enforces it centrally from the route
 * table (never handler by handler), and the tests read it from there too.
 * - public: no credentials needed (the health check);
 * - user: any authenticated caller; what they may do to a given request, cluster, job, token or
 *   workspace is then decided per record (owner, workspace member or admin);
 * - admin: callers with the admin role only.
 */
export const ACCESS_LEVELS = ['public', 'user', 'admin'] as const;
export type Access = (typeof ACCESS_LEVELS)[number];

/** The longest `ping --sleep` a non-admin may ask for: longer pings only hold a lane slot. */
export const PING_USER_MAX_SLEEP_SECONDS = 5;
