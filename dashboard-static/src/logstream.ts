/**
 * Reads an event stream (a log) with fetch(), handing its messages over in slices: after
 * TASK_BUDGET_MS of work the reader yields to the page (input, rendering) before it goes on.
 */
import { ApiError } from './api.js';
import { SseParser, type SseMessage } from './logic/sse-parser.js';

const TASK_BUDGET_MS = 20;

function yieldToPage(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Resolves when the stream ends; rejects with ApiError when the server refuses it. */
export async function readEventStream(url: string, onMessage: (m: SseMessage) => void, signal: AbortSignal): Promise<void> {
  const res = await fetch(url, { headers: { accept: 'text/event-stream' }, credentials: 'same-origin', signal });
  if (!res.ok || res.body === null) {
    let message = `the log answered ${res.status} ${res.statusText}`;
    let code = `HTTP_${res.status}`;
    let hint: string | undefined;
    try {
      const body = (await res.json()) as { error?: { code?: string; message?: string; hint?: string } };
      if (body.error?.message !== undefined) message = body.error.message;
      if (body.error?.code !== undefined) code = body.error.code;
      hint = body.error?.hint;
    } catch {
      // not JSON
    }
    throw new ApiError(res.status, code, message, hint);
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  const parser = new SseParser();
  let taskStart = performance.now();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      const messages = parser.push(value);
      for (let i = 0; i < messages.length; i++) {
        onMessage(messages[i] as SseMessage);
        // A big chunk holds thousands of messages: check the clock every few hundred.
        if (i % 256 === 255 && performance.now() - taskStart > TASK_BUDGET_MS) {
          await yieldToPage();
          taskStart = performance.now();
        }
      }
      if (performance.now() - taskStart > TASK_BUDGET_MS) {
        await yieldToPage();
        taskStart = performance.now();
      }
    }
  } finally {
    reader.releaseLock();
  }
}
