// TEMPORARY (helper's own scaffolding, removed before hand-off)
import http from 'node:http';
import { createRemoteJWKSet, jwtVerify } from 'jose';
const GW = Number(process.env.GW_PORT), MCP = Number(process.env.MCP_PORT), ISS = process.env.ISSUER;
const JWKS = createRemoteJWKSet(new URL(ISS + '/protocol/openid-connect/certs'));
const base = `http://127.0.0.1:${GW}`;
http.createServer(async (req, res) => {
  const u = new URL(req.url, base);
  const m = u.pathname.match(/^\/\.well-known\/oauth-protected-resource(\/mcp(?:-json)?)?$/);
  if (m) { const r = base + (m[1] || '/mcp'); res.writeHead(200, {'content-type':'application/json'}); res.end(JSON.stringify({resource:r, authorization_servers:[ISS], scopes_supported:['openid','mcp:tools'], bearer_methods_supported:['header']})); return; }
  const loc = u.pathname.startsWith('/mcp-json') ? '/mcp-json' : '/mcp';
  const prm = `${base}/.well-known/oauth-protected-resource${loc}`;
  const a = req.headers.authorization;
  if (!a?.startsWith('Bearer ')) { res.writeHead(401, {'www-authenticate': `Bearer resource_metadata="${prm}"`}); res.end(); return; }
  let p;
  try { ({payload: p} = await jwtVerify(a.slice(7), JWKS, { issuer: ISS, audience: base + loc })); }
  catch (e) { res.writeHead(401, {'www-authenticate': `Bearer resource_metadata="${prm}", error="invalid_token", error_description="${e.code}"`}); res.end(); return; }
  const h = { ...req.headers }; delete h.authorization; h['x-remote-user'] = p.sub; h.host = `127.0.0.1:${MCP}`;
  const pr = http.request({ host: '127.0.0.1', port: MCP, path: req.url, method: req.method, headers: h }, (r) => { res.writeHead(r.statusCode, r.headers); r.pipe(res); });
  req.pipe(pr);
}).listen(GW, '127.0.0.1');
