// Shared settings and helpers of the *.test.mjs files. run.sh exports the environment.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import crypto from 'node:crypto';
import { SignJWT, importJWK } from 'jose';

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the tests through e2e/run.sh`);
  return v;
}

export const GW = need('GW_URL').replace(/\/$/, ''); // e.g. http://127.0.0.1:PORT
export const ISSUER = need('IDP_ISSUER'); // e.g. http://127.0.0.1:PORT/realms/master
export const IDP_KEY_FILE = need('IDP_KEY_FILE');
export const MCP_URL = `${GW}/mcp`; // SSE responses
export const MCP_JSON_URL = `${GW}/mcp-json`; // JSON responses
export const PRM_URL = `${GW}/.well-known/oauth-protected-resource/mcp`;
export const PRM_JSON_URL = `${GW}/.well-known/oauth-protected-resource/mcp-json`;
export const PRM_ROOT_URL = `${GW}/.well-known/oauth-protected-resource`;
// The first virtual host's /mcp-policy (tests only): tool rules in front of the MCP server's
// /mcp-tools (echo, progress, whoami, admin_reset, secret_report); generic mode.
export const POLICY_MCP_URL = `${GW}/mcp-policy`;
// The first virtual host's /mcp-v2 (tests only): rules in front of the SDK 2.x server
// (mcp-server-v2.mjs, protocol 2026-07-28, stateless): admin_* needs mcp:admin, secret_*,
// café_secret, the prompt secret_* and the resources file:///etc/* are denied.
export const V2_MCP_URL = `${GW}/mcp-v2`;
// DPoP (RFC 9449) in front of the same server (tests only): /mcp-dpop-nonce wants the gateway's
// nonce in every proof (MCPAuthDPoPNonce On), /mcp-dpop-only DPoP-bound tokens only
// (MCPAuthDPoP required). /mcp-v2 takes DPoP-bound and bearer tokens (the default, allowed).
export const DPOP_NONCE_MCP_URL = `${GW}/mcp-dpop-nonce`;
export const DPOP_ONLY_MCP_URL = `${GW}/mcp-dpop-only`;
// Opaque tokens in front of the same server (tests only): the IdP issues opaque access tokens for
// these two resources; the gateway introspects them (MCPAuthIntrospection discovery) as
// mcp-introspector with a secret (/mcp-opaque, answers kept 60 s) or as mcp-introspector-jwt
// with private_key_jwt (/mcp-opaque-jwt, answers kept 3 s, refusals 1 s).
export const OPAQUE_MCP_URL = `${GW}/mcp-opaque`;
export const OPAQUE_JWT_MCP_URL = `${GW}/mcp-opaque-jwt`;
export const OPAQUE_JWT_CACHE_SECONDS = 3;
// The IdP's endpoints for them, and the secret of mcp-introspector (for the tests' own questions).
export const INTROSPECTION_URL = `${ISSUER}/protocol/openid-connect/token/introspect`;
export const REVOCATION_URL = `${ISSUER}/protocol/openid-connect/revoke`;
export const INTROSPECTOR_SECRET_FILE = need('INTROSPECTOR_SECRET');
// Token exchange (issue 19; exchange.test.mjs): after validating the client's token the gateway
// exchanges it at the IdP's token endpoint for a token meant for the MCP server, which checks it
// itself (upstream-token.mjs). RFC 8693 as mcp-exchanger (a secret) in front of the SDK 1.x
// server's /mcp-exchange; as mcp-exchanger-jwt (private_key_jwt) in front of the SDK 2.x server's;
// for opaque client tokens (introspected first); for an audience whose tokens live 10 s; Entra's
// on-behalf-of with the token in X-Upstream-Token (the SDK 1.x server's /mcp-obo).
export const EXCHANGE_MCP_URL = `${GW}/mcp-exchange`;
export const EXCHANGE_JWT_MCP_URL = `${GW}/mcp-exchange-jwt`;
export const EXCHANGE_OPAQUE_MCP_URL = `${GW}/mcp-exchange-opaque`;
export const EXCHANGE_SHORT_MCP_URL = `${GW}/mcp-exchange-short`;
export const OBO_MCP_URL = `${GW}/mcp-obo`;
// Exchanges that fail: refused by the IdP (invalid_target; invalid_scope for on-behalf-of; a client
// without the grant, unauthorized_client; a wrong client secret, invalid_client), a token endpoint
// that is down, one that answers after 15 s (MCPAuthFetchTimeout 2 3 there), one that answers 502
// with an HTML page.
export const EXCHANGE_REFUSED_MCP_URL = `${GW}/mcp-exchange-refused`;
export const OBO_REFUSED_MCP_URL = `${GW}/mcp-obo-refused`;
export const EXCHANGE_NO_GRANT_MCP_URL = `${GW}/mcp-exchange-noclient-grant`;
export const EXCHANGE_BAD_SECRET_MCP_URL = `${GW}/mcp-exchange-badsecret`;
export const EXCHANGE_DOWN_MCP_URL = `${GW}/mcp-exchange-down`;
export const EXCHANGE_SLOW_MCP_URL = `${GW}/mcp-exchange-slow`;
export const EXCHANGE_BROKEN_MCP_URL = `${GW}/mcp-exchange-broken`;
// The IdP's token endpoint, and the hashes of the tokens that reached the two MCP servers' exchange
// endpoints (their own records, on their loopback ports).
export const TOKEN_ENDPOINT_URL = `${ISSUER}/protocol/openid-connect/token`;
export const MCP_TOKENS_URL = `http://127.0.0.1:${need('MCP_PORT')}/_tokens`;
export const V2_TOKENS_URL = `http://127.0.0.1:${need('MCP_V2_PORT')}/_tokens`;
export const EXCHANGER_SECRET_FILE = need('EXCHANGER_SECRET');
// That server's own record of the requests that reached it (loopback, no gateway in between).
export const V2_SEEN_URL = `http://127.0.0.1:${need('MCP_V2_PORT')}/_seen`;
// The first virtual host's /mcp-static (tests only): MCPAuthClientID mcp-gateway (one IdP client for every MCP
// client, so the gateway asks the user's consent for each), CIMD from loopback allowed, with the
// CA of CIMD_CA/CIMD_KEY (the tests' https server for client metadata documents).
export const STATIC_MCP_URL = `${GW}/mcp-static`;
export const STATIC_AUTHORIZE_URL = `${GW}/.well-known/mcp-auth/authorize/mcp-static`;
export const STATIC_TOKEN_URL = `${GW}/.well-known/mcp-auth/token/mcp-static`;
export const STATIC_CALLBACK_URL = `${GW}/.well-known/mcp-auth/callback/mcp-static`;
export const STATIC_REGISTER_URL = `${GW}/.well-known/mcp-auth/register/mcp-static`;
export const CIMD_CA = need('CIMD_CA');
export const CIMD_KEY = need('CIMD_KEY');
// Second virtual host: a single protected location /mcp with all defaults (resource = its external
// URL, JWKS from discovery, no scopes_supported) and X-Remote-User from preferred_username.
export const GW2 = need('GW2_URL').replace(/\/$/, '');
export const GW2_MCP_URL = `${GW2}/mcp`;
export const GW2_PRM_URL = `${GW2}/.well-known/oauth-protected-resource/mcp`;
export const GW2_PRM_ROOT_URL = `${GW2}/.well-known/oauth-protected-resource`;
// Third virtual host: a single protected location /mcp with MCPAuthProvider keycloak (the gateway
// is the authorization server the clients see: metadata facade and registration proxy), CORS for
// BROWSER_ORIGIN, X-Remote-User from preferred_username.
export const GW3 = need('GW3_URL').replace(/\/$/, '');
export const GW3_MCP_URL = `${GW3}/mcp`;
export const GW3_PRM_URL = `${GW3}/.well-known/oauth-protected-resource/mcp`;
export const GW3_AS_URL = `${GW3}/.well-known/oauth-authorization-server/mcp`;
export const GW3_AS_ROOT_URL = `${GW3}/.well-known/oauth-authorization-server`;
export const GW3_REGISTER_URL = `${GW3}/.well-known/mcp-auth/register/mcp`;
export const GW3_AUTHORIZE_URL = `${GW3}/.well-known/mcp-auth/authorize/mcp`;
export const GW3_TOKEN_URL = `${GW3}/.well-known/mcp-auth/token/mcp`;
export const GW3_CALLBACK_URL = `${GW3}/.well-known/mcp-auth/callback/mcp`;
// Origin of the browser test's page (a static server the test starts on this port).
export const BROWSER_ORIGIN = need('BROWSER_ORIGIN').replace(/\/$/, '');
// httpd's access log ("%h \"%r\" %>s ..."), to show requests a client made that the test cannot
// observe from inside (the Inspector's, a browser's CORS preflights).
export const ACCESS_LOG = `${need('STATE')}/httpd/logs/access_log`;
// The relay key httpd made at its first start (no MCPAuthRelayKey: DefaultRuntimeDir), e.g. to
// seal a DPoP nonce of a chosen age as the gateway does.
export const RELAY_KEY_FILE = `${need('STATE')}/httpd/run/mcp_auth_relay.key`;

/** Current size of the access log (an offset for accessLogSince). */
export function accessLogSize() {
  try { return fs.statSync(ACCESS_LOG).size; } catch { return 0; }
}

/**
 * Access-log entries written after `offset`: [{ method, path, status, us, line }] (us: the
 * request's duration, %D). With `startedAfter` (a Date.now() value), entries of requests that
 * must have begun before it are left out: a long SSE stream of an earlier test is logged when it
 * ends, which may be in the middle of a later test.
 */
export async function accessLogSince(offset, { settleMs = 150, startedAfter } = {}) {
  await new Promise((r) => { setTimeout(r, settleMs); });
  let text = '';
  try {
    const fd = fs.openSync(ACCESS_LOG, 'r');
    const size = fs.fstatSync(fd).size;
    const buf = Buffer.alloc(Math.max(0, size - offset));
    fs.readSync(fd, buf, 0, buf.length, offset);
    fs.closeSync(fd);
    text = buf.toString('utf8');
  } catch { /* no log */ }
  const windowUs = startedAfter === undefined ? Infinity : (Date.now() - startedAfter) * 1000;
  return text.split('\n').filter(Boolean).map((line) => {
    const m = /^\S+ "(\S+) (\S+) [^"]*" (\d{3})/.exec(line);
    const d = / (\d+) us$/.exec(line);
    const us = d ? Number(d[1]) : undefined;
    return m ? {
      method: m[1], path: m[2], status: Number(m[3]), us, line,
    } : { us, line };
  }).filter((e) => !(e.us > windowUs));
}

/** What reached the SDK 2.x server (its own record, behind the gateway) after `mark` (a seenMark()). */
export async function seenSince(mark = 0) {
  const res = await fetch(`${V2_SEEN_URL}?since=${mark}`);
  assert.equal(res.status, 200, 'the 2.x server answers /_seen');
  return res.json();
}
/** The number of the 2.x server's latest record: seenSince(it) is what comes after it. */
export async function seenMark() {
  const all = await seenSince(0);
  return all.length ? all[all.length - 1].n : 0;
}

export const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw-e2e', version: '1.0.0' } },
};

/** POST an MCP initialize request, with an optional bearer token and extra headers. */
export async function postInitialize(url, token, extraHeaders = {}) {
  const headers = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    ...extraHeaders,
  };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(INITIALIZE) });
  const body = await res.text();
  return { res, body };
}

/** Parses one WWW-Authenticate challenge: { scheme, params }. */
export function parseChallenge(header) {
  const m = /^(\S+)\s*(.*)$/s.exec(header ?? '');
  if (!m) return { scheme: undefined, params: {} };
  const params = {};
  for (const p of m[2].matchAll(/([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g)) {
    params[p[1]] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3];
  }
  return { scheme: m[1], params };
}

/** The challenges of one WWW-Authenticate header, by scheme: { Bearer: params, DPoP: params }. */
export function challengesOf(header) {
  const out = {};
  for (const part of (header ?? '').split(/,\s*(?=(?:Bearer|DPoP)\s)/)) {
    const { scheme, params } = parseChallenge(part.trim());
    if (scheme) out[scheme] = params;
  }
  return out;
}

/**
 * Sends a request a recordingFetch (client.mjs) captured again, with headers changed by
 * `headers` (null removes one): { res, text, challenges }.
 */
export async function replay(entry, headers = {}) {
  const h = { ...entry.headers };
  for (const [k, v] of Object.entries(headers)) {
    if (v === null) delete h[k];
    else h[k] = v;
  }
  const res = await fetch(entry.url, { method: entry.method, headers: h, body: entry.body });
  const text = await res.text();
  return { res, text, challenges: challengesOf(res.headers.get('www-authenticate')) };
}

/** The entries of a recordingFetch's log for `url` (its query left out). */
export const atGateway = (log, url) => log.filter((e) => e.url.split('?')[0] === url);
/** A request the gateway let through: the stateless 2.x server has no GET stream, 405 is its answer. */
export const accepted = (e) => e.status < 300 || (e.method === 'GET' && e.status === 405);

let keyCache;
function idpKey() {
  keyCache ??= JSON.parse(fs.readFileSync(IDP_KEY_FILE, 'utf8'));
  return keyCache;
}

/**
 * Signs an access token with the IdP's own key (or another key), with chosen claims and header.
 * Defaults: a valid token for `aud`.
 */
export async function mintToken({
  aud = MCP_URL, iss = ISSUER, sub = 'minted-user', scope = 'openid mcp:tools',
  exp = Math.floor(Date.now() / 1000) + 300, nbf, extra = {}, typ = 'at+jwt', alg = 'RS256',
  key, kid, omit = [],
} = {}) {
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    iss, sub, aud, exp, iat: now, scope, client_id: 'minted-client', jti: crypto.randomUUID(), ...extra,
  };
  if (nbf !== undefined) claims.nbf = nbf;
  for (const k of omit) delete claims[k];
  const hmac = alg.startsWith('HS');
  const jwk = hmac ? idpKey() : (key ?? idpKey());
  const header = { alg, typ, kid: kid ?? jwk.kid };
  if (alg === 'none') {
    const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
    return `${enc({ alg: 'none', typ })}.${enc(claims)}.`;
  }
  const signingKey = hmac ? key : await importJWK(jwk, alg);
  return new SignJWT(claims).setProtectedHeader(header).sign(signingKey);
}

/** The kid of the IdP's signing key. */
export function idpKid() {
  return idpKey().kid;
}

/** The IdP's public key as PEM (for an HS256 "algorithm confusion" token). */
export function idpPublicPem() {
  const { d, p, q, dp, dq, qi, ...pub } = idpKey();
  return crypto.createPublicKey({ key: pub, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
}

/** A fresh RSA key the IdP does not know, with its own kid. */
export function foreignKey() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  jwk.kid = 'foreign-key';
  return jwk;
}
