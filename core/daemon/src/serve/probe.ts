import { request } from 'node:http';
import type { ReadinessProbe } from '@sky/protocol';

export type ProbeResult = { ok: true } | { ok: false; reason: string };

/**
 * One readiness probe of a replica: a GET of the probe path (a POST of its JSON body when
 * post_data is set), answered with a 2xx within the probe's timeout. The body is read and
 * dropped; redirects are not followed (a replica that redirects its probe is not ready).
 */
export function probeReplica(endpoint: string, probe: ReadinessProbe, signal?: AbortSignal): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let url: URL;
    try {
      url = new URL(probe.path, endpoint);
    } catch {
      resolve({ ok: false, reason: `the probe URL ${endpoint}${probe.path} is not valid` });
      return;
    }
    const body = probe.postData === undefined ? undefined : Buffer.from(JSON.stringify(probe.postData));
    const headers: Record<string, string> = { ...probe.headers };
    if (body !== undefined) {
      headers['content-type'] ??= 'application/json';
      headers['content-length'] = String(body.length);
    }
    let settled = false;
    const done = (result: ProbeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const req = request(url, { method: body === undefined ? 'GET' : 'POST', headers, agent: false, ...(signal !== undefined ? { signal } : {}) }, (res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      res.on('end', () => done(status >= 200 && status < 300 ? { ok: true } : { ok: false, reason: `${url.pathname} answered ${status}` }));
      res.on('error', (err) => done({ ok: false, reason: `${url.pathname}: ${err.message}` }));
    });
    const timer = setTimeout(() => {
      req.destroy();
      done({ ok: false, reason: `${url.pathname} did not answer within ${probe.timeoutSeconds} s` });
    }, probe.timeoutSeconds * 1000);
    req.on('error', (err: NodeJS.ErrnoException) => done({ ok: false, reason: `${url.host}: ${err.code ?? err.message}` }));
    req.end(body);
  });
}
