-- A fast RFC 7662 endpoint that knows no token (t/32-dpop.t floods the
-- gateway's introspection with random tokens through it).
function handle(r)
    r.content_type = "application/json"
    r:puts('{"active":false}')
    return apache2.OK
end
