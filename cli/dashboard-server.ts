// The HTTP server of `pingstreams dashboard`: one page, its assets and one server-sent-events stream, nothing else
// (no proxying, no admin: every other path is a 404). Loopback by default; on another interface every request must
// carry the access key (once in the URL, then a cookie). Slow stream clients are dropped, never buffered without end.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { isLoopbackHost } from '../core/endpoint';

export interface DashboardServerOptions {
  host: string;
  port: number;
  /** Required on any interface but loopback: every request must prove it knows this key. */
  accessKey?: string;
  /** Folder of index.html, dashboard.css, dashboard.js. */
  pageDir: string;
  /** What a newly connected stream client gets first (the current state, the history, the last figures). */
  initialEvents: () => Array<[event: string, data: unknown]>;
  /** Stream clients served at once. Default 32. */
  maxClients?: number;
  /** Bytes a client may leave unread before it is dropped. Default 256 KiB. */
  maxBufferedBytes?: number;
  /** A comment line this often keeps idle proxies and the browser's connection alive. Default 15 s. */
  keepAliveMs?: number;
}

interface Asset {
  type: string;
  body: Buffer;
}

const KEY_COOKIE = 'pingstreams_dashboard_key';
/** The page's EventSource reconnects this long after the stream breaks (a restart of the CLI). */
const RETRY_MS = 2_000;
const HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  // Everything comes from this server: no CDN, no inline script, no other origin.
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
};

/** A random access key, printed at start when the dashboard listens beyond loopback. */
export function newAccessKey(): string {
  return randomBytes(18).toString('base64url');
}

function assetsOf(pageDir: string): Map<string, Asset> {
  const uplot = join(require.resolve('uplot/package.json'), '..', 'dist');
  const files: Array<[string, string, string]> = [
    ['/', join(pageDir, 'index.html'), 'text/html; charset=utf-8'],
    ['/assets/dashboard.css', join(pageDir, 'dashboard.css'), 'text/css; charset=utf-8'],
    ['/assets/dashboard.js', join(pageDir, 'dashboard.js'), 'text/javascript; charset=utf-8'],
    ['/assets/uPlot.min.css', join(uplot, 'uPlot.min.css'), 'text/css; charset=utf-8'],
    ['/assets/uPlot.iife.min.js', join(uplot, 'uPlot.iife.min.js'), 'text/javascript; charset=utf-8'],
    ['/assets/icon.svg', join(pageDir, 'icon.svg'), 'image/svg+xml'],
  ];
  return new Map(files.map(([path, file, type]) => [path, { type, body: readFileSync(file) }]));
}

export class DashboardServer {
  private readonly server: Server;
  private readonly assets: Map<string, Asset>;
  private readonly clients = new Set<ServerResponse>();
  private readonly sockets = new Set<Socket>();
  private readonly keepAlive: NodeJS.Timeout;
  private readonly loopback: boolean;
  /** Stream clients dropped for reading too slowly, since start. */
  dropped = 0;

  constructor(private readonly options: DashboardServerOptions) {
    this.loopback = isLoopbackHost(options.host);
    if (!this.loopback && !options.accessKey) throw new Error('An access key is required to listen beyond loopback.');
    this.assets = assetsOf(options.pageDir);
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    this.keepAlive = setInterval(() => this.broadcast(': keep-alive\n\n'), options.keepAliveMs ?? 15_000);
    this.keepAlive.unref();
  }

  /** Listens; resolves with the port. */
  async start(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return (this.server.address() as AddressInfo).port;
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** Sends one event to every stream client (serialised once, whatever the number of clients). */
  publish(event: string, data: unknown): void {
    if (this.clients.size) this.broadcast(frame(event, data));
  }

  /** Ends every stream, closes every socket and stops listening. */
  async close(): Promise<void> {
    clearInterval(this.keepAlive);
    for (const res of this.clients) res.end();
    this.clients.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  private broadcast(text: string): void {
    const limit = this.options.maxBufferedBytes ?? 256 * 1024;
    for (const res of this.clients) {
      // A client that does not read (a sleeping tab, a stalled network) would grow our memory: it goes, and its
      // EventSource comes back with a fresh state when it can read again.
      if (res.writableLength > limit) {
        this.dropped++;
        this.clients.delete(res);
        res.destroy();
        continue;
      }
      res.write(text);
    }
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://dashboard.invalid');
    const route = url.pathname === '/events' ? 'stream' : this.assets.has(url.pathname) ? 'asset' : undefined;
    if (!route) return plain(res, 404, 'Not found. This server only serves the Pingstreams dashboard page.');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return plain(res, 405, 'Only GET is served here.');
    }
    // On loopback, a Host other than a loopback name is a page of another site reaching us through DNS rebinding.
    if (this.loopback && !isLoopbackHost(hostnameOf(req.headers.host)))
      return plain(res, 403, 'This dashboard answers only on this machine (open it with 127.0.0.1 or localhost).');
    if (this.options.accessKey) {
      const given = url.searchParams.get('key');
      if (given !== null && url.pathname === '/' && sameKey(given, this.options.accessKey)) {
        // Remembered in a cookie, then taken out of the address bar (a TV shows it to the whole room).
        res.writeHead(303, {
          ...HEADERS,
          Location: '/',
          'Set-Cookie': `${KEY_COOKIE}=${this.options.accessKey}; HttpOnly; SameSite=Strict; Path=/`,
          'Cache-Control': 'no-store',
        });
        return void res.end();
      }
      if (!sameKey(cookieOf(req, KEY_COOKIE) ?? '', this.options.accessKey)) {
        return plain(
          res,
          401,
          'This dashboard needs its access key: open the address that "pingstreams dashboard" printed when it started (it ends with ?key=...).',
        );
      }
    }
    if (route === 'asset') {
      const asset = this.assets.get(url.pathname)!;
      res.writeHead(200, {
        ...HEADERS,
        'Content-Type': asset.type,
        'Content-Length': asset.body.length,
        'Cache-Control': 'no-cache',
      });
      return void res.end(req.method === 'HEAD' ? undefined : asset.body);
    }
    this.openStream(req, res);
  }

  private openStream(req: IncomingMessage, res: ServerResponse): void {
    if (this.clients.size >= (this.options.maxClients ?? 32)) {
      res.setHeader('Retry-After', '10');
      return plain(res, 503, 'Too many dashboards are open on this server; close one and reload.');
    }
    res.writeHead(200, {
      ...HEADERS,
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
    });
    if (req.method === 'HEAD') return void res.end();
    req.socket.setNoDelay(true);
    this.clients.add(res);
    res.once('close', () => this.clients.delete(res));
    res.write(`retry: ${RETRY_MS}\n\n`);
    for (const [event, data] of this.options.initialEvents()) res.write(frame(event, data));
  }
}

function frame(event: string, data: unknown): string {
  // JSON.stringify never emits a raw newline, so one data line carries the whole event.
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

function plain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { ...HEADERS, 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(`${text}\n`);
}

function hostnameOf(host: string | undefined): string {
  if (!host) return '';
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  return host.replace(/:\d+$/, '');
}

function cookieOf(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}

function sameKey(given: string, key: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(key);
  return a.length === b.length && timingSafeEqual(a, b);
}
