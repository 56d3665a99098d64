// Authorization inside MCP (issue 12) with real SDK clients: /mcp-policy lets everyone with
// mcp:tools use the ordinary tools, asks for mcp:admin for admin_* (403 insufficient_scope, the
// MCP 2025-11-25 step-up), and refuses secret_* to everyone. tools/list (an SSE answer from the
// SDK server) shows only what the caller may call.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UnauthorizedError as Unauthorized1 } from '@modelcontextprotocol/sdk/client/auth.js';
import { UnauthorizedError as Unauthorized2 } from '@modelcontextprotocol/client';
import {
  MemoryOAuthProvider, connectWithOAuth, disconnect, headlessAuthorize, printLog, recordingFetch, resultText,
} from './client.mjs';
import { sdk2Login, sdk2Open, sdk2Authorize, claimsOf } from './sdk2.mjs';
import { POLICY_MCP_URL } from './testenv.mjs';

const names = (tools) => tools.map((x) => x.name).sort();
const ORDINARY = ['echo', 'progress', 'whoami'];

test('SDK 2.x: tools/list filtered, an allowed call, secret_* refused, admin_* steps up to mcp:admin', async (t) => {
  const log = [];
  const provider = new MemoryOAuthProvider({ clientName: 'policy e2e (2.x)' });
  let conn;
  try {
    const login = await sdk2Login(POLICY_MCP_URL, provider, log, { username: 'pat' });
    assert.equal(login.error, undefined, `${login.error} ${login.error_description}`);
    assert.doesNotMatch(claimsOf(provider.tokens().access_token).scope, /mcp:admin/, 'no admin scope yet');
    conn = await sdk2Open(POLICY_MCP_URL, provider, log);
    assert.deepEqual(names((await conn.client.listTools()).tools), ORDINARY, 'admin_reset and secret_report are hidden');
    assert.equal(resultText(await conn.client.callTool({ name: 'echo', arguments: { text: 'allowed' } })), 'allowed');
    await assert.rejects(conn.client.callTool({ name: 'secret_report', arguments: {} }),
      (e) => /Unknown tool: secret_report/.test(e.message) && e.code === -32602, 'a denied tool looks like an unknown one');

    // step-up: the 403 names every scope admin_* needs; the SDK asks for them in a new login
    const logins = provider.authorizationCount;
    await assert.rejects(conn.client.callTool({ name: 'admin_reset', arguments: {} }),
      (e) => e instanceof Unauthorized2 || e?.cause instanceof Unauthorized2 || /nauthorized/i.test(String(e)),
      'the SDK stops for a new authorization');
    assert.equal(provider.authorizationCount, logins + 1, 'a new authorization request');
    const asked = new URL(provider.authorizationUrl).searchParams.get('scope').split(' ');
    assert.ok(asked.includes('mcp:admin') && asked.includes('mcp:tools'), `scope asked for: ${asked}`);
    assert.ok(log.some((e) => e.status === 403 && /insufficient_scope/.test(e.wwwAuthenticate ?? '')
      && /scope="mcp:tools mcp:admin"/.test(e.wwwAuthenticate)), 'the gateway answered 403 insufficient_scope');
    const stepped = await sdk2Authorize(conn.transport, provider, log, { username: 'pat' });
    assert.equal(stepped.error, undefined);
    assert.match(claimsOf(provider.tokens().access_token).scope, /mcp:admin/, 'the new token has mcp:admin');
    await conn.client.close().catch(() => {});

    conn = await sdk2Open(POLICY_MCP_URL, provider, log);
    assert.equal(resultText(await conn.client.callTool({ name: 'admin_reset', arguments: {} })), 'reset done', 'after the step-up');
    assert.deepEqual(names((await conn.client.listTools()).tools), [...ORDINARY, 'admin_reset'].sort(), 'and it is listed');
  } finally {
    printLog(t, 'SDK 2.x, tool policy', log);
    await conn?.client.close().catch(() => {});
  }
});

test('SDK 1.x: tools/list filtered, secret_* refused, admin_* steps up (a token without refresh)', async (t) => {
  const c = await connectWithOAuth(POLICY_MCP_URL, { username: 'quinn', provider: new MemoryOAuthProvider({ clientName: 'policy e2e (1.x)' }) });
  let again;
  try {
    assert.deepEqual(names((await c.client.listTools()).tools), ORDINARY);
    assert.equal(resultText(await c.client.callTool({ name: 'echo', arguments: { text: 'one' } })), 'one');
    await assert.rejects(c.client.callTool({ name: 'secret_report', arguments: {} }), /Unknown tool: secret_report/);
    // SDK 1.x answers a 403 insufficient_scope by refreshing when it can (the refresh keeps the
    // old scope, and it then gives up); without a refresh token it asks for a new authorization
    // with the challenge's scope, which names every scope the tool needs.
    c.provider.saveTokens({ ...c.provider.tokens(), refresh_token: undefined });
    await assert.rejects(c.client.callTool({ name: 'admin_reset', arguments: {} }), (e) => e instanceof Unauthorized1);
    const asked = new URL(c.provider.authorizationUrl).searchParams.get('scope');
    assert.equal(asked, 'mcp:tools mcp:admin', 'the challenge\'s scope, whole');
    const result = await headlessAuthorize(c.provider.authorizationUrl, {
      redirectUrl: String(c.provider.redirectUrl), username: 'quinn', fetch: recordingFetch(c.log, { via: 'login' }),
    });
    await c.transport.finishAuth(result.code);
    again = await connectWithOAuth(POLICY_MCP_URL, { provider: c.provider, log: c.log });
    assert.equal(resultText(await again.client.callTool({ name: 'admin_reset', arguments: {} })), 'reset done');
    assert.equal(resultText(await again.client.callTool({ name: 'echo', arguments: { text: 'two' } })), 'two',
      'the stepped-up token still has mcp:tools');
  } finally {
    printLog(t, 'SDK 1.x, tool policy', c.log);
    await disconnect(c);
    if (again) await disconnect(again);
  }
});
