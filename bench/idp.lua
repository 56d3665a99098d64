-- The bench identity provider's token introspection endpoint (RFC 7662), in mod_lua: fast, so
-- that what is measured is the gateway asking, not the IdP answering. The client must
-- authenticate with client_secret_basic (RFC 6749 §2.3.1) as the Authorization header in the
-- BENCH_IDP_BASIC variable (SetEnv) says; tokens are judged by prefix, as mint.mjs makes them:
--   bench-opaque-*    active, for this gateway's audience
--   bench-wrongaud-*  active, for another audience
--   anything else     {"active":false}
-- Its access log (the IdP's, shared with jwks.json) counts the questions.
local function answer(r, status, body)
  r.status = status
  r.content_type = "application/json"
  r.headers_out["Cache-Control"] = "no-store"
  r:puts(body)
  return apache2.OK
end

local function quote(s)
  return '"' .. s:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
end

function handle(r)
  if r.method ~= "POST" then
    return answer(r, 405, '{"error":"invalid_request"}')
  end
  local want = r.subprocess_env["BENCH_IDP_BASIC"]
  if want == nil or r.headers_in["Authorization"] ~= want then
    r.err_headers_out["WWW-Authenticate"] = 'Basic realm="bench-idp"'
    return answer(r, 401, '{"error":"invalid_client"}')
  end
  local args = r:parsebody(16384) or {}
  local token = args["token"]
  if type(token) ~= "string" then
    return answer(r, 400, '{"error":"invalid_request"}')
  end
  local aud
  if token:sub(1, 13) == "bench-opaque-" then
    aud = r.subprocess_env["BENCH_AUD"]
  elseif token:sub(1, 15) == "bench-wrongaud-" then
    aud = r.subprocess_env["BENCH_AUD"] .. "/other"
  else
    return answer(r, 200, '{"active":false}')
  end
  local now = os.time()
  return answer(r, 200, table.concat({
    '{"active":true,"iss":', quote(r.subprocess_env["BENCH_ISS"]),
    ',"aud":', quote(aud),
    ',"sub":', quote("user-" .. token:sub(-8)),
    ',"client_id":"bench","scope":"openid mcp:tools","token_type":"Bearer"',
    ',"iat":', tostring(now - 60), ',"exp":', tostring(now + 3600), '}',
  }))
end
