#!/usr/bin/env node
// Connects to an MCP server behind mod_mcp_auth with the MCP TypeScript SDK 2.x client, runs the
// OAuth flow (logging in headlessly at the demo IdP, which accepts any username and password),
// speaks protocol 2026-07-28 where the server does (else the 2025 handshake), lists the tools,
// calls echo and whoami, and prints every HTTP request made on the way.
//
//   node e2e/connect.mjs [URL] [--user NAME] [--password PW] [--quiet] [--sdk1]
//   node e2e/connect.mjs [URL] --token      only print an access token (for other clients:
//                                           --header "Authorization: Bearer $TOKEN")
//   --sdk1   use the SDK 1.x client (@modelcontextprotocol/sdk: the 2025 era, sessions) instead
//   URL defaults to http://localhost:8080/mcp (scripts/demo)
import { connectWithOAuth, disconnect, formatLog, resultText } from './client.mjs';
import { connectWithOAuth2 } from './sdk2.mjs';

const args = process.argv.slice(2);
let url = 'http://localhost:8080/mcp';
let username = process.env.USER_NAME || 'demo';
let password = 'demo';
let quiet = false;
let tokenOnly = false;
let sdk1 = false;
for (let i = 0; i < args.length; i += 1) {
  const a = args[i];
  if (a === '--user' || a === '-u') username = args[++i];
  else if (a === '--password' || a === '-p') password = args[++i];
  else if (a === '--quiet' || a === '-q') quiet = true;
  else if (a === '--token') tokenOnly = true;
  else if (a === '--sdk1') sdk1 = true;
  else if (a === '--help' || a === '-h') {
    console.log('usage: node e2e/connect.mjs [URL] [--user NAME] [--password PW] [--quiet] [--token] [--sdk1]');
    process.exit(0);
  } else url = a;
}

let conn;
try {
  conn = await (sdk1 ? connectWithOAuth : connectWithOAuth2)(url, { username, password });
  const { client, provider, log } = conn;
  if (tokenOnly) {
    console.log(provider.tokens().access_token);
    process.exit(0);
  }
  if (!quiet) {
    console.log(`Requests made by the client (SDK and headless login):\n${formatLog(log)}\n`);
  }
  const tokens = provider.tokens();
  if (tokens?.access_token) {
    const claims = JSON.parse(Buffer.from(tokens.access_token.split('.')[1] ?? '', 'base64url').toString() || '{}');
    console.log(`Access token: iss=${claims.iss} aud=${JSON.stringify(claims.aud)} sub=${claims.sub} scope="${claims.scope}"`);
  }
  const server = client.getServerVersion();
  const version = client.getNegotiatedProtocolVersion?.() ?? conn.transport.protocolVersion;
  const era = client.getProtocolEra?.() ?? 'legacy';
  console.log(`Server: ${server ? `${server.name} ${server.version}` : '(anonymous)'}, protocol ${version ?? '?'}`
    + ` (${era === 'modern' ? 'per-request, stateless' : `2025 era${conn.transport.sessionId ? ', session' : ''}`})`);
  const { tools } = await client.listTools();
  console.log(`Tools: ${tools.map((t) => t.name).join(', ')}`);
  console.log(`echo -> ${resultText(await client.callTool({ name: 'echo', arguments: { text: 'hello through mod_mcp_auth' } }))}`);
  if (tools.some((t) => t.name === 'whoami')) {
    console.log(`whoami -> ${resultText(await client.callTool({ name: 'whoami', arguments: {} }))}`);
  }
} catch (err) {
  console.error(`connect.mjs: ${err?.stack ?? err}`);
  if (conn?.log && !quiet) console.error(formatLog(conn.log));
  process.exitCode = 1;
} finally {
  if (conn) await disconnect(conn);
}
