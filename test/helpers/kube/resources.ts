/**
 * From an object's apiVersion and kind to its REST path, through the API server's discovery
 * documents (cached per server), and server-side apply of whole objects.
 */
import type { KubeApi, KubeObject } from './api.js';
import { seg } from './api.js';

interface ApiResource {
  name: string;
  kind: string;
  namespaced: boolean;
}

const discovery = new Map<string, Promise<ApiResource[]>>();

function groupBase(apiVersion: string): string {
  return apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
}

async function resourcesOf(api: KubeApi, apiVersion: string): Promise<ApiResource[]> {
  const key = `${api.server} ${apiVersion}`;
  let found = discovery.get(key);
  if (!found) {
    found = api.get<{ resources: ApiResource[] }>(groupBase(apiVersion)).then((d) => d.resources.filter((r) => !r.name.includes('/')));
    found.catch(() => discovery.delete(key));
    discovery.set(key, found);
  }
  return found;
}

/** The collection path of a kind (in `namespace` when the kind is namespaced), or the object's path with `name`. */
export async function resourcePath(api: KubeApi, apiVersion: string, kind: string, namespace?: string, name?: string): Promise<string> {
  const resource = (await resourcesOf(api, apiVersion)).find((r) => r.kind === kind);
  if (!resource) throw new Error(`the API server knows no kind ${kind} in ${apiVersion}`);
  let path = groupBase(apiVersion);
  if (resource.namespaced) path += `/namespaces/${seg(namespace ?? 'default')}`;
  path += `/${resource.name}`;
  if (name !== undefined) path += `/${seg(name)}`;
  return path;
}

/** Server-side apply (field manager `sky-test`, forced): creates or updates; returns the live object. */
export async function applyObject<T extends KubeObject>(api: KubeApi, object: T): Promise<T> {
  if (!object.apiVersion || !object.kind) throw new Error(`apply needs apiVersion and kind: ${JSON.stringify(object).slice(0, 200)}`);
  const path = await resourcePath(api, object.apiVersion, object.kind, object.metadata.namespace, object.metadata.name);
  const answer = await api.request<T>('PATCH', `${path}?fieldManager=sky-test&force=true`, object, { contentType: 'application/apply-patch+yaml' });
  return answer.body;
}
