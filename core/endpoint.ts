// Endpoint checks and the socket URL. The token only ever appears in the URL handed to `ws`.
import { InsecureEndpointError, InvalidEndpointError } from './errors';

export const DEFAULT_ENDPOINT = 'wss://eu.rtmv3.pingstreams.com/api/';

export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function parseUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

/** Throws when the endpoint is not a ws(s) URL, or is ws:// to a non-loopback host without explicit consent. */
export function checkEndpoint(endpoint: string, allowInsecure = false): URL {
  const url = parseUrl(endpoint);
  if (!url) throw new InvalidEndpointError(withoutUserInfo(endpoint), 'it is not a valid URL');
  // Checked first, so no later message repeats the password; the server authenticates with the token alone.
  if (url.username || url.password)
    throw new InvalidEndpointError(
      describeEndpoint(endpoint),
      'it contains a user name or password before the host; the Pingstreams server authenticates with the token only, so remove the "user:password@" part',
    );
  if (url.protocol !== 'wss:' && url.protocol !== 'ws:')
    throw new InvalidEndpointError(
      endpoint,
      `the scheme must be wss://, or ws:// for a server on this machine such as the local emulator (got ${url.protocol}//)`,
    );
  if (url.searchParams.has('token'))
    throw new InvalidEndpointError(
      url.origin + url.pathname,
      'it must not contain the token; put the token in the credentials',
    );
  if (url.protocol === 'ws:' && !allowInsecure && !isLoopbackHost(url.hostname))
    throw new InsecureEndpointError(describeEndpoint(endpoint));
  return url;
}

export function buildSocketUrl(endpoint: string, token: string): string {
  // encodeURIComponent, not URLSearchParams: the `JWT ` prefix must travel as JWT%20, not JWT+.
  const url = new URL(endpoint);
  const query = url.search ? `${url.search}&` : '?';
  return `${url.origin}${url.pathname}${query}token=${encodeURIComponent(token.trim())}`;
}

/** The endpoint as shown to users: no query string, no credentials. */
export function describeEndpoint(endpoint: string): string {
  try {
    const url = new URL(endpoint);
    return `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return '(invalid endpoint)';
  }
}

/** An unparsable endpoint as shown to users: anything between "//" and "@" could be a password. */
function withoutUserInfo(endpoint: string): string {
  return endpoint.replace(/\/\/[^/?#]*@/, '//');
}
