// Admin HTTP API (loopback only, JSON in/out): drive the emulator from curl, scripts or other processes.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EmulatorServer } from './server';
import { DEMO_ROLES, DemoRole } from './seed';
import { EmulatorError } from './store';
import { simulationRoutes } from './admin-simulation';

const MAX_BODY_BYTES = 16 * 1024 * 1024; // room for a 10 MB raw test frame
const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

type Body = Record<string, unknown>;
type Route = {
  method: string;
  pattern: RegExp;
  run: (emu: EmulatorServer, params: string[], body: Body) => unknown | Promise<unknown>;
  status?: number;
};

const P = '([^/]+)';
const routes: Route[] = [
  ...simulationRoutes,
  { method: 'GET', pattern: /^\/stats$/, run: (emu) => emu.stats() },
  {
    method: 'GET',
    pattern: /^\/state$/,
    run: (emu) => ({
      demo: { projectId: emu.projectId, users: emu.users, projectUsers: emu.projectUsers },
      ...emu.store.dump(),
    }),
  },
  { method: 'GET', pattern: new RegExp(`^/projects/${P}/requests$`), run: (emu, [p]) => emu.getRequests(p) },
  {
    method: 'POST',
    pattern: new RegExp(`^/projects/${P}/requests$`),
    status: 201,
    run: (emu, [p], b) => emu.createRequest(p, b),
  },
  {
    method: 'PATCH',
    pattern: new RegExp(`^/projects/${P}/requests/${P}$`),
    run: (emu, [p, r], b) => emu.updateRequest(p, r, b),
  },
  {
    method: 'POST',
    pattern: new RegExp(`^/projects/${P}/requests/${P}/close$`),
    run: (emu, [p, r]) => emu.closeRequest(p, r),
  },
  {
    method: 'DELETE',
    pattern: new RegExp(`^/projects/${P}/requests/${P}$`),
    run: (emu, [p, r]) => emu.deleteRequest(p, r),
  },
  {
    method: 'GET',
    pattern: new RegExp(`^/projects/${P}/requests/${P}/messages$`),
    run: (emu, [p, r]) => emu.getMessages(p, r),
  },
  {
    method: 'POST',
    pattern: new RegExp(`^/projects/${P}/requests/${P}/messages$`),
    status: 201,
    run: (emu, [p, r], b) => emu.addMessage(p, r, b as { text: string }),
  },
  {
    method: 'PATCH',
    pattern: new RegExp(`^/projects/${P}/project_users/${P}$`),
    run: (emu, [p, pu], b) => emu.updateProjectUser(p, pu, b),
  },
  { method: 'POST', pattern: /^\/tokens$/, status: 201, run: (emu, _p, b) => issueToken(emu, b) },
  { method: 'POST', pattern: /^\/faults\/drop$/, run: (emu) => ({ dropped: emu.faults.dropAll() }) },
  { method: 'POST', pattern: /^\/faults\/half-open$/, run: (emu) => ({ halfOpen: emu.faults.halfOpen() }) },
  {
    method: 'POST',
    pattern: /^\/faults\/refuse$/,
    run: (emu, _p, b) => {
      const count = b.count ?? 1;
      if (typeof count !== 'number' || typeof b.status !== 'number')
        throw new EmulatorError(
          400,
          'Send {"count": 1, "status": 429, "retryAfterSec": 5, "reason": "..."}: count and status must be numbers.',
        );
      if (b.reason !== undefined && typeof b.reason !== 'string')
        throw new EmulatorError(400, '"reason" must be a string.');
      return emu.faults.refuseNext(count, b.status, {
        retryAfterSec: b.retryAfterSec as number | undefined,
        reason: b.reason as string | undefined,
      });
    },
  },
  {
    method: 'POST',
    pattern: /^\/faults\/restart$/,
    run: async (emu, _p, b) => {
      if (b.downMs !== undefined && typeof b.downMs !== 'number')
        throw new EmulatorError(400, '"downMs" must be a number of milliseconds.');
      const downMs = (b.downMs as number | undefined) ?? 500;
      await emu.faults.restart({ downMs });
      return { restarted: true, downMs, port: emu.port };
    },
  },
  {
    method: 'POST',
    pattern: /^\/faults\/ignore-subscribe$/,
    run: (emu, _p, b) => {
      if (typeof b.topic !== 'string')
        throw new EmulatorError(400, 'Send {"topic": "/P/requests/R", "count": 1}: "topic" must be a string.');
      if (b.count !== undefined && typeof b.count !== 'number')
        throw new EmulatorError(400, '"count" must be a number.');
      return emu.faults.ignoreSubscribe(b.topic, b.count as number | undefined);
    },
  },
  {
    method: 'POST',
    pattern: /^\/faults\/raw$/,
    run: (emu, _p, b) => {
      if (typeof b.frame !== 'string')
        throw new EmulatorError(
          400,
          'Send {"frame": "<text to send as is>", "topic": "/P/requests"}: "frame" must be a string.',
        );
      if (b.topic !== undefined && typeof b.topic !== 'string')
        throw new EmulatorError(400, '"topic" must be a string.');
      return { sent: emu.faults.sendRaw(b.frame, { topic: b.topic as string | undefined }) };
    },
  },
];

function issueToken(emu: EmulatorServer, b: Body): unknown {
  if (b.expiresInSec !== undefined && (typeof b.expiresInSec !== 'number' || !Number.isFinite(b.expiresInSec))) {
    throw new EmulatorError(
      400,
      '"expiresInSec" must be a number of seconds (negative gives an already expired token).',
    );
  }
  let userId: string;
  if (typeof b.userId === 'string') {
    userId = b.userId;
    if (!emu.store.users.has(userId)) throw new EmulatorError(404, `User ${userId} does not exist in the emulator.`);
  } else if (typeof b.role === 'string' && (DEMO_ROLES as readonly string[]).includes(b.role)) {
    userId = emu.users[b.role as DemoRole];
  } else {
    throw new EmulatorError(
      400,
      `Send {"role": "${DEMO_ROLES.join('" | "')}"} or {"userId": "<24-hex user id>"}, optionally with "expiresInSec".`,
    );
  }
  const expiresInSec = b.expiresInSec as number | undefined;
  const token = emu.signToken(
    { _id: userId, email: String(emu.store.users.get(userId)?.email ?? '') },
    { expiresInSec },
  );
  const exp = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')).exp as number;
  return { token, userId, expiresAt: new Date(exp * 1000).toISOString() };
}

export function handleAdmin(emu: EmulatorServer, req: IncomingMessage, res: ServerResponse): void {
  const reply = (status: number, body: unknown): void => {
    if (res.headersSent || res.destroyed) return;
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(text),
      'Cache-Control': 'no-store',
    });
    res.end(text);
  };
  if (!LOOPBACK.has(req.socket.remoteAddress ?? '')) {
    reply(403, { success: false, msg: 'The admin API only answers loopback clients (127.0.0.1, ::1).' });
    return;
  }
  const refusal = crossSiteRefusal(req);
  if (refusal) {
    reply(403, { success: false, msg: refusal });
    return;
  }
  const path =
    new URL(req.url ?? '/', 'http://emulator.invalid').pathname.replace(/^\/admin/, '').replace(/\/+$/, '') || '/';
  const matches = routes.filter((r) => r.pattern.test(path));
  if (matches.length === 0) {
    reply(404, { success: false, msg: `Unknown admin endpoint ${path}. See docs/emulator.md for the list.` });
    return;
  }
  const route = matches.find((r) => r.method === req.method);
  if (!route) {
    res.setHeader('Allow', matches.map((r) => r.method).join(', '));
    reply(405, {
      success: false,
      msg: `${req.method} is not supported on ${path} (use ${matches.map((r) => r.method).join(' or ')}).`,
    });
    return;
  }
  const params = (route.pattern.exec(path) ?? []).slice(1).map((p) => decodeURIComponent(p));
  readBody(req)
    .then((body) => route.run(emu, params, body))
    .then((result) => reply(route.status ?? 200, result))
    .catch((err: unknown) => {
      if (err instanceof EmulatorError) reply(err.status, { success: false, msg: err.message });
      else if (err instanceof Error) reply(400, { success: false, msg: err.message });
      else reply(500, { success: false, msg: 'Unexpected error in the emulator.' });
    });
}

const LOOPBACK_NAMES = /^(?:localhost|127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\])(?::\d{1,5})?$/i;

/**
 * A loopback peer is not proof of a loopback caller: a web page can make the user's browser post to 127.0.0.1
 * (cross-site, with a foreign Origin) or resolve its own name to 127.0.0.1 (DNS rebinding, with a foreign Host).
 * Refuse both, and bodies that are not declared JSON (a browser sends text/plain cross-site without asking).
 */
function crossSiteRefusal(req: IncomingMessage): string | undefined {
  const host = req.headers.host ?? '';
  if (!LOOPBACK_NAMES.test(host)) {
    return `The admin API only answers requests addressed to a loopback name (127.0.0.1, localhost, [::1]); the Host header was ${JSON.stringify(host.slice(0, 100))}, as a web page using DNS rebinding would send.`;
  }
  const origin = req.headers.origin;
  if (origin !== undefined && !sameLoopbackOrigin(origin, host)) {
    return `The admin API refuses requests from web pages (Origin ${JSON.stringify(origin.slice(0, 100))}): call it from curl or a script on this machine.`;
  }
  if (req.headers['sec-fetch-site'] === 'cross-site')
    return 'The admin API refuses cross-site requests from web pages: call it from curl or a script on this machine.';
  if (req.method === 'POST' || req.method === 'PATCH' || req.method === 'PUT') {
    const type = String(req.headers['content-type'] ?? '')
      .split(';')[0]
      .trim()
      .toLowerCase();
    if (type !== 'application/json') {
      return `The admin API needs a JSON body declared as such: send the header "Content-Type: application/json" (got ${JSON.stringify(type || 'none')}).`;
    }
  }
  return undefined;
}

function sameLoopbackOrigin(origin: string, host: string): boolean {
  try {
    const url = new URL(origin);
    return url.protocol === 'http:' && url.host.toLowerCase() === host.toLowerCase();
  } catch {
    return false;
  }
}

function readBody(req: IncomingMessage): Promise<Body> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new EmulatorError(413, `The request body is larger than ${MAX_BODY_BYTES} bytes.`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', reject);
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8').trim();
      if (text === '') return resolve({});
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        return reject(new EmulatorError(400, 'The request body is not valid JSON.'));
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        return reject(new EmulatorError(400, 'The request body must be a JSON object.'));
      resolve(parsed as Body);
    });
  });
}
