-- The benchmark's MCP backend (mod_lua): answers every tools/call with one small result, without
-- reading the request, so that what is measured is the gateway in front of it.
function handle(r)
  r.content_type = "application/json"
  r:puts('{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"hello"}]}}')
  return apache2.OK
end
