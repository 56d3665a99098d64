// A Keycloak-like OpenID provider for the mod_mcp_auth end-to-end tests and demo,
// built on panva's oidc-provider.
//
//   issuer        http://HOST:IDP_PORT/realms/master
//   discovery     {issuer}/.well-known/openid-configuration (path appended, as Keycloak;
//                 the RFC 8414 path-inserted form answers 404)
//   endpoints     {issuer}/protocol/openid-connect/{auth,token,certs,userinfo,logout,...}
//   registration  {issuer}/clients-registrations/openid-connect (open dynamic registration)
//   /_hits        tests only (outside the realm, so no Keycloak URL): how many requests reached
//                 each path since start, as JSON { "/realms/master/protocol/openid-connect/certs": 3,
//                 ... } (this path itself not counted), e.g. to count JWKS fetches
//
// Access tokens requested with resource=<URL> are RS256 JWTs (typ at+jwt) with aud=<URL>.
// DPoP (RFC 9449, on by default in oidc-provider): a token request with a DPoP proof gets
// token_type DPoP and, as a JWT, cnf.jkt. The IdP hands out nonces (a DPoP-Nonce header on its
// answers to DPoP requests) but requires one only in the proofs of clients whose registered
// client_name contains "[idp-dpop-nonce]" (400 use_dpop_nonce first); tests only.
// Opaque tokens (tests only): for a resource listed in IDP_OPAQUE_RESOURCES the access token is
// oidc-provider's opaque reference (43 base64url characters, no JWT), bound by DPoP all the same
// (the binding, cnf.jkt, shows in the introspection answer only). RFC 7662 introspection at
// {issuer}/protocol/openid-connect/token/introspect (introspection_endpoint in discovery) for
// confidential clients; JWT access tokens are not introspectable there (unsupported_token_type).
// Revocation (RFC 7009) at {issuer}/protocol/openid-connect/revoke: a public client revokes its
// own tokens with client_id alone.
// Login: any username with any password (development interactions, plain HTML forms).
//
// Environment:
//   IDP_PORT              port to listen on (default 8081)
//   IDP_HOST              address to bind (default 127.0.0.1)
//   IDP_PUBLIC_HOST       host name used in the issuer (default IDP_HOST; the demo uses localhost)
//   IDP_REALM             realm name (default master)
//   IDP_KEY_FILE          file holding the private signing JWK; created when missing, reused when present
//                         (the tests read it to mint tokens with chosen claims)
//   IDP_DEFAULT_SCOPE     scope applied to authorization requests that carry none (default "openid mcp:tools")
//   IDP_DEFAULT_RESOURCE  audience for clients that send no resource parameter (default: none)
//   IDP_ACCESS_TOKEN_TTL  access token lifetime in seconds (default 300)
//   IDP_STATIC_CLIENT_REDIRECTS  space-separated redirect URIs of a pre-registered public client
//                         "mcp-gateway" (the gateway's callbacks, for MCPAuthClientID); none by default
//   IDP_OPAQUE_RESOURCES  space-separated resource indicators (exactly as clients send them: the
//                         PRM's resource) whose access tokens are opaque; none by default
//   IDP_INTROSPECTOR_SECRET_FILE  when set, a confidential client "mcp-introspector"
//                         (client_secret_basic, no grants: introspection and revocation only) with
//                         the file's content (trailing blanks cut) as its secret
//   IDP_INTROSPECTOR_KEY_FILE  when set, a client "mcp-introspector-jwt" (private_key_jwt, no
//                         grants) whose key is the public half of the file's PEM private key, kid
//                         "introspector-jwt" (its assertions' aud: the issuer, the token endpoint
//                         or the endpoint's URL)
//   IDP_EXCHANGER_SECRET_FILE  when set, a confidential client "mcp-exchanger" (client_secret_basic) with
//                         the file's content (trailing blanks cut) as its secret, allowed the two
//                         exchange grants below (a gateway exchanging its clients' tokens)
//   IDP_EXCHANGER_KEY_FILE  when set, a client "mcp-exchanger-jwt" (private_key_jwt, kid "exchanger-jwt",
//                         the public half of the file's PEM private key), allowed the same grants
//   IDP_EXCHANGE_AUDIENCES  space-separated audiences (for the token-exchange grant: audience or resource
//                         values; for on-behalf-of: the scope's prefix) the IdP issues exchanged tokens
//                         for; any other is refused (none by default)
//   IDP_EXCHANGE_SCOPES   scopes an exchanged token may carry besides the subject token's own
//                         (default "tickets:read tickets:write"; all of them for ".default")
//   IDP_EXCHANGE_TTL      lifetime in seconds of exchanged tokens (default IDP_ACCESS_TOKEN_TTL)
//   IDP_EXCHANGE_SHORT_AUDIENCES  tests only: allowed audiences whose exchanged tokens live
//                         IDP_EXCHANGE_SHORT_TTL seconds (default 10)
//   IDP_EXCHANGE_SLOW_AUDIENCES  tests only: allowed audiences whose exchange is answered only after
//                         IDP_EXCHANGE_SLOW_MS milliseconds (default 10000; other requests are not held up)
//   IDP_EXCHANGE_BROKEN_AUDIENCES  tests only: audiences whose exchange is answered 502 with an HTML page
//                         (an IdP behind a failing proxy)
//   IDP_QUIET=1           do not log requests
//
// Token exchange (tests of MCPAuthTokenExchange), at the token endpoint, for the exchanger clients
// only (any other client: 400 unauthorized_client, RFC 6749 §5.2; oidc-provider itself says
// invalid_request there, which this IdP renames):
//   grant_type=urn:ietf:params:oauth:grant-type:token-exchange (RFC 8693): subject_token (an access
//     token this IdP issued: a JWT with its signature, iss and exp checked, or an opaque one it
//     knows; else invalid_grant), subject_token_type ...:token-type:access_token (or ...:jwt for a
//     JWT; else invalid_request), requested_token_type (if sent) ...:access_token or ...:jwt,
//     exactly one target in audience and/or resource (none: invalid_request; two different:
//     invalid_target), which must be listed in IDP_EXCHANGE_AUDIENCES (else invalid_target), scope
//     (optional). No actor_token (invalid_request). Answer: an RS256 JWT access token with
//     aud = the target, sub = the subject token's, scope = the requested scopes the subject token or
//     IDP_EXCHANGE_SCOPES has (none of them: invalid_scope; none requested: the subject's scope),
//     act = { sub: <exchanging client> } (RFC 8693 §4.1; a subject token's own act nested in it),
//     azp and client_id = the exchanging client; issued_token_type ...:access_token, expires_in.
//   grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer with requested_token_use=on_behalf_of
//     (Microsoft Entra's on-behalf-of flow): assertion (a JWT access token this IdP issued; an
//     opaque one is invalid_grant, as at Entra), scope (required, e.g. "api://tickets/.default":
//     every scope must name the same resource, the part before the last "/"). Missing
//     requested_token_use, assertion or scope: invalid_request. A resource not in
//     IDP_EXCHANGE_AUDIENCES, a permission not in IDP_EXCHANGE_SCOPES or mixed resources:
//     invalid_scope (what Entra answers to a bad scope; it has no invalid_target). Answer, as
//     Entra's: token_type Bearer, scope, expires_in, access_token (aud = the resource, sub = the
//     user's, azp = the client, no act), no issued_token_type.
//   /_hits counts these requests by grant too: "grant:<grant_type>" (every token request, whatever
//     its answer).
import http from 'node:http';
import fs from 'node:fs';
import crypto from 'node:crypto';
import Provider, { errors } from 'oidc-provider';
import { jwtVerify, importJWK } from 'jose';

const PORT = Number(process.env.IDP_PORT || 8081);
const HOST = process.env.IDP_HOST || '127.0.0.1';
const PUBLIC_HOST = process.env.IDP_PUBLIC_HOST || HOST;
const REALM = process.env.IDP_REALM || 'master';
const PREFIX = `/realms/${REALM}`;
const ISSUER = `http://${PUBLIC_HOST}:${PORT}${PREFIX}`;
const DEFAULT_SCOPE = process.env.IDP_DEFAULT_SCOPE ?? 'openid mcp:tools';
const DEFAULT_RESOURCE = process.env.IDP_DEFAULT_RESOURCE || undefined;
const AT_TTL = Number(process.env.IDP_ACCESS_TOKEN_TTL || 300);
const QUIET = process.env.IDP_QUIET === '1';
const STATIC_REDIRECTS = (process.env.IDP_STATIC_CLIENT_REDIRECTS || '').split(/\s+/).filter(Boolean);
const OPAQUE_RESOURCES = new Set((process.env.IDP_OPAQUE_RESOURCES || '').split(/\s+/).filter(Boolean));
const INTROSPECTOR_SECRET_FILE = process.env.IDP_INTROSPECTOR_SECRET_FILE || undefined;
const INTROSPECTOR_KEY_FILE = process.env.IDP_INTROSPECTOR_KEY_FILE || undefined;
const INTROSPECTOR_KID = 'introspector-jwt';
const EXCHANGER_SECRET_FILE = process.env.IDP_EXCHANGER_SECRET_FILE || undefined;
const EXCHANGER_KEY_FILE = process.env.IDP_EXCHANGER_KEY_FILE || undefined;
const EXCHANGER_KID = 'exchanger-jwt';
const words = (v) => (v || '').split(/\s+/).filter(Boolean);
const EXCHANGE_SHORT_AUDIENCES = new Set(words(process.env.IDP_EXCHANGE_SHORT_AUDIENCES));
const EXCHANGE_SLOW_AUDIENCES = new Set(words(process.env.IDP_EXCHANGE_SLOW_AUDIENCES));
const EXCHANGE_BROKEN_AUDIENCES = new Set(words(process.env.IDP_EXCHANGE_BROKEN_AUDIENCES));
const EXCHANGE_AUDIENCES = new Set([
  ...words(process.env.IDP_EXCHANGE_AUDIENCES), ...EXCHANGE_SHORT_AUDIENCES, ...EXCHANGE_SLOW_AUDIENCES,
  ...EXCHANGE_BROKEN_AUDIENCES,
]);
const EXCHANGE_SCOPES = words(process.env.IDP_EXCHANGE_SCOPES ?? 'tickets:read tickets:write');
const EXCHANGE_TTL = Number(process.env.IDP_EXCHANGE_TTL || AT_TTL);
const EXCHANGE_SHORT_TTL = Number(process.env.IDP_EXCHANGE_SHORT_TTL || 10);
const EXCHANGE_SLOW_MS = Number(process.env.IDP_EXCHANGE_SLOW_MS || 10000);
const GRANT_TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const GRANT_JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const TOKEN_TYPE_ACCESS = 'urn:ietf:params:oauth:token-type:access_token';
const TOKEN_TYPE_JWT = 'urn:ietf:params:oauth:token-type:jwt';
// Clients (by client_name) whose DPoP proofs need the IdP's nonce.
const DPOP_NONCE_MARK = '[idp-dpop-nonce]';

// Scopes of the MCP resource servers, and all scopes. As in Keycloak, the access token's scope
// claim lists the OpenID scopes granted too (e.g. "openid mcp:tools").
const RESOURCE_SCOPES = ['mcp:tools', 'mcp:admin'];
const SCOPES = ['openid', 'offline_access', 'profile', 'email', ...RESOURCE_SCOPES];

function loadOrCreateKey(file) {
  if (file && fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, 'utf8'));
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  jwk.kid = crypto.randomBytes(8).toString('hex');
  jwk.alg = 'RS256';
  jwk.use = 'sig';
  if (file) fs.writeFileSync(file, JSON.stringify(jwk), { mode: 0o600 });
  return jwk;
}

const signingKey = loadOrCreateKey(process.env.IDP_KEY_FILE);

// Clients of resource servers (the gateway introspecting): no grants of their own (the explicit
// empty lists override clientDefaults).
const NO_GRANTS = { grant_types: [], response_types: [], redirect_uris: [] };
const staticClients = [];
if (STATIC_REDIRECTS.length) {
  // What an administrator registers at Keycloak for MCPAuthClientID: one client, whose only
  // redirect URIs are the gateway's callbacks.
  staticClients.push({
    client_id: 'mcp-gateway',
    client_name: 'mod_mcp_auth gateway',
    redirect_uris: STATIC_REDIRECTS,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
  });
}
/**
 * The gateway's own clients of one kind: ID with the secret in secretFile (client_secret_basic),
 * and ID-jwt whose key is the public half of the PEM private key in keyFile (private_key_jwt,
 * kid), each present when its file is given.
 */
function gatewayClients(id, secretFile, keyFile, kid, grants) {
  if (secretFile) {
    staticClients.push({
      client_id: id,
      client_secret: fs.readFileSync(secretFile, 'utf8').trimEnd(),
      token_endpoint_auth_method: 'client_secret_basic',
      ...grants,
    });
  }
  if (keyFile) {
    const publicJwk = crypto.createPublicKey(fs.readFileSync(keyFile)).export({ format: 'jwk' });
    staticClients.push({
      client_id: `${id}-jwt`,
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [{ ...publicJwk, kid, use: 'sig' }] },
      ...grants,
    });
  }
}
gatewayClients('mcp-introspector', INTROSPECTOR_SECRET_FILE, INTROSPECTOR_KEY_FILE, INTROSPECTOR_KID, NO_GRANTS);
// The gateway's clients at the token endpoint when it exchanges its clients' tokens.
gatewayClients('mcp-exchanger', EXCHANGER_SECRET_FILE, EXCHANGER_KEY_FILE, EXCHANGER_KID,
  { grant_types: [GRANT_TOKEN_EXCHANGE, GRANT_JWT_BEARER], response_types: [], redirect_uris: [] });

const configuration = {
  jwks: { keys: [signingKey] },
  clients: staticClients,
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  scopes: SCOPES,
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email', 'email_verified'],
  },
  async findAccount(ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return {
          sub, name: sub, preferred_username: sub, email: `${sub}@example.test`, email_verified: true,
        };
      },
    };
  },
  // Keycloak issues refresh tokens without offline_access too.
  async issueRefreshToken(ctx, client) {
    return client.grantTypeAllowed('refresh_token');
  },
  // Keycloak puts these into its access tokens; handy for MCPAuthClaimHeader tests.
  async extraTokenClaims(ctx, token) {
    if (token.kind !== 'AccessToken') return undefined;
    // (an exchanged token's own claims, e.g. act, were set by its grant: kept)
    return { ...token.extra, preferred_username: token.accountId, azp: token.clientId };
  },
  clientDefaults: {
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    id_token_signed_response_alg: 'RS256',
  },
  pkce: { required: () => true },
  ttl: {
    AccessToken: AT_TTL,
    AuthorizationCode: 120,
    IdToken: 3600,
    RefreshToken: 86400,
    Grant: 86400,
    Interaction: 600,
    Session: 86400,
  },
  features: {
    devInteractions: { enabled: true },
    registration: { enabled: true, initialAccessToken: false },
    introspection: { enabled: true },
    revocation: { enabled: true },
    userinfo: { enabled: true },
    dPoP: {
      enabled: true,
      nonceSecret: crypto.randomBytes(32),
      requireNonce: (ctx) => Boolean(ctx.oidc?.client?.clientName?.includes(DPOP_NONCE_MARK)),
    },
    resourceIndicators: {
      enabled: true,
      async defaultResource(ctx, client, oneOf) {
        if (oneOf) return oneOf;
        return DEFAULT_RESOURCE;
      },
      async useGrantedResource() {
        return true;
      },
      async getResourceServerInfo(ctx, resourceIndicator) {
        if (OPAQUE_RESOURCES.has(resourceIndicator)) {
          return {
            scope: SCOPES.join(' '), audience: resourceIndicator, accessTokenTTL: AT_TTL, accessTokenFormat: 'opaque',
          };
        }
        return {
          scope: SCOPES.join(' '),
          audience: resourceIndicator,
          accessTokenTTL: AT_TTL,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
  routes: {
    authorization: '/protocol/openid-connect/auth',
    token: '/protocol/openid-connect/token',
    jwks: '/protocol/openid-connect/certs',
    userinfo: '/protocol/openid-connect/userinfo',
    end_session: '/protocol/openid-connect/logout',
    introspection: '/protocol/openid-connect/token/introspect',
    revocation: '/protocol/openid-connect/revoke',
    registration: '/clients-registrations/openid-connect',
  },
};

const provider = new Provider(ISSUER, configuration);
provider.proxy = false;

// ---- token exchange (RFC 8693) and Entra-style on-behalf-of, for the exchanger clients

const refuse = (error, description) => new errors.CustomOIDCProviderError(error, description);
const signingPublicKey = importJWK((({ d, p, q, dp, dq, qi, ...pub }) => pub)(signingKey), 'RS256');

/**
 * The access token `value` as this IdP issued it: { sub, scope, act } of a JWT whose signature
 * (this IdP's key), iss and exp hold, or of an opaque token it knows (not expired, not revoked);
 * throws invalid_grant (`what` names the parameter) otherwise.
 */
async function issuedAccessToken(value, what, { jwtOnly = false } = {}) {
  if (typeof value !== 'string' || !value) throw refuse('invalid_request', `${what} missing`);
  if (value.split('.').length === 3) {
    try {
      const { payload } = await jwtVerify(value, await signingPublicKey, { issuer: ISSUER, algorithms: ['RS256'] });
      if (typeof payload.sub !== 'string' || !payload.sub) throw new Error('no sub');
      return { sub: payload.sub, scope: payload.scope, act: payload.act };
    } catch (err) {
      throw refuse('invalid_grant', `${what} is not a valid access token of this issuer (${err.code ?? err.message})`);
    }
  }
  if (jwtOnly) throw refuse('invalid_grant', `${what} must be a JWT access token`);
  const token = await provider.AccessToken.find(value);
  if (!token?.accountId) throw refuse('invalid_grant', `${what} is not an active access token of this issuer`);
  return { sub: token.accountId, scope: token.scope, act: token.extra?.act };
}

/**
 * Issues an access token for `audience` to the authenticated client: a JWT for `sub` with
 * `scope` and the `extra` claims. Holds back or breaks the answer for the tests' slow and broken
 * audiences. Returns { value, expiresIn } or undefined when the answer was broken on purpose.
 */
async function issueExchanged(ctx, { audience, sub, scope, extra, gty }) {
  if (EXCHANGE_SLOW_AUDIENCES.has(audience)) await new Promise((r) => { setTimeout(r, EXCHANGE_SLOW_MS); });
  if (EXCHANGE_BROKEN_AUDIENCES.has(audience)) {
    ctx.status = 502;
    ctx.type = 'text/html';
    ctx.body = '<html><body><h1>502 Bad Gateway</h1></body></html>\n';
    return undefined;
  }
  const ttl = EXCHANGE_SHORT_AUDIENCES.has(audience) ? EXCHANGE_SHORT_TTL : EXCHANGE_TTL;
  const token = new provider.AccessToken({
    accountId: sub, client: ctx.oidc.client, scope: scope || undefined, gty, extra,
  });
  token.resourceServer = new provider.ResourceServer(audience, {
    scope: scope || undefined,
    audience,
    accessTokenTTL: ttl,
    accessTokenFormat: 'jwt',
    jwt: { sign: { alg: 'RS256' } },
  });
  token.expiresIn = ttl;
  ctx.oidc.entity('AccessToken', token);
  return { value: await token.save(), expiresIn: token.expiration };
}

provider.registerGrantType(GRANT_TOKEN_EXCHANGE, async (ctx) => {
  const p = ctx.oidc.params;
  const subjectType = p.subject_token_type;
  if (!subjectType) throw refuse('invalid_request', 'subject_token_type missing');
  if (subjectType !== TOKEN_TYPE_ACCESS && subjectType !== TOKEN_TYPE_JWT) {
    throw refuse('invalid_request', `unsupported subject_token_type ${subjectType}`);
  }
  if (p.requested_token_type && p.requested_token_type !== TOKEN_TYPE_ACCESS && p.requested_token_type !== TOKEN_TYPE_JWT) {
    throw refuse('invalid_request', `unsupported requested_token_type ${p.requested_token_type}`);
  }
  if (p.actor_token || p.actor_token_type) throw refuse('invalid_request', 'actor tokens are not supported');
  const subject = await issuedAccessToken(p.subject_token, 'subject_token', { jwtOnly: subjectType === TOKEN_TYPE_JWT });

  const targets = [...new Set([p.audience, p.resource].flat().filter((x) => typeof x === 'string' && x))];
  if (targets.length === 0) throw refuse('invalid_request', 'audience or resource missing');
  if (targets.length > 1) throw refuse('invalid_target', 'only one audience or resource per exchange');
  const [audience] = targets;
  if (!EXCHANGE_AUDIENCES.has(audience)) throw refuse('invalid_target', `no tokens are issued for ${audience}`);

  let scope = subject.scope;
  if (p.scope) {
    const allowed = new Set([...words(subject.scope), ...EXCHANGE_SCOPES]);
    const granted = words(p.scope).filter((x) => allowed.has(x));
    if (granted.length === 0) throw refuse('invalid_scope', `none of the scopes ${p.scope} can be granted`);
    scope = granted.join(' ');
  }
  const act = { sub: ctx.oidc.client.clientId, ...(subject.act && { act: subject.act }) };
  const issued = await issueExchanged(ctx, {
    audience, sub: subject.sub, scope, extra: { act }, gty: 'token_exchange',
  });
  if (!issued) return;
  ctx.body = {
    access_token: issued.value,
    issued_token_type: TOKEN_TYPE_ACCESS,
    token_type: 'Bearer',
    expires_in: issued.expiresIn,
    ...(scope && { scope }),
  };
}, ['subject_token', 'subject_token_type', 'actor_token', 'actor_token_type', 'requested_token_type', 'audience',
  'resource', 'scope'], ['audience', 'resource']);

provider.registerGrantType(GRANT_JWT_BEARER, async (ctx) => {
  const p = ctx.oidc.params;
  if (p.requested_token_use !== 'on_behalf_of') {
    throw refuse('invalid_request', 'requested_token_use must be on_behalf_of (only the on-behalf-of flow is supported)');
  }
  if (!p.assertion) throw refuse('invalid_request', 'assertion missing');
  if (!p.scope) throw refuse('invalid_request', 'scope missing');
  const subject = await issuedAccessToken(p.assertion, 'assertion', { jwtOnly: true });
  // "api://tickets/.default" or "api://tickets/tickets:read ...": one resource, its permissions
  const requested = words(p.scope).filter((x) => !['openid', 'profile', 'email', 'offline_access'].includes(x));
  const split = requested.map((x) => {
    const slash = x.lastIndexOf('/');
    return slash > 0 ? [x.slice(0, slash), x.slice(slash + 1)] : [undefined, x];
  });
  const resources = new Set(split.map(([r]) => r));
  if (resources.size !== 1 || resources.has(undefined)) {
    throw refuse('invalid_scope', `the scope must name one resource's permissions (resource/permission): ${p.scope}`);
  }
  const [audience] = resources;
  if (!EXCHANGE_AUDIENCES.has(audience)) throw refuse('invalid_scope', `no resource ${audience} is known here`);
  const names = split.map(([, n]) => n);
  const granted = names.includes('.default') ? EXCHANGE_SCOPES : names;
  const unknown = granted.filter((x) => !EXCHANGE_SCOPES.includes(x));
  if (unknown.length) throw refuse('invalid_scope', `${audience} has no permission ${unknown.join(' ')}`);
  const scope = granted.join(' ');
  const issued = await issueExchanged(ctx, {
    audience, sub: subject.sub, scope, extra: {}, gty: 'on_behalf_of',
  });
  if (!issued) return;
  ctx.body = {
    token_type: 'Bearer', scope, expires_in: issued.expiresIn, ext_expires_in: issued.expiresIn, access_token: issued.value,
  };
}, ['assertion', 'requested_token_use', 'scope']);

// RFC 6749 §5.2 calls a client that may not use a grant unauthorized_client; oidc-provider says
// invalid_request with this description.
provider.use(async (ctx, next) => {
  await next();
  if (ctx.status === 400 && ctx.body?.error === 'invalid_request'
    && ctx.body.error_description === 'requested grant type is not allowed for this client') {
    ctx.body = { ...ctx.body, error: 'unauthorized_client' };
  }
});
const callback = provider.callback();

const AUTH_PATH = `${PREFIX}${configuration.routes.authorization}`;
const REGISTRATION_PATH = `${PREFIX}${configuration.routes.registration}`;
const TOKEN_PATH = `${PREFIX}${configuration.routes.token}`;

/**
 * Keycloak gives a dynamically registered client the realm's default and optional client scopes,
 * whatever scope the registration names; oidc-provider would limit the client to that scope, so
 * a client could never step up to one it did not name at first. The registration is handed to
 * oidc-provider without it.
 */
async function withoutRegisteredScope(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    const doc = JSON.parse(text);
    if (doc && typeof doc === 'object') delete doc.scope;
    req.body = doc;
  } catch {
    req.body = text;
  }
}

// Requests per path (query left out), for /_hits.
const hits = new Map();

/**
 * Counts a token request under "grant:<grant_type>" in /_hits, before oidc-provider answers it
 * (a held-back answer is counted at once). The body read here is handed to oidc-provider as is.
 */
async function countGrant(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  const grant = new URLSearchParams(text).get('grant_type');
  if (grant) {
    hits.set(`grant:${grant}`, (hits.get(`grant:${grant}`) ?? 0) + 1);
    req.grantType = grant;
  }
  req.body = text;
}
const HITS_PATH = '/_hits';

const server = http.createServer(async (req, res) => {
  const started = Date.now();
  if (!QUIET) {
    res.on('finish', () => {
      const grant = req.grantType ? ` grant_type=${req.grantType}` : '';
      console.log(`idp: ${req.method} ${req.originalUrl ?? req.url}${grant} -> ${res.statusCode} (${Date.now() - started} ms)`);
    });
  }
  const url = new URL(req.url, ISSUER);
  if (url.pathname === HITS_PATH && req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(Object.fromEntries(hits)));
    return;
  }
  hits.set(url.pathname, (hits.get(url.pathname) ?? 0) + 1);
  if (url.pathname !== PREFIX && !url.pathname.startsWith(`${PREFIX}/`)) {
    // Keycloak answers 404 outside its realms, e.g. on the RFC 8414 path-inserted
    // /.well-known/oauth-authorization-server/realms/master.
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: 'Resource not found' }));
    return;
  }
  // Keycloak applies default client scopes to an authorization request without scope.
  if (req.method === 'GET' && url.pathname === AUTH_PATH && !url.searchParams.get('scope') && DEFAULT_SCOPE) {
    url.searchParams.set('scope', DEFAULT_SCOPE);
  }
  if (req.method === 'POST' && url.pathname === REGISTRATION_PATH) await withoutRegisteredScope(req);
  if (req.method === 'POST' && url.pathname === TOKEN_PATH) await countGrant(req);
  req.originalUrl = url.pathname + url.search;
  req.url = url.pathname.slice(PREFIX.length) + url.search || '/';
  if (!req.url.startsWith('/')) req.url = `/${req.url}`;
  return callback(req, res);
});

server.listen(PORT, HOST, () => {
  console.log(`idp: issuer ${ISSUER} listening on ${HOST}:${PORT}`);
});

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    server.closeAllConnections?.();
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000).unref();
  });
}
