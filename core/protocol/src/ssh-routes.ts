import { z } from 'zod';

/** The API server's SSH host key, which `sky launch` pins in the generated SSH config. */
export const SshHostKeySchema = z
  .object({
    publicKey: z.string().describe('OpenSSH public key line: "<type> <base64>".'),
    fingerprint: z.string().describe('SHA256 fingerprint, as ssh-keygen -l prints it.'),
  })
  .meta({ id: 'SshHostKey' });
export type SshHostKey = z.infer<typeof SshHostKeySchema>;

/** The node an SSH tunnel goes to: rank 0 is the head, 1..N-1 the workers. */
export const SshTunnelQuerySchema = z.strictObject({
  rank: z.coerce.number().int().min(0).max(100_000).optional().describe('Node rank (default 0, the head).'),
});
