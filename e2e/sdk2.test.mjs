// The MCP TypeScript SDK 2.x client (@modelcontextprotocol/client, what the Inspector 2.x and
// mcp-remote bundle). Unlike 1.x it checks that the metadata's issuer is the PRM's authorization
// server (RFC 8414 §3.3) and that the authorization response's iss is that issuer (RFC 9207 §2.4).
// Against the keycloak-mode relay it must finish the whole login: the IdP's own iss never reaches
// it, the gateway's does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, StreamableHTTPClientTransport, UnauthorizedError } from '@modelcontextprotocol/client';
import { MemoryOAuthProvider, headlessAuthorize, recordingFetch, printLog, resultText } from './client.mjs';
import { ISSUER, GW3_MCP_URL, GW3_TOKEN_URL, GW3_CALLBACK_URL } from './testenv.mjs';

const newClient = () => new Client({ name: 'mod_mcp_auth-e2e-sdk2', version: '1.0.0' });

test('SDK 2.x client, keycloak mode: login through the relay (iss checked), tools, refresh', async (t) => {
  const log = [];
  const provider = new MemoryOAuthProvider({ clientName: 'sdk2 e2e client' });
  const opts = { authProvider: provider, fetch: recordingFetch(log, { via: 'sdk' }) };
  let transport = new StreamableHTTPClientTransport(new URL(GW3_MCP_URL), opts);
  let client = newClient();
  try {
    await assert.rejects(client.connect(transport), (e) => e instanceof UnauthorizedError, 'first connect asks for a login');
    assert.ok(provider.authorizationUrl, 'the SDK chose an authorization URL');
    const result = await headlessAuthorize(provider.authorizationUrl, {
      redirectUrl: String(provider.redirectUrl), username: 'sam', fetch: recordingFetch(log, { via: 'login' }),
    });
    assert.equal(result.error, undefined, `${result.error} ${result.error_description}`);
    assert.equal(result.iss, GW3_MCP_URL, 'RFC 9207: iss is the gateway, the issuer its metadata names');
    assert.ok(log.some((e) => e.url.startsWith(GW3_CALLBACK_URL)), 'the IdP answered at the gateway\'s callback');
    // 2.x checks iss here: with the IdP's iss it throws IssuerMismatchError
    await transport.finishAuth(new URLSearchParams({ code: result.code, state: result.state, iss: result.iss }));
    await transport.close().catch(() => {});

    transport = new StreamableHTTPClientTransport(new URL(GW3_MCP_URL), opts);
    client = newClient();
    await client.connect(transport);
    const claims = JSON.parse(Buffer.from(provider.tokens().access_token.split('.')[1], 'base64url'));
    assert.equal(claims.iss, ISSUER, 'the access token is the IdP\'s');
    assert.equal(claims.aud, GW3_MCP_URL);
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((x) => x.name).sort(), ['echo', 'progress', 'whoami']);
    const me = JSON.parse(resultText(await client.callTool({ name: 'whoami', arguments: {} })));
    assert.equal(me.remoteUser, 'sam');
    assert.equal(me.authorizationReceived, false);
    assert.ok(log.some((e) => e.grantType === 'authorization_code' && e.url === GW3_TOKEN_URL && e.status === 200),
      'the code was redeemed at the gateway');

    // a rejected token: the 2.x client refreshes through the relay, no new login
    await client.close().catch(() => {});
    const logins = provider.authorizationCount;
    provider.saveTokens({ ...provider.tokens(), access_token: 'revoked-or-garbage' });
    transport = new StreamableHTTPClientTransport(new URL(GW3_MCP_URL), opts);
    client = newClient();
    await client.connect(transport);
    assert.equal(provider.authorizationCount, logins, 'no new authorization request');
    assert.ok(log.some((e) => e.grantType === 'refresh_token' && e.url === GW3_TOKEN_URL && e.status === 200),
      'refresh grant through the gateway');
    const again = JSON.parse(resultText(await client.callTool({ name: 'whoami', arguments: {} })));
    assert.equal(again.remoteUser, 'sam');
  } finally {
    printLog(t, 'SDK 2.x, keycloak mode', log);
    await client.close().catch(() => {});
  }
});
