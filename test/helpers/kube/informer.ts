/**
 * List-then-watch of one collection, as a kubelet or controller does it: the list's items come
 * first as ADDED, then the watch from the list's resourceVersion; a watch the server ends is
 * resumed from the last resourceVersion seen (bookmarks included), and a 410 Gone or an error
 * relists (objects gone meanwhile are then reported DELETED).
 */
import type { KubeApi, KubeList, KubeObject, WatchEvent } from './api.js';

export interface Informer {
  /** Resolves once the initial list was handed over. */
  ready: Promise<void>;
  stop(): void;
}

export function inform<T extends KubeObject>(
  api: KubeApi,
  path: string,
  onEvent: (type: 'ADDED' | 'MODIFIED' | 'DELETED', object: T) => void,
  onError: (err: Error) => void = () => undefined,
): Informer {
  let stopped = false;
  let current: { stop: () => void } | undefined;
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });

  // What the last list and watch events said exists, by uid: a relist reports what vanished meanwhile as DELETED.
  const known = new Map<string, T>();
  const relist = async (): Promise<string> => {
    const list = await api.get<KubeList<T>>(path);
    const listed = new Set(list.items.map((item) => item.metadata.uid ?? item.metadata.name));
    for (const [id, object] of known) {
      if (!listed.has(id)) {
        known.delete(id);
        onEvent('DELETED', object);
      }
    }
    for (const item of list.items) {
      known.set(item.metadata.uid ?? item.metadata.name, item);
      onEvent('ADDED', item);
    }
    markReady();
    return list.metadata.resourceVersion;
  };

  const loop = async (): Promise<void> => {
    let rv = '';
    while (!stopped) {
      try {
        if (rv === '') rv = await relist();
        let gone = false;
        const watch = api.watch<T>(path, rv, (event: WatchEvent<T>) => {
          if (event.type === 'ERROR') {
            const status = event.object as unknown as { code?: number };
            if (status.code === 410) gone = true;
            return;
          }
          const next = event.object.metadata.resourceVersion;
          if (next) rv = next;
          if (event.type === 'BOOKMARK') return;
          const id = event.object.metadata.uid ?? event.object.metadata.name;
          if (event.type === 'DELETED') known.delete(id);
          else known.set(id, event.object);
          onEvent(event.type, event.object);
        });
        current = watch;
        await watch.done;
        if (gone) rv = '';
      } catch (err) {
        if (stopped) return;
        onError(err as Error);
        rv = '';
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  };
  void loop();

  return {
    ready,
    stop: () => {
      stopped = true;
      current?.stop();
    },
  };
}
