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
//   IDP_QUIET=1           do not log requests
import http from 'node:http';
import fs from 'node:fs';
import crypto from 'node:crypto';
import Provider from 'oidc-provider';

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
if (INTROSPECTOR_SECRET_FILE) {
  staticClients.push({
    client_id: 'mcp-introspector',
    client_secret: fs.readFileSync(INTROSPECTOR_SECRET_FILE, 'utf8').trimEnd(),
    token_endpoint_auth_method: 'client_secret_basic',
    ...NO_GRANTS,
  });
}
if (INTROSPECTOR_KEY_FILE) {
  const publicJwk = crypto.createPublicKey(fs.readFileSync(INTROSPECTOR_KEY_FILE)).export({ format: 'jwk' });
  staticClients.push({
    client_id: 'mcp-introspector-jwt',
    token_endpoint_auth_method: 'private_key_jwt',
    jwks: { keys: [{ ...publicJwk, kid: INTROSPECTOR_KID, use: 'sig' }] },
    ...NO_GRANTS,
  });
}

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
    return { preferred_username: token.accountId, azp: token.clientId };
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
const callback = provider.callback();

const AUTH_PATH = `${PREFIX}${configuration.routes.authorization}`;
const REGISTRATION_PATH = `${PREFIX}${configuration.routes.registration}`;

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
const HITS_PATH = '/_hits';

const server = http.createServer(async (req, res) => {
  const started = Date.now();
  if (!QUIET) {
    res.on('finish', () => {
      console.log(`idp: ${req.method} ${req.originalUrl ?? req.url} -> ${res.statusCode} (${Date.now() - started} ms)`);
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
