# Issue 10: what an outside review of the running gateway found, one block a
# finding, each trying more than the one request that showed it. Locations in
# t/conf/issue10.conf.in (vhosts i10idp, i10, i10front).
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test;
use Apache::TestUtil;
use IO::Compress::Gzip ();
use JSON::PP ();
use MCPTest;
use MintToken;
use I3Test;

my $ISS = url('i10idp', '/realms/test');
my $PRM = '/.well-known/oauth-protected-resource';

# A token spec for the i10 locations (aud urn:i10 unless told).
sub i10 {
    my %o = @_;
    my $aud = delete $o{-aud} // 'urn:i10';
    return { key => 'rsa1', header => { alg => 'RS256', kid => 'rsa1' },
             payload => MintToken::claims(-iss => $ISS, -aud => $aud, sub => 'alice', %o) };
}
sub i10raw {
    my $text = shift;
    return { key => 'rsa1', header => { alg => 'RS256', kid => 'rsa1' }, payload_raw => $text };
}

# checks for run_cases
sub no_header { my $h = shift; [ "no $h at the backend", sub { exists $_[1]{headers}{$h} ? 'present' : 'absent' }, 'absent' ] }
my $FORM = 'application/x-www-form-urlencoded';

# --- 3, 6: tokens that slip past; form bodies byte for byte -----------------------------
my $gz;
IO::Compress::Gzip::gzip(\"access_token=should-stay-opaque&n=1" => \$gz) or die "gzip failed\n";
my @cases = (
    { name => 'query: %5F-encoded name is the parameter', vhost => 'i10', path => '/q?access%5Ftoken=%T&n=1',
      token => i10(), status => 200, checks => [ user_is('alice'), query_is('n=1'), no_token_at_backend() ] },
    { name => 'query: %61ccess_token is the parameter', vhost => 'i10', path => '/q?%61ccess_token=%T',
      token => i10(), status => 200, checks => [ query_is(''), no_token_at_backend() ] },
    { name => 'query: ; separates parameters', vhost => 'i10', path => '/q?a=1;access_token=%T;b=2',
      token => i10(), status => 200, checks => [ query_is('a=1;b=2'), no_token_at_backend() ] },
    { name => 'query: a header token plus one behind ; is two tokens', vhost => 'i10', path => '/q?n=1;access_token=%U',
      headers => [ Authorization => 'Bearer %T' ], token => i10(), token2 => i10(), status => 400, error => 'invalid_request' },
    { name => 'query: PHP-style access.token is the parameter', vhost => 'i10', path => '/q?access.token=%T&n=2',
      token => i10(), status => 200, checks => [ query_is('n=2'), no_token_at_backend() ] },
    { name => 'query: PHP reads +access_token and access[token as access_token', vhost => 'i10',
      path => '/q?n=3&+access_token=%T', token => i10(), status => 200, checks => [ query_is('n=3'), no_token_at_backend() ] },
    { name => 'query: ASP.NET reads %u0061ccess_token as access_token', vhost => 'i10',
      path => '/q?%u0061ccess_token=%T', token => i10(), status => 200, checks => [ query_is(''), no_token_at_backend() ] },
    { name => 'body: a Content-Type list naming the form type is a form', vhost => 'i10', method => 'POST', path => '/q',
      body => 'access_token=%T&y=1', ctype => "$FORM, application/json", token => i10(), status => 200,
      checks => [ user_is('alice'), body_is('y=1') ] },
    { name => 'body: %5F-encoded name is the parameter', vhost => 'i10', method => 'POST', path => '/q',
      body => 'access%5Ftoken=%T&x=1', ctype => $FORM, token => i10(), status => 200,
      checks => [ user_is('alice'), body_is('x=1'), no_token_at_backend() ] },
    { name => 'body: a form-body token on GET is refused', vhost => 'i10', method => 'GET', path => '/q',
      body => 'access_token=%T', ctype => $FORM, token => i10(), status => 400, error => 'invalid_request' },
    { name => 'optional, header only: Bearer in Proxy-Authorization never reaches the backend', vhost => 'i10',
      path => '/q-hdr', headers => [ 'Proxy-Authorization' => 'Bearer %T' ], token => i10(), status => 200,
      checks => [ user_is('(none)'), no_header('proxy-authorization'), no_header('authorization'), no_token_at_backend() ] },
    { name => 'optional: a Bearer header next to another scheme is refused', vhost => 'i10', path => '/q-hdr',
      headers => [ Authorization => 'Basic dXNlcjpwYXNz', Authorization => 'Bearer %T' ], token => i10(),
      status => 400, error => 'invalid_request' },
    { name => 'optional: Basic alone goes on as it is', vhost => 'i10', path => '/q-hdr',
      headers => [ Authorization => 'Basic dXNlcjpwYXNz' ], status => 200,
      checks => [ [ 'Authorization kept', sub { $_[1]{headers}{authorization} // '(none)' }, 'Basic dXNlcjpwYXNz' ] ] },
    { name => 'optional, header only: a query token (method off) is removed, not judged', vhost => 'i10',
      path => '/q-hdr?access_token=%T&k=v', token => i10(), status => 200,
      checks => [ user_is('(none)'), query_is('k=v'), no_token_at_backend() ] },
    { name => 'ProxyPass nocanon: the token leaves the raw URL too', vhost => 'i10', path => '/q-nocanon?x=1&access_token=%T',
      token => i10(), status => 200,
      checks => [ query_is('x=1'), no_token_at_backend(), [ 'backend REQUEST_URI', sub { $_[1]{uri} }, '/cgi/echo-i3?x=1' ] ] },
    { name => 'server-level ProxyPass nocanon: the token leaves the raw URL too', vhost => 'i10',
      path => '/q-nc2?x=1&access_token=%T', token => i10(), status => 200,
      checks => [ query_is('x=1'), no_token_at_backend(), [ 'backend REQUEST_URI', sub { $_[1]{uri} }, '/cgi/echo-i3?x=1' ] ] },
    { name => 'CGI behind the gateway: REQUEST_URI without the token', vhost => 'i10', path => '/q-cgi?x=1&access_token=%T',
      token => i10(), status => 200, reach => 1,
      checks => [ query_is('x=1'), no_token_at_backend(), [ 'REQUEST_URI', sub { $_[1]{uri} }, '/q-cgi?x=1' ] ] },
    { name => 'body: bytes after a NUL are forwarded, Content-Length to match', vhost => 'i10', method => 'POST',
      path => '/q', body => "a=1\0b&access_token=%T&c=2", ctype => $FORM, token => i10(), status => 200,
      checks => [ body_is("a=1\0b&c=2"), [ 'Content-Length', sub { $_[1]{content_length} }, 9 ] ] },
    { name => 'body: a token-free form with a NUL is forwarded byte for byte', vhost => 'i10', method => 'POST',
      path => '/q', body => "x=\0y&z=%00", ctype => $FORM, token => i10(), status => 200,
      checks => [ body_is("x=\0y&z=%00"), [ 'Content-Length', sub { $_[1]{content_length} }, 10 ] ] },
    { name => 'body: a gzip form body is forwarded unread', vhost => 'i10', method => 'POST', path => '/q',
      headers => [ 'Content-Encoding' => 'gzip' ], body => $gz, ctype => $FORM, token => i10(), status => 200,
      checks => [ [ 'bytes at the backend', sub { $_[1]{body_len} }, length $gz ],
                  [ 'Content-Length', sub { $_[1]{content_length} }, length $gz ] ] },
);

# --- 12: identity header values ------------------------------------------------------------
push @cases,
    { name => 'claim header: UTF-8 and line separators percent-encoded', vhost => 'i10', path => '/hv',
      token => i10raw(_claims_text(name => "\"Jos\\u00e9\\u2028x\\u0085y 100%\"", groups => '["a\u2029b","c"]')),
      status => 200,
      checks => [ [ 'X-Remote-Name', sub { $_[1]{headers}{'x-remote-name'} // '(none)' }, 'Jos%C3%A9%E2%80%A8x%C2%85y 100%25' ],
                  [ 'X-Remote-Groups', sub { $_[1]{headers}{'x-remote-groups'} // '(none)' }, 'a%E2%80%A9b,c' ] ] },
    { name => 'claim header: a value with CR LF is not sent at all', vhost => 'i10', path => '/hv',
      token => i10raw(_claims_text(name => '"x\r\nX-Injected: 1"')), status => 200,
      checks => [ no_header('x-remote-name'), no_header('x-injected') ] };

sub _claims_text {
    my %extra = @_;
    my $now = time;
    my $t = qq({"iss":"$ISS","aud":"urn:i10","sub":"alice","exp":) . ($now + 600) . qq(,"iat":$now);
    $t .= qq(,"$_":$extra{$_}) for sort keys %extra;
    return "$t}";
}

my $rest_tests = 2        # access log, HTTP/0.9
               + 3        # the token cache and MCPAuthTokenType
               + 3        # mod_cache and DirectoryIndex
               + 5        # mod_cache
               + 4        # internal redirects
               + 5        # CORS
               + 6        # secrets, token cache on the status page
               + 11       # forwarding headers
               + 4        # Host port
               + 9;       # Directory, .htaccess
plan tests => cases_tests(\@cases) + $rest_tests;

run_cases(\@cases);

# --- 3: the access log's request line (%r) has no token ------------------------------------
{
    my $tok = mint(%{ i10(sub => 'logged') });
    my $marker = 'mk' . int(rand 1e9);
    http(GET => 'i10', "/q?$marker=1&access_token=$tok");
    my $line = access_log_line("/q?$marker");
    ok t_cmp(($line && index($line, sig_of($tok)) < 0) ? 'clean' : ($line ? 'token in the log' : 'no log line'),
             'clean', 'access log: the request line lost the query token');
}

# an HTTP/0.9 request line (no protocol) loses the token as well
{
    my $tok = mint(%{ i10(sub => 'zeronine') });
    my $marker = 'nine' . int(rand 1e9);
    raw_http('i10', "GET /q?$marker=1&access_token=$tok\r\n");
    my $line = access_log_line("/q?$marker");
    ok t_cmp(($line && index($line, sig_of($tok)) < 0) ? 'clean' : ($line ? 'token in the log' : 'no log line'),
             'clean', 'access log: an HTTP/0.9 request line lost the query token too');
}

# --- the token cache answers for a key set, not for a location's typ rule -----------------
{
    my $jwt_typ = mint(key => 'rsa1', header => { alg => 'RS256', kid => 'rsa1', typ => 'JWT' },
                       payload => MintToken::claims(-iss => $ISS, -aud => 'urn:i10', sub => 'typ'));
    my $h = [ Authorization => "Bearer $jwt_typ" ];
    ok t_cmp(http(GET => 'i10', '/q', headers => $h)->code, 200, 'typ JWT at a location that takes it (now in the token cache)');
    my $res = http(GET => 'i10', '/typ-strict', headers => $h);
    ok t_cmp($res->code, 401, 'the same token where MCPAuthTokenType at+jwt: still refused');
    ok t_cmp((challenge($res) || {})->{error_description} // '', qr/type/, 'for its type');
}

# --- mod_cache and a DirectoryIndex page (a fast redirect) ----------------------------------
{
    my ($alice, $bob) = mint_many(i10(sub => 'alice'), i10(sub => 'bob'));
    my $res = http(GET => 'i10cq', '/cq/', headers => [ Authorization => "Bearer $alice" ]);
    ok t_cmp($res->decoded_content, qr/user=alice/, 'DirectoryIndex page: alice\'s');
    $res = http(GET => 'i10cq', '/cq/', headers => [ Authorization => "Bearer $bob" ]);
    ok t_cmp($res->decoded_content, qr/user=bob/, 'then bob gets his own, not a stored copy of alice\'s');
    ok t_cmp(http(GET => 'i10cq', '/cq/')->code, 401, 'and without a token: 401');
}

# --- 4: mod_cache never hands one user's answer to another --------------------------------
{
    my ($alice, $bob, $alice2, $bob2) = mint_many(i10(sub => 'alice'), i10(sub => 'bob'), i10(sub => 'alice'),
                                                  i10(sub => 'bob'));
    my $get = sub { my ($tok, $q) = @_; http(GET => 'i10', "/cached$q", headers => [ Authorization => "Bearer $tok" ]) };
    my $q = '?u=' . int(rand 1e9);
    my $a = $get->($alice, $q);
    my $b = $get->($bob, $q);
    ok t_cmp($a->decoded_content, qr/user=alice/, 'mod_cache: alice gets her answer');
    ok t_cmp($b->decoded_content, qr/user=bob/, 'mod_cache: bob gets his, not the copy of alice\'s');
    # the control: a response that allows shared caches (public) is stored
    my $pq = '?cc=public%2Cmax-age%3D300&u=' . int(rand 1e9);
    my $pa = $get->($alice2, $pq);
    my $pb = $get->($bob2, $pq);
    ok t_cmp($pa->decoded_content, qr/user=alice/, 'mod_cache, public: the first answer');
    ok t_cmp($pb->decoded_content, qr/user=alice/, 'mod_cache, public: stored and shared, as the response allowed');
    ok t_cmp(scalar(grep { 1 } read_lines('cacheable-hits.log')), 3, 'mod_cache: the backend was asked three times');
}

# --- 5: an internal redirect into a location with another policy --------------------------
{
    my ($only_a, $both) = mint_many(i10(), i10(-aud => [ 'urn:i10', 'urn:i10-b' ]));
    my $hits = echo_hits();
    my $res = http(GET => 'i10', '/ir-a/nothing-here', headers => [ Authorization => "Bearer $only_a" ]);
    ok t_cmp(is_echo($res) ? 'backend' : 'no backend', 'no backend',
             'ErrorDocument into a location whose audience the token lacks: its backend is not reached');
    ok t_cmp(echo_hits() - $hits, 0, 'no hit at that backend');
    $res = http(GET => 'i10', '/ir-a/nothing-here', headers => [ Authorization => "Bearer $both" ]);
    my $e = echo_of($res) || { headers => {} };
    ok t_cmp($e->{uri} // '(none)', '/cgi/echo-i3/from-a', 'a token for both audiences reaches the ErrorDocument');
    ok t_cmp($e->{headers}{'x-remote-user'} // '(none)', 'alice', 'with the identity, judged by the second location');
}

# --- 9: MCPAuthCORSOrigins is the policy, whatever the backend says ------------------------
{
    my $tok = mint(%{ i10() });
    my $res = http(GET => 'i10', '/cors', headers => [ Authorization => "Bearer $tok", Origin => 'https://evil.example' ]);
    ok t_cmp($res->code, 200, 'CORS: the request itself is answered');
    ok t_cmp(join(',', $res->header('Access-Control-Allow-Origin')), '', 'CORS: an origin not listed is not allowed by the backend either');
    ok t_cmp(join(',', $res->header('Access-Control-Allow-Credentials')), '', 'CORS: nor its credentials flag');
    $res = http(GET => 'i10', '/cors', headers => [ Authorization => "Bearer $tok", Origin => 'https://good.example' ]);
    ok t_cmp(join(',', $res->header('Access-Control-Allow-Origin')), 'https://good.example', 'CORS: a listed origin, once');
    ok t_cmp(join(',', $res->header('Access-Control-Expose-Headers')), qr/X-Backend-Secret/, 'CORS: the backend\'s exposed headers join');
}

# --- 8: secrets in configured URLs stay out of logs and the status page --------------------
{
    my $tok = mint(%{ i10() });
    my $from = error_log_size();
    my $res = http(GET => 'i10', '/secret', headers => [ Authorization => "Bearer $tok" ]);
    ok t_cmp($res->code, 401, 'unreachable keys: 401');
    my $log = error_log_since($from, qr/MCPAUTH0013/, 5);
    ok t_cmp(($log =~ /MCPAUTH0013/ ? 'logged' : 'not logged') . ($log =~ /s3cret/ ? ', with the secret' : ''),
             'logged', 'MCPAUTH0013 is logged without the userinfo or query');
    my $status = http(GET => 'i10', '/i10-status')->decoded_content;
    ok t_cmp($status =~ /s3cret/ ? 'secret shown' : 'redacted', 'redacted', 'status page: no userinfo, no query secret');
    ok t_cmp($status, qr{http://\*\*\*\@localhost:\d+/no-such-jwks\.json\?\*\*\*}, 'status page: the URL, redacted');
    my $tc = (eval { JSON::PP->new->decode($status) } || {})->{token_cache} || {};
    ok t_cmp($tc->{budget} // '(none)', 8388608, 'status page: the token cache budget (MCPAuthTokenCacheSize default)');
    ok t_cmp(defined $tc->{bytes} && $tc->{bytes} <= $tc->{budget} ? 'within' : 'over', 'within', 'and the bytes this process holds, within it');
}

# --- 1: forwarding headers count only as the trusted proxy appended them -------------------
{
    my $prm = sub { my ($vhost, $path, @h) = @_; my $r = http(GET => $vhost, "$PRM$path", headers => \@h); (json_of($r) || {}, $r) };
    my ($d, $r) = $prm->('i10', '/fwd-ip', 'X-Forwarded-Host' => 'evil.example, mcp.example.com',
                         'X-Forwarded-Proto' => 'http, https');
    ok t_cmp($d->{resource}, 'https://mcp.example.com/fwd-ip', 'trusted peer: the last X-Forwarded-* values');
    ok t_cmp(join(',', $r->header('Vary')), qr/X-Forwarded-Host/, 'the document varies with X-Forwarded-Host');
    ($d) = $prm->('i10', '/fwd-rfc', Forwarded => 'host=evil.example;proto=http, for=127.0.0.1;host="mcp2.example.com";proto=https');
    ok t_cmp($d->{resource}, 'https://mcp2.example.com/fwd-rfc', 'MCPAuthForwardedHeader Forwarded: the last element');
    ($d) = $prm->('i10', '/fwd-rfc', 'X-Forwarded-Host' => 'evil.example');
    ok t_cmp($d->{resource}, url('i10', '/fwd-rfc'), 'and X-Forwarded-* (the client\'s, then) is ignored');
    ($d) = $prm->('i10', '/fwd-ip', Forwarded => 'host=evil.example');
    ok t_cmp($d->{resource}, url('i10', '/fwd-ip'), 'X-Forwarded mode: a Forwarded header is the client\'s, ignored');
    ($d) = $prm->('i10', '/fwd-ip', 'X-Forwarded-Proto' => 'https', Forwarded => 'host=evil.example');
    ok t_cmp($d->{resource}, 'https://localhost/fwd-ip', 'a proxy that says only the scheme (AWS ALB): that scheme, our host');
    ($d) = $prm->('i10', '/fwd-other', 'X-Forwarded-Host' => 'evil.example');
    ok t_cmp($d->{resource}, url('i10', '/fwd-other'), 'a peer outside MCPAuthTrustForwarded\'s addresses: ignored');
    # a real second hop: i10front's mod_proxy appends its own X-Forwarded-Host
    ($d) = $prm->('i10front', '/fwd-ip', 'X-Forwarded-Host' => 'evil.example');
    my $front = url('i10front', '/fwd-ip');
    ok t_cmp($d->{resource}, $front, 'through a proxy that appends: the client\'s value loses');
    my ($for_evil, $for_front) = mint_many(i10(-aud => 'http://evil.example/fwd-ip'), i10(-aud => $front));
    my $res = http(GET => 'i10front', '/fwd-ip', headers => [ 'X-Forwarded-Host' => 'evil.example',
                                                             Authorization => "Bearer $for_evil" ]);
    ok t_cmp($res->code, 401, 'a token for the client-chosen host is refused');
    my $c = challenge($res) || {};
    ok t_cmp($c->{resource_metadata} // '', url('i10front', "$PRM/fwd-ip"), 'the challenge names the real metadata URL');
    $res = http(GET => 'i10front', '/fwd-ip', headers => [ 'X-Forwarded-Host' => 'evil.example',
                                                          Authorization => "Bearer $for_front" ]);
    ok t_cmp($res->code, 200, 'a token for the proxy\'s own URL is accepted');
}

# --- 2: the port comes from the server, not from Host --------------------------------------
{
    my $real = url('i10', '/port');
    my ($forged, $right) = mint_many(i10(-aud => 'http://localhost:9999/port'), i10(-aud => $real));
    my $res = http(GET => 'i10', '/port', headers => [ Host => 'localhost:9999', Authorization => "Bearer $forged" ]);
    ok t_cmp($res->code, 401, 'Host with another port: a token for that port is refused');
    ok t_cmp((challenge($res) || {})->{resource_metadata} // '', url('i10', "$PRM/port"), 'the challenge keeps the real port');
    my $d = json_of(http(GET => 'i10', "$PRM/port", headers => [ Host => 'localhost:9999' ])) || {};
    ok t_cmp($d->{resource}, $real, 'the metadata keeps the real port');
    $res = http(GET => 'i10', '/port', headers => [ Host => 'localhost:9999', Authorization => "Bearer $right" ]);
    ok t_cmp($res->code, 200, 'a token for the real URL is accepted whatever port Host names');
}

# --- 7: <Directory> and .htaccess never show a filesystem path -----------------------------
{
    my $fx = MintToken::fixtures_dir();
    my $res = http(GET => 'i10', '/dir/index.txt');
    ok t_cmp($res->code, 401, '<Directory> with MCPAuthResource: 401 without a token');
    my $c = challenge($res) || {};
    ok t_cmp($c->{resource_metadata} // '', url('i10', "$PRM/dir"), 'the challenge names the URL-space metadata');
    ok t_cmp((json_of(http(GET => 'i10', "$PRM/dir")) || {})->{resource}, url('i10', '/dir'), 'which is served');
    my $tok = mint(%{ i10(-aud => url('i10', '/dir')) });
    $res = http(GET => 'i10', '/dir/index.txt', headers => [ Authorization => "Bearer $tok" ]);
    ok t_cmp($res->decoded_content, qr/directory content/, 'a token for that resource opens the directory');

    write_htaccess("$fx/i10ht", '');
    my $from = error_log_size();
    $res = http(GET => 'i10', '/ht/anything');
    ok t_cmp($res->code, 500, '.htaccess without MCPAuthResource: 500');
    ok t_cmp(index($res->as_string, $fx) < 0 ? 'no path' : 'path shown', 'no path', 'and no filesystem path in the answer');
    ok t_cmp(error_log_since($from, qr/MCPAUTH0029/), qr/MCPAUTH0029.*MCPAuthResource/, 'the log says what to set');
    write_htaccess("$fx/i10ht", 'MCPAuthResource ' . url('i10', '/ht'));
    $res = http(GET => 'i10', '/ht/anything');
    $c = challenge($res) || {};
    ok t_cmp($c->{resource_metadata} // '', url('i10', "$PRM/ht"), '.htaccess with MCPAuthResource: a URL-space challenge');
    ok t_cmp(index($res->as_string, $fx) < 0 ? 'no path' : 'path shown', 'no path', 'and still no filesystem path');
}

sub write_htaccess {
    my ($dir, $extra) = @_;
    open my $fh, '>', "$dir/.htaccess.tmp" or die "$dir: $!";
    print $fh "AuthType MCP\nMCPAuthIssuer $ISS\nMCPAuthJWKSURI " . url('i10idp', '/jwks.json')
              . "\n$extra\nRequire valid-user\n";
    close $fh;
    chmod 0644, "$dir/.htaccess.tmp";
    rename "$dir/.htaccess.tmp", "$dir/.htaccess" or die "rename: $!";
}
