// What an MCP server behind MCPAuthTokenExchange does with the token the gateway forwards: it
// checks it itself, as a resource server of the IdP would (shared by mcp-server.mjs, SDK 1.x,
// and mcp-server-v2.mjs, SDK 2.x, whose own bearer middleware calls the verifier below).
//
// A token passes when it is an RS256 JWT signed by a key of the IdP's JWKS (found through
// {IDP_ISSUER}/.well-known/openid-configuration), with iss = IDP_ISSUER, aud = the server's own
// audience, a sub and an exp; an `act` claim (RFC 8693 §4.1: who exchanged it) must name one of
// the gateway's clients; an `azp`, where the server asks for it (on-behalf-of), too.
//
// The servers also keep a record of the tokens that reached these endpoints (SHA-256 hashes,
// never the tokens): GET /_tokens on their loopback port, for the tests to check that a client's
// own token never reached the MCP server, in success or failure.
import crypto from 'node:crypto';
import { createRemoteJWKSet, jwtVerify } from 'jose';

// The MCP server's audiences at the IdP (IDP_EXCHANGE_AUDIENCES in run.sh; httpd.conf.in asks for them).
export const TICKETS_AUDIENCE = 'https://tickets.example.test';
export const TICKETS_SHORT_AUDIENCE = 'https://tickets-short.example.test'; // exchanged tokens live 10 s
export const OBO_AUDIENCE = 'api://tickets'; // on-behalf-of: scope api://tickets/.default
// The gateway's clients at the IdP: the only ones trusted to exchange tokens for this server.
export const GATEWAY_CLIENTS = Object.freeze(['mcp-exchanger', 'mcp-exchanger-jwt']);

export const sha256 = (text) => crypto.createHash('sha256').update(text).digest('hex');
const words = (v) => (typeof v === 'string' ? v.split(/\s+/).filter(Boolean) : []);

let keySet;
/** The IdP's key set (a jose remote JWKS: fetched when first needed, again for an unknown kid). */
function idpKeys() {
  keySet ??= (async () => {
    const issuer = process.env.IDP_ISSUER;
    if (!issuer) throw new Error('IDP_ISSUER is not set');
    const res = await fetch(`${issuer}/.well-known/openid-configuration`);
    if (!res.ok) throw new Error(`IdP discovery: HTTP ${res.status}`);
    const { jwks_uri: uri } = await res.json();
    return createRemoteJWKSet(new URL(uri));
  })().catch((err) => {
    keySet = undefined;
    throw err;
  });
  return keySet;
}

/**
 * An OAuthTokenVerifier (both SDKs' shape: verifyAccessToken(token) -> AuthInfo) for tokens meant
 * for `audience`. `invalid(message)` makes the SDK's own invalid_token error (the middleware
 * answers it with 401). AuthInfo.extra.claims holds the verified claims.
 */
export function upstreamVerifier({ audience, actors = GATEWAY_CLIENTS, azpOneOf, invalid }) {
  return {
    async verifyAccessToken(token) {
      let payload;
      try {
        ({ payload } = await jwtVerify(token, await idpKeys(), {
          issuer: process.env.IDP_ISSUER, audience, algorithms: ['RS256'], requiredClaims: ['sub', 'exp'],
        }));
      } catch (err) {
        // (quotes left out: the SDKs put the message into a quoted WWW-Authenticate parameter)
        throw invalid(`token refused: ${err.code ?? 'error'}: ${String(err.message).replace(/["\\]/g, "'")}`);
      }
      if (payload.act !== undefined && !actors.includes(payload.act?.sub)) {
        throw invalid(`token exchanged by ${JSON.stringify(payload.act?.sub)}, not by a trusted gateway`);
      }
      if (azpOneOf && !azpOneOf.includes(payload.azp)) {
        throw invalid(`token obtained by ${JSON.stringify(payload.azp)}, not by a trusted gateway`);
      }
      return {
        token,
        clientId: payload.azp ?? payload.client_id,
        scopes: words(payload.scope),
        expiresAt: payload.exp,
        resource: new URL(audience),
        extra: { claims: payload },
      };
    },
  };
}

/** What the `upstream_token` tool answers: the verified claims, and a hash of the token itself. */
export function upstreamTokenReport(authInfo, via) {
  if (!authInfo) return { verified: false };
  const c = authInfo.extra?.claims ?? {};
  return {
    verified: true,
    via,
    sub: c.sub,
    aud: c.aud,
    act: c.act ?? null,
    azp: c.azp ?? null,
    client_id: c.client_id ?? null,
    scope: c.scope ?? null,
    iss: c.iss,
    exp: c.exp,
    tokenSha256: sha256(authInfo.token),
  };
}

/**
 * The record behind /_tokens: per request to an exchange endpoint, { n, at, path, method,
 * authorization, upstream, outcome }, where authorization and upstream are SHA-256 hashes of
 * the Authorization header's credential and of the X-Upstream-Token header (null when absent),
 * and outcome is "accepted" or why the server refused the request.
 */
export class TokenRecord {
  entries = [];

  count = 0;

  add(path, req) {
    const auth = req.headers.authorization;
    const upstream = req.headers['x-upstream-token'];
    const credential = typeof auth === 'string' ? auth.replace(/^\S+\s+/, '') : undefined;
    this.count += 1;
    const entry = {
      n: this.count,
      at: Date.now(),
      path,
      method: req.method,
      authorization: credential ? sha256(credential) : null,
      upstream: typeof upstream === 'string' ? sha256(upstream) : null,
      outcome: 'pending',
    };
    this.entries.push(entry);
    if (this.entries.length > 2000) this.entries.splice(0, this.entries.length - 2000);
    return entry;
  }

  /** Answers GET /_tokens[?since=N]. */
  serve(url, res) {
    const since = Number(url.searchParams.get('since') || 0);
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(this.entries.filter((e) => e.n > since)));
  }
}
