// A server-sent-events reader for tests: what a page's EventSource receives, over a real HTTP connection.
import { waitFor } from './wait';

export interface SseEvent {
  event: string;
  data: any;
}

export class SseReader {
  readonly events: SseEvent[] = [];
  /** Everything received, as text (to look for what must never be sent). */
  raw = '';
  status = 0;
  private readonly controller = new AbortController();
  private done: Promise<void> = Promise.resolve();

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
    const reader = new SseReader();
    const res = await fetch(url, {
      headers: { accept: 'text/event-stream', ...headers },
      signal: reader.controller.signal,
    });
    reader.status = res.status;
    if (!res.ok || !res.body) return reader;
    reader.done = reader.read(res.body).catch(() => undefined);
    return reader;
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
      const text = decoder.decode(chunk, { stream: true });
      this.raw += text;
      buffer += text;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) event = line.slice(7);
          else if (line.startsWith('data: ')) data.push(line.slice(6));
        }
        if (data.length) this.events.push({ event, data: JSON.parse(data.join('\n')) });
      }
    }
  }

  of(event: string): any[] {
    return this.events.filter((e) => e.event === event).map((e) => e.data);
  }

  last(event: string): any {
    const all = this.of(event);
    return all[all.length - 1];
  }

  /** Waits for an event of that name for which `ok` holds (looking at the newest first); returns its data. */
  async waitFor(event: string, ok: (data: any) => boolean = () => true, timeoutMs = 15_000): Promise<any> {
    return waitFor(() => this.of(event).reverse().find(ok), `an SSE "${event}" event`, timeoutMs);
  }

  async close(): Promise<void> {
    this.controller.abort();
    await this.done;
  }
}
