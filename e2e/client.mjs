// MCP SDK client helpers for the mod_mcp_auth end-to-end tests and scripts/demo:
// an in-memory OAuthClientProvider, a headless login that completes the IdP's HTML forms with a
// cookie jar, a fetch wrapper that records every request, and connectWithOAuth() that runs the
// whole MCP authorization flow (401 -> PRM -> AS discovery -> registration -> PKCE authorization ->
// token -> MCP session) with StreamableHTTPClientTransport.
import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

export const DEFAULT_REDIRECT_URL = 'http://127.0.0.1:33418/callback';

/** The claims of a JWT or DPoP proof (its payload, not verified). */
export const claimsOf = (token) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url'));

/**
 * Wraps fetch and appends one entry per request to `log`, as the caller sent it (under the SDK
 * 2.x's DPoP layer: with the Authorization and DPoP headers it set):
 * { via, method, url, headers, rpc?, grantType?, body?, scheme?, token?, proof?, proofClaims?,
 *   status, wwwAuthenticate?, location?, dpopNonce?, error? }. The entry is pushed before
 * `baseFetch` is called, in the same tick; its (non-enumerable) `answered` promise settles with
 * the request (see settled()).
 */
export function recordingFetch(log, { via = 'sdk', baseFetch = globalThis.fetch } = {}) {
  return async (input, init = {}) => {
    const url = typeof input === 'string' ? input : (input instanceof URL ? input.href : input.url);
    const method = (init.method || (input instanceof Request ? input.method : 'GET')).toUpperCase();
    const entry = { via, method, url: String(url) };
    let answered;
    Object.defineProperty(entry, 'answered', { value: new Promise((r) => { answered = r; }) });
    let headers;
    try { headers = new Headers(init.headers); } catch { /* fetch itself will refuse them */ }
    if (headers) {
      entry.headers = Object.fromEntries(headers);
      const auth = headers.get('authorization');
      if (auth) {
        entry.scheme = auth.split(' ')[0];
        entry.token = auth.slice(auth.indexOf(' ') + 1);
      }
      const proof = headers.get('dpop');
      if (proof) {
        entry.proof = proof;
        try { entry.proofClaims = claimsOf(proof); } catch { /* not a JWT */ }
      }
    }
    const body = init.body;
    if (body instanceof URLSearchParams && body.get('grant_type')) entry.grantType = body.get('grant_type');
    if (typeof body === 'string') {
      entry.body = body;
      if (method === 'POST') {
        try {
          const msg = JSON.parse(body);
          if (msg && msg.method) entry.rpc = msg.method;
        } catch { /* not JSON-RPC */ }
      }
    }
    log.push(entry);
    try {
      const res = await baseFetch(input, init);
      entry.status = res.status;
      const wa = res.headers.get('www-authenticate');
      if (wa) entry.wwwAuthenticate = wa;
      const loc = res.headers.get('location');
      if (loc) entry.location = loc;
      const nonce = res.headers.get('dpop-nonce');
      if (nonce) entry.dpopNonce = nonce;
      return res;
    } catch (err) {
      entry.error = String(err?.message ?? err);
      throw err;
    } finally {
      answered();
    }
  };
}

/**
 * Waits for the answers to every request in `log` (a recordingFetch's: the SDK opens its GET
 * stream in the background); returns `log`.
 */
export async function settled(log) {
  await Promise.all(log.map((e) => e.answered));
  return log;
}

/** One line per request, for printing. */
export function formatLog(log) {
  return log.map((e, i) => {
    const u = new URL(e.url);
    let s = `${String(i + 1).padStart(2)}. [${e.via}] ${e.method} ${u.origin}${u.pathname}`;
    if (e.rpc) s += ` (${e.rpc})`;
    if (e.grantType) s += ` (grant_type=${e.grantType})`;
    s += ` -> ${e.status ?? e.error ?? '(pending)'}`;
    if (e.wwwAuthenticate) s += `  WWW-Authenticate: ${e.wwwAuthenticate}`;
    if (e.location) {
      const l = new URL(e.location, e.url);
      s += `  Location: ${l.origin}${l.pathname}`;
    }
    return s;
  }).join('\n');
}

/** Minimal cookie jar (name/path/host), enough for the IdP's interaction cookies. */
export class CookieJar {
  constructor() { this.cookies = new Map(); }

  store(url, res) {
    const u = new URL(url);
    const list = typeof res.headers.getSetCookie === 'function' ? res.headers.getSetCookie() : [];
    for (const line of list) {
      const [pair, ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      let path = '/';
      let expired = false;
      for (const a of attrs) {
        const [k, v = ''] = a.split('=');
        const key = k.toLowerCase();
        if (key === 'path') path = v || '/';
        if (key === 'max-age' && Number(v) <= 0) expired = true;
        if (key === 'expires' && Date.parse(v) < Date.now()) expired = true;
      }
      const id = `${u.host}|${path}|${name}`;
      if (expired || value === '') this.cookies.delete(id);
      else this.cookies.set(id, { host: u.host, path, name, value });
    }
  }

  header(url) {
    const u = new URL(url);
    const out = [];
    for (const c of this.cookies.values()) {
      if (c.host !== u.host) continue;
      if (u.pathname === c.path || u.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`) || c.path === '/') {
        out.push(`${c.name}=${c.value}`);
      }
    }
    return out.join('; ');
  }
}

function decodeEntities(s) {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|amp|lt|gt|quot|apos|#39);/gi, (m, e) => {
    const l = e.toLowerCase();
    if (l === 'amp') return '&';
    if (l === 'lt') return '<';
    if (l === 'gt') return '>';
    if (l === 'quot') return '"';
    if (l === 'apos' || l === '#39') return "'";
    if (l.startsWith('#x')) return String.fromCodePoint(parseInt(l.slice(2), 16));
    return String.fromCodePoint(parseInt(l.slice(1), 10));
  });
}

function attrs(tag) {
  const out = {};
  for (const m of tag.matchAll(/([a-zA-Z_:-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g)) {
    out[m[1].toLowerCase()] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return out;
}

/**
 * The first <form> of an HTML page: { action, method, fields, buttons }, where buttons lists the
 * named submit buttons ({ name, value, label }): a browser sends only the one clicked.
 */
export function parseForm(html) {
  const fm = html.match(/<form\b([^>]*)>([\s\S]*?)<\/form>/i);
  if (!fm) return undefined;
  const a = attrs(fm[1]);
  const fields = {};
  for (const im of fm[2].matchAll(/<input\b([^>]*)>/gi)) {
    const ia = attrs(im[1]);
    if (ia.name && (ia.type ?? 'text').toLowerCase() !== 'submit') fields[ia.name] = ia.value ?? '';
  }
  const buttons = [];
  for (const bm of fm[2].matchAll(/<button\b([^>]*)>([\s\S]*?)<\/button>/gi)) {
    const ba = attrs(bm[1]);
    if (ba.name && (ba.type ?? 'submit').toLowerCase() === 'submit') {
      buttons.push({ name: ba.name, value: ba.value ?? '', label: decodeEntities(bm[2].replace(/<[^>]*>/g, '').trim()) });
    }
  }
  return { action: a.action ?? '', method: (a.method || 'get').toUpperCase(), fields, buttons };
}

/**
 * Completes the authorization request the way a person with a browser would: follows redirects,
 * fills in the login form (any username/password is accepted by the demo IdP), answers the
 * gateway's consent page (`consent`: 'approve' or 'deny', the button clicked) and the IdP's, and
 * stops at redirect_uri. Returns { code, state, iss, error, error_description, url, consentPages }
 * (url: where the browser was sent; consentPages: the gateway consent pages shown, as
 * { url, text }). Pass the same `jar` to log in again with the same browser.
 */
export async function headlessAuthorize(authorizationUrl, {
  redirectUrl = DEFAULT_REDIRECT_URL, username = 'alice', password = 'secret', fetch: f = globalThis.fetch,
  consent = 'approve', jar = new CookieJar(),
} = {}) {
  let url = new URL(authorizationUrl).href;
  let method = 'GET';
  let body;
  let origin; // a browser says where a form it posts came from
  const consentPages = [];
  for (let step = 0; step < 20; step += 1) {
    if (url.startsWith(redirectUrl)) {
      const p = new URL(url).searchParams;
      const out = Object.fromEntries(['code', 'state', 'iss', 'error', 'error_description'].map((k) => [k, p.get(k) ?? undefined]));
      return { ...out, url, consentPages };
    }
    const headers = { accept: 'text/html' };
    const cookie = jar.header(url);
    if (cookie) headers.cookie = cookie;
    if (body) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      headers.origin = origin;
    }
    const res = await f(url, { method, headers, body, redirect: 'manual' });
    jar.store(url, res);
    if (res.status >= 300 && res.status < 400) {
      url = new URL(res.headers.get('location'), url).href;
      method = 'GET';
      body = undefined;
      await res.arrayBuffer();
      continue;
    }
    const html = await res.text();
    if (res.status !== 200) throw new Error(`authorization: ${method} ${url} answered ${res.status}: ${html.slice(0, 300)}`);
    const form = parseForm(html);
    if (!form) throw new Error(`authorization: no form on ${url}: ${html.slice(0, 300)}`);
    const fields = { ...form.fields };
    if ('login' in fields || 'username' in fields) fields['username' in fields ? 'username' : 'login'] = username;
    if ('password' in fields) fields.password = password;
    const choice = form.buttons.find((b) => b.name === 'consent' && b.value === consent);
    if (form.buttons.some((b) => b.name === 'consent')) {
      // the gateway's consent page: the button the user clicks
      if (!choice) throw new Error(`authorization: no "${consent}" button on ${url}`);
      consentPages.push({ url, text: html.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ') });
      fields[choice.name] = choice.value;
    } else if (form.buttons.length) {
      fields[form.buttons[0].name] = form.buttons[0].value;
    }
    const target = new URL(form.action || url, url);
    if (form.method === 'POST') {
      method = 'POST';
      body = new URLSearchParams(fields).toString();
      origin = new URL(url).origin;
    } else {
      for (const [k, v] of Object.entries(fields)) target.searchParams.set(k, v);
      method = 'GET';
      body = undefined;
    }
    url = target.href;
  }
  throw new Error('authorization: too many steps');
}

/** An in-memory OAuthClientProvider for a public client with a loopback redirect URI. */
export class MemoryOAuthProvider {
  constructor({
    redirectUrl = DEFAULT_REDIRECT_URL, clientName = 'mod_mcp_auth e2e client', scope, clientMetadataUrl,
  } = {}) {
    this._redirectUrl = redirectUrl;
    // SDK 2.x: an https URL here is used as the client id (CIMD) where the metadata allows it
    if (clientMetadataUrl) this.clientMetadataUrl = clientMetadataUrl;
    this._clientName = clientName;
    this._scope = scope;
    this._clientInformation = undefined;
    this._tokens = undefined;
    this._codeVerifier = undefined;
    this._state = undefined;
    this.authorizationUrl = undefined;
    this.authorizationCount = 0;
    this.invalidated = [];
  }

  get redirectUrl() { return this._redirectUrl; }

  get clientMetadata() {
    const md = {
      client_name: this._clientName,
      redirect_uris: [this._redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
    if (this._scope) md.scope = this._scope;
    return md;
  }

  state() {
    this._state = randomBytes(16).toString('base64url');
    return this._state;
  }

  get expectedState() { return this._state; }

  clientInformation() { return this._clientInformation; }

  // SDK 2.x keeps what discovery found across the redirect, to check that
  // the callback comes from the same authorization server (SEP-2352)
  discoveryState() { return this._discoveryState; }

  saveDiscoveryState(s) { this._discoveryState = s; }

  saveClientInformation(info) { this._clientInformation = info; }

  tokens() { return this._tokens; }

  saveTokens(tokens) { this._tokens = tokens; }

  redirectToAuthorization(url) {
    this.authorizationUrl = new URL(url);
    this.authorizationCount += 1;
  }

  saveCodeVerifier(v) { this._codeVerifier = v; }

  codeVerifier() {
    if (!this._codeVerifier) throw new Error('no code verifier saved');
    return this._codeVerifier;
  }

  invalidateCredentials(scope) {
    this.invalidated.push(scope);
    if (scope === 'all' || scope === 'client') this._clientInformation = undefined;
    if (scope === 'all' || scope === 'tokens') this._tokens = undefined;
    if (scope === 'all' || scope === 'verifier') this._codeVerifier = undefined;
  }
}

function newClient() {
  return new Client({ name: 'mod_mcp_auth-e2e', version: '1.0.0' });
}

/** The SDK 1.x client parts connectWithOAuth uses; sdk2.mjs has the 2.x ones. */
export const SDK1 = Object.freeze({
  Transport: StreamableHTTPClientTransport,
  newClient,
  UnauthorizedError,
  // 1.x takes the code alone
  finishAuth: (transport, authorization) => transport.finishAuth(authorization.code),
});

/**
 * Connects an MCP client to `mcpUrl`, running the OAuth flow when the server asks for it.
 * Returns { client, transport, provider, log, authorization } where `log` lists every request made
 * (SDK and headless login) and `authorization` is the redirect result (code, state, iss) if a login
 * took place. `sdk` picks the client (SDK1, or sdk2.mjs's).
 */
export async function connectWithOAuth(mcpUrl, {
  username = 'alice',
  password = 'secret',
  provider = new MemoryOAuthProvider(),
  log = [],
  headers,
  sdk = SDK1,
} = {}) {
  const sdkFetch = recordingFetch(log, { via: 'sdk' });
  const loginFetch = recordingFetch(log, { via: 'login' });
  const opts = { authProvider: provider, fetch: sdkFetch };
  if (headers) opts.requestInit = { headers };

  let transport = new sdk.Transport(new URL(mcpUrl), opts);
  let client = sdk.newClient();
  let authorization;
  try {
    await client.connect(transport);
    return { client, transport, provider, log, authorization };
  } catch (err) {
    if (!(err instanceof sdk.UnauthorizedError) || !provider.authorizationUrl) throw err;
  }
  authorization = await headlessAuthorize(provider.authorizationUrl, {
    redirectUrl: String(provider.redirectUrl), username, password, fetch: loginFetch,
  });
  if (authorization.error) {
    throw new Error(`authorization failed: ${authorization.error} ${authorization.error_description ?? ''}`);
  }
  if (authorization.state !== provider.expectedState) throw new Error('authorization: state mismatch');
  await sdk.finishAuth(transport, authorization);
  await transport.close().catch(() => {});

  transport = new sdk.Transport(new URL(mcpUrl), opts);
  client = sdk.newClient();
  await client.connect(transport);
  return { client, transport, provider, log, authorization };
}

/** Ends the MCP session (DELETE) and closes the transport, ignoring errors. */
export async function disconnect({ client, transport }) {
  try { await transport.terminateSession(); } catch { /* ignore */ }
  try { await client.close(); } catch { /* ignore */ }
}

/** Text of the first content item of a tool result. */
export function resultText(result) {
  return result?.content?.find((c) => c.type === 'text')?.text;
}

/* Shared by the flow tests: clients opened in a file are closed after it,
 * and each test prints the requests its client made. */
export function closeAfterwards(after) {
  const open = [];
  after(async () => {
    for (const c of open) await disconnect(c);
  });
  return open;
}

export function printLog(t, title, log) {
  t.diagnostic(`request sequence (${title}):`);
  for (const line of formatLog(log).split('\n')) t.diagnostic(line);
}

export const pathOf = (e) => new URL(e.url).pathname;
