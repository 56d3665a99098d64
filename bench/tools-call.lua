-- wrk script: every request is an MCP tools/call (a JSON-RPC POST), as a client calls a tool.
--   wrk ... -s tools-call.lua -H "Authorization: Bearer TOKEN" URL
wrk.method = "POST"
wrk.body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"}}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
