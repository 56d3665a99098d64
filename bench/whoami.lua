-- The benchmark backend's /whoami (mod_lua): answers the Authorization header it received, or
-- "none", so that bench/run's pre-checks can see which token a proxied location forwarded (the
-- client's own, or the one MCPAuthTokenExchange got for it).
function handle(r)
  r.content_type = "text/plain"
  r.headers_out["Cache-Control"] = "no-store"
  r:puts(r.headers_in["Authorization"] or "none")
  return apache2.OK
end
