// A sample MCP server on the MCP TypeScript SDK 1.x (Streamable HTTP, stateful sessions: the 2025
// era) for the mod_mcp_auth end-to-end tests; scripts/demo runs the SDK 2.x one
// (mcp-server-v2.mjs). It does no authentication of its own: it trusts the gateway in front of it.
//
//   http://HOST:MCP_PORT/mcp       responses as SSE streams (the SDK default)
//   http://HOST:MCP_PORT/mcp-json  responses as plain JSON (enableJsonResponse)
//
// Tools:
//   echo   {text}  -> returns text
//   progress {steps, delayMs} -> sends progress notifications while it runs (SSE streaming check)
//   whoami {}      -> JSON: the X-Remote-User header the gateway set, whether an Authorization
//                     header reached the server (the gateway must strip it), and the header names seen
//
// Environment: MCP_PORT (default 8082), MCP_HOST (default 127.0.0.1),
//   MCP_JSON_RESPONSE=1 (JSON responses on /mcp too), MCP_QUIET=1 (no request log).
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';

const PORT = Number(process.env.MCP_PORT || 8082);
const HOST = process.env.MCP_HOST || '127.0.0.1';
const QUIET = process.env.MCP_QUIET === '1';
const ENDPOINTS = {
  '/mcp': { json: process.env.MCP_JSON_RESPONSE === '1' },
  '/mcp-json': { json: true },
  // more tools, for the tool policy tests (MCPAuthToolRule)
  '/mcp-tools': { json: false, more: true },
};

function headerValue(headers, name) {
  const v = headers?.[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

function buildServer({ more = false } = {}) {
  const server = new McpServer({ name: 'mod-mcp-auth-sample', version: '1.0.0' });
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
