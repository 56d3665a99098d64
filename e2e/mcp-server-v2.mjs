// A sample MCP server built on the MCP TypeScript SDK 2.x (@modelcontextprotocol/server with
// @modelcontextprotocol/node): protocol 2026-07-28, stateless (no initialize, no Mcp-Session-Id;
// server/discover, the per-request _meta envelope, MCP-Protocol-Version / Mcp-Method / Mcp-Name
// headers checked by the SDK itself), with the SDK's stateless fallback for 2025-era clients.
// It does no authentication of its own: it trusts the gateway in front of it. For the
// mod_mcp_auth end-to-end tests (behind /mcp-v2) and for scripts/demo (behind /mcp).
//
//   http://HOST:MCP_V2_PORT/mcp    the MCP endpoint (POST; GET and DELETE answer 405)
//   http://HOST:MCP_V2_PORT/_seen  tests only: the MCP requests that reached this server, newest
//                                  last (JSON: [{ n, method, mcpMethod, mcpName, id, rpc, name,
//                                  uri, resourceSubscriptions, inputResponses, remoteUser,
//                                  authorization }]); `?since=N` gives those after number N.
//                                  Shows what the gateway let through. Not for the demo's users:
//                                  it is on the server's own loopback port, not behind httpd.
//   http://HOST:MCP_V2_PORT/mcp-exchange  the same server for tokens the gateway exchanged
//                                  (MCPAuthTokenExchange): the SDK's verifyBearerToken with a
//                                  verifier of the IdP's JWTs (upstream-token.mjs: aud
//                                  https://tickets.example.test, act naming a gateway client), 401
//                                  without a valid Bearer token; adds the tool upstream_token
//   http://HOST:MCP_V2_PORT/_tokens tests only: hashes of the tokens that reached /mcp-exchange
//
// Tools:
//   echo {text}          returns text
//   whoami {}            JSON: the X-Remote-User header the gateway set, whether an Authorization
//                        header reached the server (the gateway must strip it), the header names seen
//   café_lookup {item}   a tool with a name beyond ASCII (the client sends Mcp-Name as =?base64?…?=)
//   café_secret {}       another one, which the tests' gateway denies
//   secret_report {}     a tool the tests' gateway denies to everyone
//   admin_reset {}       a tool the tests' gateway keeps for mcp:admin
//   confirm_order {item} multi round-trip (MRTR): first answers input_required with an elicitation
//                        (confirm: boolean); the retried call carries inputResponses
//   secret_wipe {}       the same pattern, denied by the tests' gateway
//   touch_resource {uri} publishes notifications/resources/updated for uri to the open
//                        subscriptions/listen streams that asked for it
//   upstream_token {}    (/mcp-exchange only) JSON: the claims of the token this server verified
//                        (sub, aud, act, azp, scope, ...) and the token's SHA-256
// Prompts: greeting {name}; secret_plan (denied by the tests' gateway).
// Resources:
//   docs://readme           allowed
//   docs://café/menu        a URI beyond ASCII (listed from the template docs://{place}/menu: the
//                           SDK looks resources up by their WHATWG-normalised URI)
//   file:///etc/shadow      served (fake content) so a leak through the gateway would show; the
//                           tests' gateway denies file:///etc/*
// List and read results carry cacheScope "public" with a ttlMs (the server's cacheHints): a
// gateway that filters them must make them private.
//
// Environment: MCP_V2_PORT (default 8083), MCP_HOST (default 127.0.0.1), MCP_QUIET=1 (no request log).
import http from 'node:http';
import {
  McpServer, ResourceTemplate, createMcpHandler, fromJsonSchema, inputRequired, acceptedContent,
  verifyBearerToken, bearerAuthChallengeResponse, OAuthError, OAuthErrorCode,
} from '@modelcontextprotocol/server';
import { toNodeHandler } from '@modelcontextprotocol/node';
import {
  TICKETS_AUDIENCE, TokenRecord, upstreamTokenReport, upstreamVerifier,
} from './upstream-token.mjs';

const PORT = Number(process.env.MCP_V2_PORT || 8083);
const HOST = process.env.MCP_HOST || '127.0.0.1';
const QUIET = process.env.MCP_QUIET === '1';
const CACHE_TTL_MS = 60_000;
const PUBLIC = { ttlMs: CACHE_TTL_MS, cacheScope: 'public' };
const SHADOW_TEXT = 'root:$6$not-a-real-hash:19000:0:99999:7::: (served by the MCP server: must never pass the gateway)';

// The SDK warns, at every registration (so once per request here), that names beyond ASCII
// break the tool naming SEP: café_lookup does so on purpose. Each warning is printed once.
const warned = new Set();
const warn = console.warn.bind(console);
console.warn = (...args) => {
  const key = args.map(String).join(' ');
  if (warned.has(key)) return;
  warned.add(key);
  warn(...args);
};

const text = (s) => ({ content: [{ type: 'text', text: s }] });
const obj = (properties, required = Object.keys(properties)) => fromJsonSchema({
  type: 'object', properties, required, additionalProperties: false,
});
const NO_ARGS = obj({});

// Handlers publish resource updates through the handler's event bus (set below).
let notifier;

function buildServer({ requestInfo, authInfo } = {}) {
  const server = new McpServer({ name: 'mod-mcp-auth-sample-v2', version: '2.0.0' }, {
    capabilities: { resources: { subscribe: true, listChanged: true }, tools: { listChanged: true }, prompts: { listChanged: true } },
    cacheHints: {
      'tools/list': PUBLIC,
      'prompts/list': PUBLIC,
      'resources/list': PUBLIC,
      'resources/templates/list': PUBLIC,
      'resources/read': PUBLIC,
      'server/discover': PUBLIC,
    },
  });
  const header = (ctx, name) => (ctx?.http?.req ?? requestInfo)?.headers.get(name) ?? null;

  server.registerTool('echo', {
    title: 'Echo', description: 'Returns its input', inputSchema: obj({ text: { type: 'string' } }),
  }, async ({ text: t }) => text(t));

  server.registerTool('whoami', {
    title: 'Who am I',
    description: 'Tells which user the gateway says is calling, and whether the access token reached the server',
    inputSchema: NO_ARGS,
  }, async (_args, ctx) => {
    const req = ctx?.http?.req ?? requestInfo;
    const names = req ? [...req.headers.keys()].sort() : [];
    return text(JSON.stringify({
      remoteUser: header(ctx, 'x-remote-user'),
      authorizationReceived: names.includes('authorization'),
      headerNames: names,
    }));
  });

  server.registerTool('café_lookup', {
    title: 'Café lookup', description: 'Looks up an item on the café\'s menu (a tool name beyond ASCII)',
    inputSchema: obj({ item: { type: 'string' } }),
  }, async ({ item }) => text(`${item}: 2.50 € at the café`));

  server.registerTool('café_secret', {
    title: 'Café secret', description: 'The café\'s secret recipe (denied by the tests\' gateway)', inputSchema: NO_ARGS,
  }, async () => text('the secret recipe'));

  server.registerTool('secret_report', {
    title: 'Secret report', description: 'A tool nobody may call through the gateway', inputSchema: NO_ARGS,
  }, async () => text('the secret'));

  server.registerTool('admin_reset', {
    title: 'Reset', description: 'An administrator\'s tool (pretends to reset something)', inputSchema: NO_ARGS,
  }, async () => text('reset done'));

  // Multi round-trip: input_required with an elicitation first, the result once it is answered.
  const confirmSchema = { type: 'object', properties: { confirm: { type: 'boolean', description: 'Place the order?' } }, required: ['confirm'] };
  const mrtr = (done) => async (args, ctx) => {
    const answer = acceptedContent(ctx.mcpReq.inputResponses, 'confirm');
    if (answer === undefined) {
      return inputRequired({
        inputRequests: { confirm: inputRequired.elicit({ message: `Confirm ${args.item ?? 'the operation'}?`, requestedSchema: confirmSchema }) },
        requestState: `round-1:${args.item ?? ''}`,
      });
    }
    return text(answer.confirm === true ? done(args) : 'cancelled');
  };
  server.registerTool('confirm_order', {
    title: 'Confirm order', description: 'Places an order after asking the user to confirm it (multi round-trip)',
    inputSchema: obj({ item: { type: 'string' } }),
  }, mrtr(({ item }) => `order placed: ${item}`));
  server.registerTool('secret_wipe', {
    title: 'Secret wipe', description: 'Asks for confirmation, then pretends to wipe everything (denied by the tests\' gateway)',
    inputSchema: NO_ARGS,
  }, mrtr(() => 'everything wiped'));

  server.registerTool('touch_resource', {
    title: 'Touch a resource', description: 'Publishes notifications/resources/updated for a URI to subscribed listeners',
    inputSchema: obj({ uri: { type: 'string' } }),
  }, async ({ uri }) => {
    notifier?.resourceUpdated(uri);
    return text(`updated ${uri}`);
  });

  if (authInfo) {
    // only where the request came with a token this server verified (/mcp-exchange)
    server.registerTool('upstream_token', {
      title: 'Upstream token',
      description: 'Tells which token reached the server: the claims it verified and the token\'s SHA-256',
      inputSchema: NO_ARGS,
    }, async (_args, ctx) => text(JSON.stringify(upstreamTokenReport(ctx?.http?.authInfo ?? authInfo, 'authorization'))));
  }

  server.registerPrompt('greeting', {
    title: 'Greeting', description: 'A greeting', argsSchema: obj({ name: { type: 'string' } }),
  }, ({ name }) => ({ messages: [{ role: 'user', content: { type: 'text', text: `Say hello to ${name}` } }] }));
  server.registerPrompt('secret_plan', {
    title: 'Secret plan', description: 'A prompt the tests\' gateway denies',
  }, () => ({ messages: [{ role: 'user', content: { type: 'text', text: 'the secret plan' } }] }));

  server.registerResource('readme', 'docs://readme', { title: 'Read me', mimeType: 'text/plain' },
    async (uri) => ({ contents: [{ uri: uri.href, mimeType: 'text/plain', text: 'Read me: an allowed resource' }] }));
  server.registerResource('menu', new ResourceTemplate('docs://{place}/menu', {
    list: async () => ({ resources: [{ uri: 'docs://café/menu', name: 'café menu', mimeType: 'text/plain' }] }),
  }), { title: 'A place\'s menu', mimeType: 'text/plain' }, async (uri, { place }) => ({
    contents: [{ uri: decodeURI(uri.href), mimeType: 'text/plain', text: `Menu of the ${decodeURIComponent(String(place))}: croissant, café au lait` }],
  }));
  server.registerResource('shadow', 'file:///etc/shadow', { title: 'Shadow passwords', mimeType: 'text/plain' },
    async (uri) => ({ contents: [{ uri: uri.href, mimeType: 'text/plain', text: SHADOW_TEXT }] }));
  return server;
}

const handler = createMcpHandler((ctx) => buildServer(ctx), {
  onerror: (err) => { if (!QUIET) console.error(`mcp2: ${err?.message ?? err}`); },
  keepAliveMs: 5000,
});
notifier = handler.notify;
const nodeHandler = toNodeHandler(handler);

// /mcp-exchange: the token the gateway got in exchange for the client's must be one for this
// server, checked with the SDK's own bearer verification.
const EXCHANGE_PATH = '/mcp-exchange';
const tokenRecord = new TokenRecord();
const exchangeAuth = {
  verifier: upstreamVerifier({
    audience: TICKETS_AUDIENCE,
    invalid: (message) => new OAuthError(OAuthErrorCode.InvalidToken, message),
  }),
};

/** Sends a fetch Response (the SDK's challenge) on a node:http response. */
async function sendResponse(response, res) {
  res.writeHead(response.status, Object.fromEntries(response.headers));
  res.end(Buffer.from(await response.arrayBuffer()));
}

// What reached the server (the tests ask /_seen).
const seen = [];
let seenCount = 0;
function record(req, msg) {
  const list = Array.isArray(msg) ? msg : [msg];
  for (const m of list) {
    seenCount += 1;
    seen.push({
      n: seenCount,
      method: req.method,
      mcpMethod: req.headers['mcp-method'] ?? null,
      mcpName: req.headers['mcp-name'] ?? null,
      protocolVersion: req.headers['mcp-protocol-version'] ?? null,
      id: m?.id ?? null,
      rpc: m?.method ?? null,
      name: m?.params?.name ?? null,
      uri: m?.params?.uri ?? null,
      resourceSubscriptions: m?.params?.notifications?.resourceSubscriptions ?? null,
      inputResponses: m?.params?.inputResponses !== undefined,
      remoteUser: req.headers['x-remote-user'] ?? null,
      authorization: req.headers.authorization !== undefined,
    });
  }
  if (seen.length > 500) seen.splice(0, seen.length - 500);
}

async function readBody(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

const httpServer = http.createServer(async (req, res) => {
  const url = new URL(req.url, `http://${req.headers.host || HOST}`);
  if (!QUIET) {
    res.on('finish', () => console.log(
      `mcp2: ${req.method} ${url.pathname} method=${req.headers['mcp-method'] ?? '-'} name=${req.headers['mcp-name'] ?? '-'} `
      + `x-remote-user=${req.headers['x-remote-user'] ?? '-'} authorization=${req.headers.authorization ? 'present' : 'absent'} -> ${res.statusCode}`,
    ));
  }
  try {
    if (url.pathname === '/_seen' && req.method === 'GET') {
      const since = Number(url.searchParams.get('since') || 0);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(seen.filter((e) => e.n > since)));
      return;
    }
    if (url.pathname === '/_tokens' && req.method === 'GET') {
      tokenRecord.serve(url, res);
      return;
    }
    if (url.pathname === EXCHANGE_PATH) {
      const entry = tokenRecord.add(url.pathname, req);
      try {
        req.auth = await verifyBearerToken(req.headers.authorization, exchangeAuth);
        entry.outcome = 'accepted';
      } catch (err) {
        const refusal = bearerAuthChallengeResponse(err);
        entry.outcome = `refused: ${refusal.headers.get('www-authenticate') ?? refusal.status}`;
        await sendResponse(refusal, res);
        return;
      }
    } else if (url.pathname !== '/mcp') {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found\n');
      return;
    }
    if (req.method !== 'POST') {
      await nodeHandler(req, res);
      return;
    }
    const raw = await readBody(req);
    let body;
    try {
      body = JSON.parse(raw);
    } catch {
      record(req, undefined);
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32700, message: 'Parse error' }, id: null }));
      return;
    }
    record(req, body);
    await nodeHandler(req, res, body);
  } catch (err) {
    console.error('mcp2: error', err);
    if (!res.headersSent) {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32603, message: 'Internal server error' }, id: null }));
    }
  }
});

httpServer.listen(PORT, HOST, () => {
  console.log(`mcp2: listening on http://${HOST}:${PORT}/mcp (MCP SDK 2.x, protocol 2026-07-28, stateless)`);
});

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    handler.close().catch(() => {});
    httpServer.closeAllConnections?.();
    httpServer.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000).unref();
  });
}
