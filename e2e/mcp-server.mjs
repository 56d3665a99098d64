// A sample MCP server on the MCP TypeScript SDK 1.x (Streamable HTTP, stateful sessions: the 2025
// era) for the mod_mcp_auth end-to-end tests; scripts/demo runs the SDK 2.x one
// (mcp-server-v2.mjs). It does no authentication of its own: it trusts the gateway in front of it.
//
//   http://HOST:MCP_PORT/mcp       responses as SSE streams (the SDK default)
//   http://HOST:MCP_PORT/mcp-json  responses as plain JSON (enableJsonResponse)
//
// Behind MCPAuthTokenExchange (the gateway swaps the client's token for one meant for this
// server), endpoints that do check a token, with the SDK's own bearer middleware
// (requireBearerAuth) and a verifier of the IdP's JWTs (upstream-token.mjs: signature, iss, their
// own aud, sub, exp, act naming a gateway client); 401 without a valid one:
//   /mcp-exchange        Authorization: Bearer, aud https://tickets.example.test (RFC 8693)
//   /mcp-exchange-short  the same for https://tickets-short.example.test (tokens of 10 s)
//   /mcp-obo             X-Upstream-Token (MCPAuthTokenExchange header=), aud api://tickets, azp a
//                        gateway client (on-behalf-of); an Authorization header there is refused
//   /_tokens             tests only: hashes of the tokens that reached those endpoints (TokenRecord)
//
// Tools:
//   echo   {text}  -> returns text
//   progress {steps, delayMs} -> sends progress notifications while it runs (SSE streaming check)
//   whoami {}      -> JSON: the X-Remote-User header the gateway set, whether an Authorization
//                     header reached the server (the gateway must strip it), and the header names seen
//   upstream_token {} (the exchange endpoints only) -> JSON: the claims of the token this server
//                     verified (sub, aud, act, azp, scope, ...) and the token's SHA-256
//
// Environment: MCP_PORT (default 8082), MCP_HOST (default 127.0.0.1),
//   MCP_JSON_RESPONSE=1 (JSON responses on /mcp too), MCP_QUIET=1 (no request log).
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import { InvalidTokenError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import {
  GATEWAY_CLIENTS, OBO_AUDIENCE, TICKETS_AUDIENCE, TICKETS_SHORT_AUDIENCE, TokenRecord, upstreamTokenReport,
  upstreamVerifier,
} from './upstream-token.mjs';

const PORT = Number(process.env.MCP_PORT || 8082);
const HOST = process.env.MCP_HOST || '127.0.0.1';
const QUIET = process.env.MCP_QUIET === '1';
const ENDPOINTS = {
  '/mcp': { json: process.env.MCP_JSON_RESPONSE === '1' },
  '/mcp-json': { json: true },
  // more tools, for the tool policy tests (MCPAuthToolRule)
  '/mcp-tools': { json: false, more: true },
  // tokens exchanged by the gateway (MCPAuthTokenExchange), checked here
  '/mcp-exchange': { json: false, exchange: { audience: TICKETS_AUDIENCE, header: 'authorization' } },
  '/mcp-exchange-short': { json: false, exchange: { audience: TICKETS_SHORT_AUDIENCE, header: 'authorization' } },
  '/mcp-obo': { json: false, exchange: { audience: OBO_AUDIENCE, header: 'x-upstream-token', azp: true } },
};
const tokenRecord = new TokenRecord();
const invalid = (message) => new InvalidTokenError(message);
for (const endpoint of Object.values(ENDPOINTS)) {
  if (!endpoint.exchange) continue;
  const { audience, azp } = endpoint.exchange;
  endpoint.bearer = requireBearerAuth({
    verifier: upstreamVerifier({ audience, azpOneOf: azp ? GATEWAY_CLIENTS : undefined, invalid }),
  });
}

/** The express-style response methods requireBearerAuth uses, on a node:http response. */
function expressStyle(res) {
  res.set = (name, value) => { res.setHeader(name, value); return res; };
  res.status = (code) => { res.statusCode = code; return res; };
  res.json = (body) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(body));
    return res;
  };
  return res;
}

/**
 * Checks the token of a request to an exchange endpoint with the SDK's middleware; true when it
 * passed (req.auth is then the verified AuthInfo), false when the answer (401) is sent.
 */
async function checkBearer(endpoint, path, req, res) {
  const entry = tokenRecord.add(path, req);
  const { header } = endpoint.exchange;
  if (header !== 'authorization') {
    // the token comes in another header: an Authorization header here is a token that should
    // not have reached this server
    if (req.headers.authorization !== undefined) {
      entry.outcome = 'refused: an Authorization header';
      jsonRpcError(res, 400, 'Authorization header not expected here');
      return false;
    }
    const value = req.headers[header];
    if (typeof value === 'string') req.headers.authorization = `Bearer ${value}`;
  }
  let passed = false;
  await endpoint.bearer(req, expressStyle(res), () => { passed = true; });
  entry.outcome = passed ? 'accepted' : `refused: ${res.getHeader('www-authenticate') ?? res.statusCode}`;
  return passed;
}

function headerValue(headers, name) {
  const v = headers?.[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

function buildServer({ more = false, exchange } = {}) {
  const server = new McpServer({ name: 'mod-mcp-auth-sample', version: '1.0.0' });
  if (exchange) {
    server.registerTool('upstream_token', {
      title: 'Upstream token',
      description: 'Tells which token reached the server: the claims it verified and the token\'s SHA-256',
      inputSchema: {},
    }, async (_args, extra) => ({
      content: [{ type: 'text', text: JSON.stringify(upstreamTokenReport(extra.authInfo, exchange.header)) }],
    }));
  }
  if (more) {
    server.registerTool('admin_reset', {
      title: 'Reset', description: 'An administrator\'s tool (pretends to reset something)', inputSchema: {},
    }, async () => ({ content: [{ type: 'text', text: 'reset done' }] }));
    server.registerTool('secret_report', {
      title: 'Secret report', description: 'A tool nobody may call through the gateway', inputSchema: {},
    }, async () => ({ content: [{ type: 'text', text: 'the secret' }] }));
  }
  server.registerTool('echo', {
    title: 'Echo',
    description: 'Returns its input',
    inputSchema: { text: z.string() },
  }, async ({ text }) => ({ content: [{ type: 'text', text }] }));
  server.registerTool('progress', {
    title: 'Progress',
    description: 'Sends `steps` progress notifications, `delayMs` apart, then returns (tests SSE streaming)',
    inputSchema: { steps: z.number().int().min(1).max(20).default(3), delayMs: z.number().int().min(0).max(2000).default(200) },
  }, async ({ steps, delayMs }, extra) => {
    const token = extra._meta?.progressToken;
    for (let i = 1; i <= steps; i += 1) {
      if (token !== undefined) {
        await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: i, total: steps } });
      }
      await new Promise((r) => { setTimeout(r, delayMs); });
    }
    return { content: [{ type: 'text', text: `done after ${steps} steps` }] };
  });
  server.registerTool('whoami', {
    title: 'Who am I',
    description: 'Tells which user the gateway says is calling, and whether the access token reached the server',
    inputSchema: {},
  }, async (_args, extra) => {
    const headers = extra.requestInfo?.headers ?? {};
    const info = {
      remoteUser: headerValue(headers, 'x-remote-user') ?? null,
      authorizationReceived: headers.authorization !== undefined,
      headerNames: Object.keys(headers).sort(),
    };
    return { content: [{ type: 'text', text: JSON.stringify(info) }] };
  });
  return server;
}

// session id -> transport
const sessions = new Map();

async function readJson(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const raw = Buffer.concat(chunks).toString('utf8');
  return raw ? JSON.parse(raw) : undefined;
}

function jsonRpcError(res, status, message) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id: null }));
}

const httpServer = http.createServer(async (req, res) => {
  const url = new URL(req.url, `http://${req.headers.host || HOST}`);
  if (url.pathname === '/_tokens' && req.method === 'GET') {
    tokenRecord.serve(url, res);
    return;
  }
  const endpoint = ENDPOINTS[url.pathname];
  if (!QUIET) {
    const auth = req.headers.authorization ? 'present' : 'absent';
    res.on('finish', () => console.log(
      `mcp: ${req.method} ${url.pathname} session=${req.headers['mcp-session-id'] ?? '-'} `
      + `x-remote-user=${req.headers['x-remote-user'] ?? '-'} authorization=${auth} -> ${res.statusCode}`,
    ));
  }
  if (!endpoint) {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
    return;
  }
  try {
    if (endpoint.exchange && !(await checkBearer(endpoint, url.pathname, req, res))) return;
    const sid = req.headers['mcp-session-id'];
    let body;
    if (req.method === 'POST') {
      try {
        body = await readJson(req);
      } catch {
        jsonRpcError(res, 400, 'Parse error');
        return;
      }
    }
    let transport = sid ? sessions.get(sid) : undefined;
    if (sid && !transport) {
      jsonRpcError(res, 404, 'Session not found');
      return;
    }
    if (!transport) {
      if (req.method !== 'POST' || !isInitializeRequest(body)) {
        jsonRpcError(res, 400, 'Bad Request: no valid session id');
        return;
      }
      transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        enableJsonResponse: endpoint.json,
        onsessioninitialized: (id) => { sessions.set(id, transport); },
      });
      transport.onclose = () => {
        if (transport.sessionId) sessions.delete(transport.sessionId);
      };
      await buildServer(endpoint).connect(transport);
    }
    await transport.handleRequest(req, res, body);
  } catch (err) {
    console.error('mcp: error', err);
    if (!res.headersSent) jsonRpcError(res, 500, 'Internal server error');
  }
});

httpServer.listen(PORT, HOST, () => {
  console.log(`mcp: listening on http://${HOST}:${PORT}/mcp (${ENDPOINTS['/mcp'].json ? 'JSON' : 'SSE'}) and /mcp-json (JSON)`);
});

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    for (const t of sessions.values()) t.close().catch(() => {});
    httpServer.closeAllConnections?.();
    httpServer.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000).unref();
  });
}
