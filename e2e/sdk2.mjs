// The MCP TypeScript SDK 2.x client (@modelcontextprotocol/client) in the e2e tests: a login
// (connect, the browser step done headlessly, finishAuth with the callback's parameters) and a
// connection with the tokens it got.
import assert from 'node:assert/strict';
import { Client, StreamableHTTPClientTransport, UnauthorizedError } from '@modelcontextprotocol/client';
import { CookieJar, headlessAuthorize, recordingFetch } from './client.mjs';

export const newClient2 = () => new Client({ name: 'mod_mcp_auth-e2e-sdk2', version: '1.0.0' });
export const claimsOf = (token) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url'));

/**
 * The browser step for an authorization URL the SDK chose (with `jar` as the browser's cookies
 * and `consent` as the button pressed on a gateway consent page), then finishAuth on transport.
 * Returns the browser step's result.
 */
export async function sdk2Authorize(transport, provider, log, { jar = new CookieJar(), consent = 'approve', username = 'cora' } = {}) {
  const result = await headlessAuthorize(provider.authorizationUrl, {
    redirectUrl: String(provider.redirectUrl), username, consent, jar, fetch: recordingFetch(log, { via: 'browser' }),
  });
  if (!result.error) {
    await transport.finishAuth(new URLSearchParams({ code: result.code, state: result.state, iss: result.iss }));
  }
  return result;
}

/** A first connect to `url` (a 401), then the login. On success the provider holds tokens. */
export async function sdk2Login(url, provider, log, options = {}) {
  const transport = new StreamableHTTPClientTransport(new URL(url), { authProvider: provider, fetch: recordingFetch(log, { via: 'sdk' }) });
  await assert.rejects(newClient2().connect(transport), (e) => e instanceof UnauthorizedError, 'the first connect asks for a login');
  const result = await sdk2Authorize(transport, provider, log, options);
  await transport.close().catch(() => {});
  return result;
}

/** A connected client with the provider's tokens; { client, transport }. */
export async function sdk2Open(url, provider, log) {
  const client = newClient2();
  const transport = new StreamableHTTPClientTransport(new URL(url), { authProvider: provider, fetch: recordingFetch(log, { via: 'sdk' }) });
  await client.connect(transport);
  return { client, transport };
}

export async function sdk2Connect(url, provider, log) {
  return (await sdk2Open(url, provider, log)).client;
}
