// The MCP TypeScript SDK client against a location with MCPAuthProvider keycloak: the gateway is
// the authorization server the client sees (PRM authorization_servers = the MCP URL), a whole
// OAuth relay: registration, authorization, the IdP's callback and the token requests all go
// through the gateway, and the IdP only ever talks to the gateway's callback.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  connectWithOAuth, disconnect, formatLog, resultText, MemoryOAuthProvider, closeAfterwards, printLog, pathOf,
} from './client.mjs';
import {
  ISSUER, GW3_MCP_URL, GW3_PRM_URL, GW3_AS_URL, GW3_REGISTER_URL, GW3_AUTHORIZE_URL, GW3_TOKEN_URL,
  GW3_CALLBACK_URL, parseChallenge, postInitialize,
} from './testenv.mjs';

const open = closeAfterwards(after);
const path = pathOf;
const gw = new URL(GW3_MCP_URL).origin;
const idp = new URL(ISSUER).origin;

test('keycloak mode: the gateway publishes itself as the authorization server', async () => {
  const prm = await (await fetch(GW3_PRM_URL)).json();
  assert.equal(prm.resource, GW3_MCP_URL);
  assert.deepEqual(prm.authorization_servers, [GW3_MCP_URL]);
  const idpDoc = await (await fetch(`${ISSUER}/.well-known/openid-configuration`)).json();
  const res = await fetch(GW3_AS_URL);
  assert.equal(res.status, 200);
  const md = await res.json();
  assert.equal(md.issuer, GW3_MCP_URL, 'issuer = PRM authorization_servers[0]');
  assert.equal(md.registration_endpoint, GW3_REGISTER_URL, 'registration through the gateway');
  assert.equal(md.authorization_endpoint, GW3_AUTHORIZE_URL, 'authorization through the gateway');
  assert.equal(md.token_endpoint, GW3_TOKEN_URL, 'tokens through the gateway');
  assert.equal(md.authorization_response_iss_parameter_supported, true, 'RFC 9207: the relay sends iss');
  assert.equal(idpDoc.authorization_response_iss_parameter_supported, true, 'control: the IdP advertises it too');
  assert.deepEqual(md.code_challenge_methods_supported, ['S256']);
  assert.deepEqual(md.jwks_uri, idpDoc.jwks_uri, 'jwks_uri mirrored');
});

let conn;

test('SDK client, keycloak mode: discovery via the facade, registration via the gateway proxy', async (t) => {
  conn = await connectWithOAuth(GW3_MCP_URL, { username: 'kate' });
  open.push(conn);
  const { log } = conn;
  printLog(t, 'SDK, keycloak mode', log);

  assert.equal(log[0].method, 'POST');
  assert.equal(log[0].url, GW3_MCP_URL);
  assert.equal(log[0].status, 401);
  assert.equal(parseChallenge(log[0].wwwAuthenticate).params.resource_metadata, GW3_PRM_URL);
  const find = (pred, from = 0) => log.findIndex((e, i) => i >= from && pred(e));
  let i = find((e) => e.url === GW3_PRM_URL, 1);
  assert.ok(i > 0 && log[i].status === 200, 'PRM from the gateway');
  i = find((e) => e.url === GW3_AS_URL, i);
  assert.ok(i > 0 && log[i].status === 200, 'AS metadata from the gateway facade (RFC 8414 path-inserted form)');
  assert.ok(!log.some((e) => e.via === 'sdk' && e.url.startsWith(idp) && path(e).includes('/.well-known/')),
    'no discovery request to the IdP itself');
  i = find((e) => e.method === 'POST' && e.url === GW3_REGISTER_URL, i);
  assert.ok(i > 0 && log[i].status === 201, 'registration through the gateway proxy: 201');
  assert.ok(!log.some((e) => e.url.startsWith(idp) && path(e).endsWith('/clients-registrations/openid-connect')),
    'the client never registered at the IdP directly');
  i = find((e) => e.via === 'login' && e.url.startsWith(GW3_AUTHORIZE_URL), i);
  assert.ok(i > 0 && log[i].status === 302, 'authorization at the gateway');
  i = find((e) => e.via === 'login' && e.url.startsWith(idp) && path(e).endsWith('/protocol/openid-connect/auth'), i);
  assert.ok(i > 0, 'then the login at the IdP');
  i = find((e) => e.via === 'login' && e.url.startsWith(GW3_CALLBACK_URL), i);
  assert.ok(i > 0 && log[i].status === 302, 'the IdP answers at the gateway\'s callback');
  i = find((e) => e.grantType === 'authorization_code' && e.url === GW3_TOKEN_URL, i);
  assert.ok(i > 0 && log[i].status === 200, 'token through the gateway');
  assert.ok(!log.some((e) => e.via === 'sdk' && e.url.startsWith(idp)), 'the SDK itself never talks to the IdP');
  i = find((e) => e.url === GW3_MCP_URL && e.rpc === 'initialize', i);
  assert.ok(i > 0 && log[i].status === 200, 'initialize with the token');

  const ap = conn.provider.authorizationUrl.searchParams;
  assert.equal(ap.get('resource'), GW3_MCP_URL);
  assert.equal(ap.get('code_challenge_method'), 'S256');
  assert.ok(conn.provider.clientInformation()?.client_id, 'a client id from the gateway');
  const claims = JSON.parse(Buffer.from(conn.provider.tokens().access_token.split('.')[1], 'base64url'));
  assert.equal(claims.iss, ISSUER, 'the token is the IdP\'s');
  assert.equal(claims.aud, GW3_MCP_URL);
  // RFC 9207: the client hears iss = the gateway, which its metadata names as issuer
  assert.equal(conn.authorization.iss, GW3_MCP_URL, 'iss of the authorization response: the gateway');

  const { tools } = await conn.client.listTools();
  assert.deepEqual(tools.map((x) => x.name).sort(), ['echo', 'progress', 'whoami']);
  assert.equal(resultText(await conn.client.callTool({ name: 'echo', arguments: { text: 'via keycloak mode' } })),
    'via keycloak mode');
  const me = JSON.parse(resultText(await conn.client.callTool({ name: 'whoami', arguments: {} })));
  assert.equal(me.remoteUser, 'kate', 'preferred_username arrives as X-Remote-User');
  assert.equal(me.authorizationReceived, false);
});

test('SDK client, keycloak mode: a rejected token is refreshed without a new login', async (t) => {
  assert.ok(conn, 'the flow ran');
  const provider = conn.provider;
  const before = provider.authorizationCount;
  provider.saveTokens({ ...provider.tokens(), access_token: 'revoked-or-garbage' });
  const again = await connectWithOAuth(GW3_MCP_URL, { provider });
  open.push(again);
  printLog(t, 'SDK, keycloak mode, refresh', again.log);
  assert.equal(provider.authorizationCount, before, 'no new authorization request');
  assert.equal(again.log[0].status, 401);
  assert.equal(parseChallenge(again.log[0].wwwAuthenticate).params.error, 'invalid_token');
  const refresh = again.log.find((e) => e.grantType === 'refresh_token');
  assert.ok(refresh && refresh.status === 200 && refresh.url === GW3_TOKEN_URL, 'refresh grant through the gateway');
  assert.ok(!again.log.some((e) => e.url === GW3_REGISTER_URL), 'no second registration');
  const me = JSON.parse(resultText(await again.client.callTool({ name: 'whoami', arguments: {} })));
  assert.equal(me.remoteUser, 'kate');
  const { res } = await postInitialize(GW3_MCP_URL, provider.tokens().access_token);
  assert.equal(res.status, 200, 'the refreshed token works for a raw request too');
});

test('SDK client, keycloak mode: a second client registers through the proxy too', async () => {
  const c = await connectWithOAuth(GW3_MCP_URL, { username: 'kim', provider: new MemoryOAuthProvider() });
  open.push(c);
  assert.notEqual(c.provider.clientInformation().client_id, conn.provider.clientInformation().client_id);
  const me = JSON.parse(resultText(await c.client.callTool({ name: 'whoami', arguments: {} })));
  assert.equal(me.remoteUser, 'kim');
});
