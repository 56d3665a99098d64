-- Raw header echo for the idp vhost: one "name: value" line per request
-- header, names exactly as received (CGI cannot show names with '_').
function handle(r)
    r.content_type = "text/plain"
    local headers = r:headers_in_table()
    local names = {}
    for k, _ in pairs(headers) do
        names[#names + 1] = k
    end
    table.sort(names)
    for _, k in ipairs(names) do
        r:puts(k .. ": " .. headers[k] .. "\n")
    end
    return apache2.OK
end
