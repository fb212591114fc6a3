// Config node: one shared Pingstreams connection for every node that references it.
// Users register on start and deregister on close; the handle is acquired for the first user and
// released after the last (the core keeps the socket a few seconds so a redeploy reuses it).
import { acquireConnection, DEFAULT_ENDPOINT, redact } from '../core';
import type { ConnectionHandle, ConnectionStatus } from '../core';
import { nodePlatform } from '../core/node-platform';
import type { ConnectionUser, NodeAPI, NodeDef, PingstreamsConfigNode } from './api';
import { t } from './i18n';
import { safeError, userError } from './status';

interface ConfigDef extends NodeDef {
  endpoint?: string;
  allowInsecure?: boolean;
}

/** Connection options only tests and advanced settings.js users need: `pingstreams: { lingerMs, ... }`. */
interface RuntimeSettings {
  pingstreams?: { lingerMs?: number; subscribeTimeoutMs?: number; backoffInitialMs?: number; backoffMaxMs?: number };
}

export = function register(RED: NodeAPI): void {
  function PingstreamsConfig(this: PingstreamsConfigNode, def: ConfigDef): void {
    RED.nodes.createNode(this, def);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- Node-RED's constructor idiom: the handlers below outlive this call.
    const node = this;
    node.endpoint = (def.endpoint || '').trim() || DEFAULT_ENDPOINT;
    const allowInsecure = def.allowInsecure === true;
    const tuning = ((RED as unknown as { settings?: RuntimeSettings }).settings?.pingstreams ?? {}) as NonNullable<
      RuntimeSettings['pingstreams']
    >;

    if (typeof tuning.subscribeTimeoutMs === 'number') node.subscribeTimeoutMs = tuning.subscribeTimeoutMs;

    const users = new Set<ConnectionUser>();
    let handle: ConnectionHandle | undefined;
    let offStatus: (() => void) | undefined;
    let lastLogged = '';

    const token = (): string => {
      const raw = (node.credentials?.token ?? '').trim();
      // "${NAME}" reads the token from an environment variable, keeping it out of flows_cred.json.
      const env = /^\$\{(\S+)\}$/.exec(raw);
      if (env) return String(RED.util.evaluateNodeProperty(env[1], 'env', node) ?? '').trim();
      return raw;
    };
    node.redact = (text: string) => redact(text, token(), node.credentials?.token);

    const broadcast = (status: ConnectionStatus): void => {
      logOnce(status);
      for (const user of users) {
        try {
          user.onConnectionStatus(status);
        } catch (err) {
          node.warn(node.redact(String((err as Error)?.message ?? err)));
        }
      }
    };

    // One log line per distinct problem, not one per user or per retry.
    const logOnce = (status: ConnectionStatus): void => {
      if (status.state === 'connected') {
        if (lastLogged) node.log(t(RED, 'pingstreams-config:log.connected', { endpoint: redact(node.endpoint) }));
        lastLogged = '';
        return;
      }
      if (!status.error || (status.state !== 'failed' && status.state !== 'reconnecting')) return;
      const message = node.redact(status.error.message);
      if (message === lastLogged) return;
      lastLogged = message;
      if (status.state === 'failed') node.error(message);
      else node.warn(message);
    };

    node.register = (user: ConnectionUser): ConnectionHandle | Error => {
      if (!handle) {
        const jwt = token();
        if (!jwt) return userError('NO_TOKEN', t(RED, 'pingstreams-config:errors.noToken'));
        try {
          handle = acquireConnection({
            endpoint: node.endpoint,
            token: jwt,
            allowInsecure,
            platform: nodePlatform,
            logger: {
              debug: (m) => node.debug?.(node.redact(m)),
              info: (m) => node.log(node.redact(m)),
              warn: (m) => node.warn(node.redact(m)),
              error: (m) => node.error(node.redact(m)),
            },
            ...(tuning.lingerMs !== undefined ? { lingerMs: tuning.lingerMs } : {}),
            ...(tuning.backoffInitialMs !== undefined ? { backoffInitialMs: tuning.backoffInitialMs } : {}),
            ...(tuning.backoffMaxMs !== undefined ? { backoffMaxMs: tuning.backoffMaxMs } : {}),
          });
        } catch (err) {
          return safeError(err, jwt);
        }
        offStatus = handle.onStatus(broadcast);
      }
      users.add(user);
      user.onConnectionStatus(handle.status);
      return handle;
    };

    const releaseConnection = (): void => {
      offStatus?.();
      offStatus = undefined;
      handle?.release();
      handle = undefined;
    };

    node.deregister = (user: ConnectionUser): void => {
      users.delete(user);
      if (users.size === 0) releaseConnection();
    };

    node.on('close', (_removed: boolean, done: () => void) => {
      // release() is synchronous; the socket itself closes in the background after the linger.
      users.clear();
      try {
        releaseConnection();
      } finally {
        done();
      }
    });
  }

  RED.nodes.registerType('pingstreams-config', PingstreamsConfig, {
    credentials: { token: { type: 'password' } },
  });
};
