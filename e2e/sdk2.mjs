// The MCP TypeScript SDK 2.x client (@modelcontextprotocol/client) in the e2e tests: a login
// (connect, the browser step done headlessly, finishAuth with the callback's parameters) and a
// connection with the tokens it got.
import assert from 'node:assert/strict';
import {
  Client, DpopSession, StreamableHTTPClientTransport, UnauthorizedError,
} from '@modelcontextprotocol/client';
import {
  CookieJar, MemoryOAuthProvider, connectWithOAuth, headlessAuthorize, recordingFetch,
} from './client.mjs';

export { claimsOf } from './client.mjs';

/**
 * A 2.x client. Without options it speaks the 2025 era (the SDK's default: initialize); with
 * MODERN it negotiates protocol 2026-07-28 where the server offers it (server/discover).
 */
export const newClient2 = (options) => new Client({ name: 'mod_mcp_auth-e2e-sdk2', version: '1.0.0' }, options);
/** Client options for the 2026-07-28 era: probe with server/discover, fall back to initialize. */
export const MODERN = Object.freeze({ versionNegotiation: { mode: 'auto' } });

/**
 * A MemoryOAuthProvider that binds its tokens with DPoP (RFC 9449): the SDK 2.x client signs a
 * proof for each request with the provider's DpopSession, one key pair for the provider's life.
 */
export class DpopProvider extends MemoryOAuthProvider {
  _dpop = DpopSession.create();

  dpop() { return this._dpop; }
}

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

/**
 * A first connect to `url` (a 401), then the login. On success the provider holds tokens.
 * `options.clientOptions` are the client's (e.g. MODERN); `fetch` is wrapped by the recording one
 * (the client's own requests: MCP, discovery, registration, token); the rest go to sdk2Authorize.
 */
export async function sdk2Login(url, provider, log, { clientOptions, fetch: baseFetch = globalThis.fetch, ...options } = {}) {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    authProvider: provider, fetch: recordingFetch(log, { via: 'sdk', baseFetch }),
  });
  await assert.rejects(newClient2(clientOptions).connect(transport), (e) => e instanceof UnauthorizedError, 'the first connect asks for a login');
  const result = await sdk2Authorize(transport, provider, log, options);
  await transport.close().catch(() => {});
  return result;
}

/**
 * A connected client with the provider's tokens; { client, transport }. `clientOptions` are the
 * client's (e.g. MODERN); `fetch` is wrapped by the recording one (to see or change requests).
 */
export async function sdk2Open(url, provider, log, { clientOptions, fetch: baseFetch = globalThis.fetch, setup } = {}) {
  const client = newClient2(clientOptions);
  setup?.(client);
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    authProvider: provider, fetch: recordingFetch(log, { via: 'sdk', baseFetch }),
  });
  await client.connect(transport);
  return { client, transport };
}

/**
 * Connects a 2.x client to `mcpUrl` as connectWithOAuth does with 1.x: a login (headless, at the
 * e2e IdP) when the server asks for one, then a connection with the tokens. Returns
 * { client, transport, provider, log, authorization }. Speaks 2026-07-28 where the server does.
 */
export function connectWithOAuth2(mcpUrl, { clientOptions = MODERN, ...options } = {}) {
  return connectWithOAuth(mcpUrl, {
    ...options,
    sdk: {
      Transport: StreamableHTTPClientTransport,
      newClient: () => newClient2(clientOptions),
      UnauthorizedError,
      // 2.x takes the callback's parameters, to check the RFC 9207 iss
      finishAuth: (transport, { code, state, iss }) =>
        transport.finishAuth(new URLSearchParams({ code, state, ...(iss !== undefined && { iss }) })),
    },
  });
}

export async function sdk2Connect(url, provider, log) {
  return (await sdk2Open(url, provider, log)).client;
}
