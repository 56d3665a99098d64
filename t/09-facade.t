# Authorization-server metadata facade (every URL form), MCPAuthProvider
# quirks, the registration proxy and the local registration endpoint, Entra's
# shims and issuer forms, MCPAuthResourceMetadata, and which host names build
# the external URLs (ServerName, UseCanonicalName, MCPAuthTrustForwarded).
# Config: t/conf/issue5.conf.in; fixture IdP: t/cgi-bin/idp5.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test;
use Apache::TestUtil;
use HTTP::Request ();
use JSON::PP ();
use LWP::UserAgent ();
use URI ();
use URI::Escape ();
use MCPTest;
use RelayTest;
use MintToken;

plan tests => 256;

my $J   = JSON::PP->new->canonical->allow_nonref;
my $AS  = '/.well-known/oauth-authorization-server';
my $OC  = '/.well-known/openid-configuration';
my $PRM = '/.well-known/oauth-protected-resource';
my $EP  = '/.well-known/mcp-auth';
my $TID = '11111111-2222-3333-4444-555555555555';

sub gw     { url('gw5', $_[0]) }
sub iss5   { url('idp5', "/realms/$_[0]") }
sub enc    { $J->encode($_[0]) }

# rq(METHOD, VHOST, PATH, BODY, HEADER => VALUE ...)
sub rq { my ($method, $vhost, $path, @rest) = @_; send_request($method, url($vhost, $path), @rest) }

sub idp_hits { my @l = read_lines('idp5-hits.log'); return @l }
sub hits_since { my $n = shift; my @l = idp_hits(); return @l[ $n .. $#l ] }

# --- generic: the IdP's document, mirrored unchanged, at every URL form ---------------
my $idp_gen = doc_of(rq(GET => 'idp5', '/realms/gen/.well-known/openid-configuration'));
ok t_cmp($idp_gen->{issuer}, iss5('gen'), 'control: the fixture IdP serves its document');
{
    my $n = scalar(my @h = idp_hits());
    for my $path ("$AS/gen", "$OC/gen", "/gen$OC") {
        my $res = rq(GET => 'gw5', $path);
        ok t_cmp($res->code, 200, "generic: GET $path 200 without a token");
        ok t_cmp($res->header('Content-Type') // '', qr{^application/json}, "$path: JSON");
        ok t_cmp(enc(doc_of($res)), enc($idp_gen), "$path: the IdP's document, unchanged");
        ok t_cmp($res->header('Access-Control-Allow-Origin') // '', '*', "$path: any origin by default");
        yes !defined(scalar challenges($res)), "$path: no challenge";
    }
    my @new = grep { m{^GET /realms/gen/\.well-known/openid-configuration$} } hits_since($n);
    ok t_cmp(scalar(@new) <= 1 ? 1 : 0, 1, 'the IdP document is fetched at most once for 3 requests (cached)');
    my $res = rq(GET => 'gw5', "$PRM/gen");
    ok t_cmp(enc(doc_of($res)->{authorization_servers}), enc([ iss5('gen') ]),
             'generic PRM: authorization_servers = [issuer]');
    $res = rq(GET => 'gw5', '/gen', undef);
    ok t_cmp($res->code, 401, 'control: /gen itself still needs a token');
    $res = rq(POST => 'gw5', "$AS/gen", '{}', 'Content-Type' => 'application/json');
    ok t_cmp($res->code, 405, 'POST to the metadata: 405');
}

# Unknown suffixes and the root form on a vhost with several locations.
{
    ok t_cmp(rq(GET => 'gw5', $AS)->code, 404, 'root AS metadata with several protected locations: 404');
    ok t_cmp(rq(GET => 'gw5', "$AS/nope")->code, 404, 'unknown location: 404');
    ok t_cmp(rq(GET => 'gw5', "$OC/nope")->code, 404, 'unknown location (OIDC form): 404');
    ok t_cmp(rq(GET => 'gw5', "/nope$OC")->code, 404, 'unknown location (appended form): 404');
    ok t_cmp(rq(GET => 'gw5', "$AS/ge")->code, 404, 'prefix of a location: 404');
}

# --- the relay: where the gateway is the issuer, its metadata names its own endpoints -----
# (the flows themselves are in t/15-relay.t)
sub check_rewritten {
    my ($loc, $what, $static) = @_;
    my $res = rq(GET => 'gw5', "$PRM/$loc");
    my $prm = doc_of($res);
    ok t_cmp(enc($prm->{authorization_servers}), enc([ gw("/$loc") ]),
             "$what PRM: authorization_servers = [the resource URL]");
    ok t_cmp($prm->{resource}, gw("/$loc"), "$what PRM: resource");
    my $d = doc_of(rq(GET => 'gw5', "$AS/$loc"));
    ok t_cmp($d->{issuer}, $prm->{authorization_servers}[0], "$what facade: issuer = PRM authorization_servers[0]");
    ok t_cmp($d->{authorization_endpoint}, gw("$EP/authorize/$loc"), "$what facade: the gateway's authorization endpoint");
    ok t_cmp($d->{token_endpoint}, gw("$EP/token/$loc"), "$what facade: the gateway's token endpoint");
    ok t_cmp($d->{registration_endpoint}, gw("$EP/register/$loc"), "$what facade: the gateway's registration endpoint");
    ok t_cmp(enc($d->{authorization_response_iss_parameter_supported}), 'true',
             "$what facade: RFC 9207 iss parameter promised (the relay writes it)");
    ok t_cmp(enc($d->{code_challenge_methods_supported}), '["S256"]', "$what facade: S256 only");
    ok t_cmp(enc($d->{token_endpoint_auth_methods_supported}), '["none"]', "$what facade: public clients");
    # a CIMD client uses the static client, or where there is none the gateway's own client at
    # the IdP, which registers clients in every realm of the fixture
    ok t_cmp(enc($d->{client_id_metadata_document_supported}), 'true',
             "$what facade: CIMD " . ($static ? 'accepted (MCPAuthClientID)' : 'accepted (the gateway\'s own IdP client)'));
    ok t_cmp($d->{jwks_uri}, url('idp5', '/jwks'), "$what facade: other fields kept (jwks_uri)");
    ok t_cmp($d->{idp5_marker}, "realm $loc", "$what facade: the IdP's own fields kept");
    return $d;
}
for my $c ([ 'kc', 'keycloak' ], [ 'a0', 'auth0' ], [ 'okta', 'okta' ], [ 'entra', 'entra', 1 ],
           [ 'ak', 'authentik', 1 ], [ 'cid', 'generic + MCPAuthClientID', 1 ]) {
    check_rewritten(@$c);
}
{
    for my $path ("$OC/kc", "/kc$OC") {
        ok t_cmp(enc(doc_of(rq(GET => 'gw5', $path))), enc(doc_of(rq(GET => 'gw5', "$AS/kc"))),
                 "keycloak: $path is the same document");
    }
    my $body = '{"client_name":"e2e","redirect_uris":["http://127.0.0.1:33418/cb"]}';
    my $n = scalar(my @h = idp_hits());
    my $res = rq(POST => 'gw5', "$EP/register/kc", $body,
                 'Content-Type' => 'application/json', Authorization => 'Bearer initial-access-token',
                 Origin => 'https://app.example');
    ok t_cmp($res->code, 201, 'keycloak: registration 201');
    ok t_cmp($res->header('Content-Type') // '', qr{^application/json}, 'JSON answer');
    my $r = doc_of($res);
    ok t_cmp(length($r->{client_id} // '') > 40 && $r->{client_id} !~ /idp5/ ? 'sealed' : $r->{client_id} // '',
             'sealed', 'the client id is the gateway\'s (the IdP\'s registration sealed inside)');
    ok t_cmp(enc($r->{redirect_uris}), '["http://127.0.0.1:33418/cb"]', 'the client\'s redirect URIs');
    ok t_cmp($r->{token_endpoint_auth_method}, 'none', 'a public client');
    my $idp = $J->decode(join '', read_lines('idp5-last-register.json'));
    my $sent = eval { $J->decode($idp->{body}) } || {};
    ok t_cmp(enc($sent->{redirect_uris}), enc([ gw("$EP/callback/kc") ]),
             'the IdP registered the gateway\'s callback as the only redirect URI');
    ok t_cmp($sent->{client_name}, 'e2e', 'with the client\'s metadata');
    ok t_cmp($idp->{authorization}, 'Bearer initial-access-token', 'initial access token forwarded');
    ok t_cmp($idp->{forwarded_for}, qr/(^|, )127\.0\.0\.1$/, 'the IdP learns the client address (X-Forwarded-For)');
    ok t_cmp($res->header('Access-Control-Allow-Origin') // '', '*', 'registration answer: CORS');
    ok t_cmp(scalar(grep { $_ eq 'POST /realms/kc/register' } hits_since($n)), 1, 'one POST at the IdP registration endpoint');
    $res = rq(POST => 'gw5', "$EP/register/kc", $body, 'Content-Type' => 'application/json',
              'X-Forwarded-For' => '192.0.2.7');
    $idp = $J->decode(join '', read_lines('idp5-last-register.json'));
    ok t_cmp($idp->{forwarded_for}, '192.0.2.7, 127.0.0.1', 'X-Forwarded-For appended to the one that came in');

    $res = rq(POST => 'gw5', "$EP/register/kc", '{"client_name":"fail","redirect_uris":["http://127.0.0.1/cb"]}',
              'Content-Type' => 'application/json');
    ok t_cmp($res->code, 400, 'IdP refusal: its status passes through');
    ok t_cmp(doc_of($res)->{error}, 'invalid_client_metadata', 'and its JSON');
    $n = scalar(@h = idp_hits());
    $res = rq(POST => 'gw5', "$EP/register/kc", '{"redirect_uris":["http://evil.example/cb"]}',
              'Content-Type' => 'application/json');
    ok t_cmp($res->code . ' ' . doc_of($res)->{error}, '400 invalid_redirect_uri',
             'http to a host that is not loopback: refused by the gateway');
    ok t_cmp(scalar(grep { /register/ } hits_since($n)), 0, 'without asking the IdP');
    $res = rq(POST => 'gw5', "$EP/register/kc", '{"x":"' . ('a' x (70 * 1024)) . '"}',
              'Content-Type' => 'application/json');
    ok t_cmp($res->code, 413, 'registration body over 64 KiB: 413');
    ok t_cmp(rq(GET => 'gw5', "$EP/register/kc")->code, 405, 'GET on the registration endpoint: 405');
    ok t_cmp(rq(POST => 'gw5', "$EP/register/nope", '{}', 'Content-Type' => 'application/json')->code, 404,
             'registration for an unknown location: 404');
    $n = scalar(@h = idp_hits());
    $res = rq(POST => 'gw5', "$EP/register/kcdeny", $body, 'Content-Type' => 'application/json');
    ok t_cmp($res->code, 403, '<Location> Require all denied on a registration endpoint: 403');
    ok t_cmp(scalar(grep { /register/ } hits_since($n)), 0, 'and the IdP is not asked');
    ok t_cmp(rq(POST => 'gw5', "$EP/register/gen", $body, 'Content-Type' => 'application/json')->code, 404,
             'no registration endpoint for a generic location that never advertised one: 404');
    ok t_cmp(rq(GET => 'gw5', "$EP/authorize/gen?client_id=x")->code, 404, 'nor an authorize endpoint: 404');
    $n = scalar(@h = idp_hits());
    $res = rq(POST => 'gw5root', "$EP/register", $body, 'Content-Type' => 'application/json');
    ok t_cmp($res->code, 201, 'AuthType MCP on "/": registration needs no token');
    ok t_cmp(scalar(grep { $_ eq 'POST /realms/kc/register' } hits_since($n)), 1, 'and reaches the IdP');
    $res = rq(GET => 'gw5root', '/anything');
    ok t_cmp($res->code, 401, 'AuthType MCP on "/": the rest still needs a token');
    ok t_cmp(rq(GET => 'gw5root', "$EP/registerx")->code, 401, 'a path that only looks like an endpoint is no exception');
}

# --- local registration (MCPAuthClientID): the IdP is not asked ---------------------------
for my $c ([ 'ak', 'authentik' ], [ 'cid', 'generic + MCPAuthClientID' ], [ 'entra', 'entra + MCPAuthClientID' ]) {
    my ($loc, $what) = @$c;
    my $n = scalar(my @h = idp_hits());
    my $res = rq(POST => 'gw5', "$EP/register/$loc",
                 '{"client_name":"My Client","client_id":"chosen-by-caller","redirect_uris":["http://127.0.0.1:33418/cb","https://app.example/cb"]}',
                 'Content-Type' => 'application/json', Origin => 'https://app.example');
    ok t_cmp($res->code, 201, "$what: registration 201");
    my $r = doc_of($res);
    ok t_cmp(($r->{client_id} // '') ne 'chosen-by-caller' && length($r->{client_id} // '') > 40 ? 'sealed' : $r->{client_id},
             'sealed', "$what: the gateway's sealed client id (not the caller's)");
    ok t_cmp(enc($r->{redirect_uris}), '["http://127.0.0.1:33418/cb","https://app.example/cb"]', "$what: the caller's redirect_uris");
    ok t_cmp($r->{client_name}, 'My Client', "$what: client_name echoed");
    ok t_cmp($r->{token_endpoint_auth_method}, 'none', "$what: public client");
    ok t_cmp($r->{client_id_issued_at} // '', qr/^\d+$/, "$what: client_id_issued_at");
    ok t_cmp($res->header('Access-Control-Allow-Origin') // '', '*', "$what: CORS");
    ok t_cmp(scalar(grep { /register/ } hits_since($n)), 0, "$what: the IdP is not asked");
}
{
    for my $bad ([ '{}', 'no redirect_uris' ], [ '{"redirect_uris":"http://x/cb"}', 'redirect_uris a string' ],
                 [ '{"redirect_uris":[]}', 'empty redirect_uris' ], [ '{"redirect_uris":[1]}', 'a number in redirect_uris' ],
                 [ '{"redirect_uris":["javascript:alert(1)"]}', 'a javascript: redirect URI' ],
                 [ '{"redirect_uris":["https://app.example/cb#x"]}', 'a redirect URI with a fragment' ]) {
        my $res = rq(POST => 'gw5', "$EP/register/ak", $bad->[0], 'Content-Type' => 'application/json');
        ok t_cmp($res->code, 400, "local registration, $bad->[1]: 400");
        ok t_cmp(doc_of($res)->{error}, 'invalid_redirect_uri', "$bad->[1]: invalid_redirect_uri");
    }
    my $res = rq(POST => 'gw5', "$EP/register/ak", 'not json', 'Content-Type' => 'application/json');
    ok t_cmp($res->code, 400, 'local registration, not JSON: 400');
    ok t_cmp(doc_of($res)->{error}, 'invalid_client_metadata', 'not JSON: invalid_client_metadata');
    $res = rq(POST => 'gw5', "$EP/register/ak", '{"redirect_uris":["http://127.0.0.1/cb"],"p":"' . ('a' x (70 * 1024)) . '"}',
              'Content-Type' => 'application/json');
    ok t_cmp($res->code, 413, 'local registration over 64 KiB: 413');
}

# --- the root form on a vhost with one protected location ------------------------------
{
    my $res = rq(GET => 'gw5one', $AS);
    ok t_cmp($res->code, 200, 'root /.well-known/oauth-authorization-server with one location: 200');
    my $d = doc_of($res);
    ok t_cmp($d->{issuer}, url('gw5one', '/solo'), 'root form: the facade of that location');
    ok t_cmp($d->{registration_endpoint}, url('gw5one', "$EP/register/solo"), 'root form: its registration endpoint');
    for my $path ("$AS/solo", "$OC/solo", "/solo$OC") {
        ok t_cmp(enc(doc_of(rq(GET => 'gw5one', $path))), enc($d), "one location: $path is the same document");
    }
    ok t_cmp(rq(GET => 'gw5one', $OC)->code, 404, 'root openid-configuration is not a facade form: 404');
}

# --- IdP unreachable or unusable, nothing cached: 503 JSON, never an empty 500 ---------
for my $c ([ 'unreach', 'IdP unreachable' ], [ 'wrongiss', 'IdP document with another issuer' ],
           [ 'garbage', 'IdP document not JSON' ]) {
    my ($loc, $what) = @$c;
    for my $path ("$AS/$loc", "/$loc$OC") {
        my $res = rq(GET => 'gw5', $path);
        ok t_cmp($res->code, 503, "$what: $path 503");
        ok t_cmp($res->header('Retry-After') // '', qr/^\d+$/, "$what: Retry-After");
        ok t_cmp($res->header('Content-Type') // '', qr{^application/json}, "$what: JSON");
        ok t_cmp(doc_of($res)->{error}, 'temporarily_unavailable', "$what: error temporarily_unavailable");
    }
}
{
    my $log = error_log_size();
    my $res = rq(POST => 'gw5', "$EP/register/unreach", '{"redirect_uris":["http://127.0.0.1/cb"]}',
                 'Content-Type' => 'application/json');
    ok t_cmp($res->code, 503, 'registration proxy with the IdP unreachable: 503');
    ok t_cmp(doc_of($res)->{error}, 'temporarily_unavailable', 'temporarily_unavailable');
    ok t_cmp(error_log_since($log, qr/MCPAUTH0030/), qr/MCPAUTH0030/, 'logged as MCPAUTH0030');
}

# --- served stale while the IdP fails --------------------------------------------------
{
    unlink state_file('idp5-down-flaky');
    my $res = rq(GET => 'gw5', "$AS/flaky");
    ok t_cmp($res->code, 200, 'flaky IdP up: 200');
    my $good = enc(doc_of($res));
    write_state('idp5-down-flaky', "1\n");
    sleep 2;    # past its 1 s lifetime (MCPAuthJWKSRefresh 1 1)
    my $n = scalar(my @h = idp_hits());
    $res = rq(GET => 'gw5', "$AS/flaky");
    ok t_cmp($res->code, 200, 'IdP now failing, document expired: still 200 (stale copy)');
    ok t_cmp(enc(doc_of($res)), $good, 'the last good document');
    ok t_cmp(scalar(grep { m{^GET /realms/flaky/} } hits_since($n)) >= 1 ? 1 : 0, 1, 'a refetch was tried');
    unlink state_file('idp5-down-flaky');
}

# --- MCPAuthResourceMetadata ---------------------------------------------------------
{
    my $d = doc_of(rq(GET => 'gw5', "$PRM/rm"));
    ok t_cmp($d->{resource}, gw('/rm'), 'resource still derived');
    ok t_cmp($d->{resource_name}, 'Issue 5 MCP', 'field added (string)');
    ok t_cmp($d->{resource_documentation}, 'https://docs.example.test/mcp', 'second field added');
    ok t_cmp(enc($d->{bearer_methods_supported}), '["header","dpop"]', 'generated field overridden');
    ok t_cmp(enc($d->{authorization_servers}), '["https://as.example.test"]', 'authorization_servers overridden');
    ok t_cmp(enc($d->{mcp_extra}), '{"list":[true,null],"n":1}', 'object value kept as JSON');
    ok t_cmp(enc($d->{scopes_supported}), '["mcp:tools"]', 'other generated fields kept');
}

# --- the external URL: ServerName, UseCanonicalName, X-Forwarded-* -------------------
my %FWD = ('X-Forwarded-Proto' => 'https', 'X-Forwarded-Host' => 'gw.example.test');
{
    my $port = port('gw5');
    my $d = doc_of(rq(GET => 'gw5', "$PRM/gen", undef, Host => "unknown.example:$port"));
    ok t_cmp($d->{resource}, gw('/gen'), 'unknown Host: resource from ServerName');
    $d = doc_of(rq(GET => 'gw5', "$PRM/gen", undef, Host => "127.0.0.1:$port"));
    ok t_cmp($d->{resource}, "http://127.0.0.1:$port/gen", 'Host = the local address: used as is');
    $d = doc_of(rq(GET => 'gw5', "$PRM/canon", undef, Host => "127.0.0.1:$port"));
    ok t_cmp($d->{resource}, gw('/canon'), 'UseCanonicalName On: ServerName whatever the Host');
    my $c = challenge(rq(GET => 'gw5', '/canon', undef, Host => "127.0.0.1:$port")) || {};
    ok t_cmp($c->{resource_metadata}, gw("$PRM/canon"), 'UseCanonicalName On: challenge URL from ServerName');
    my ($tok) = mint_many({ key => 'rsa1', header => { alg => 'RS256', kid => 'rsa1' },
                            payload => MintToken::claims(-iss => iss5('gen'), -aud => gw('/canon'), sub => 'cal') });
    ok t_cmp(rq(GET => 'gw5', '/canon', undef, Host => "127.0.0.1:$port", Authorization => "Bearer $tok")->code,
             200, 'UseCanonicalName On: the ServerName URL is the audience accepted');
    # the same at virtual-host level (gw5one)
    my $p1 = port('gw5one');
    $d = doc_of(rq(GET => 'gw5one', "$PRM/solo", undef, Host => "127.0.0.1:$p1"));
    ok t_cmp($d->{resource}, url('gw5one', '/solo'), 'vhost UseCanonicalName On: PRM resource from ServerName');
    $d = doc_of(rq(GET => 'gw5one', $AS, undef, Host => "127.0.0.1:$p1"));
    ok t_cmp($d->{issuer}, url('gw5one', '/solo'), 'vhost UseCanonicalName On: facade issuer from ServerName');
    $c = challenge(rq(GET => 'gw5one', '/solo', undef, Host => "127.0.0.1:$p1")) || {};
    ok t_cmp($c->{resource_metadata}, url('gw5one', "$PRM/solo"), 'vhost UseCanonicalName On: challenge URL');
}
{
    # not trusted (the default): forged headers change nothing
    my $d = doc_of(rq(GET => 'gw5', "$PRM/kc", undef, %FWD));
    ok t_cmp($d->{resource}, gw('/kc'), 'forwarded headers not trusted: resource unchanged');
    ok t_cmp(enc($d->{authorization_servers}), enc([ gw('/kc') ]), 'not trusted: authorization_servers unchanged');
    my $c = challenge(rq(GET => 'gw5', '/kc', undef, %FWD)) || {};
    ok t_cmp($c->{resource_metadata}, gw("$PRM/kc"), 'not trusted: challenge URL unchanged');
    my $f = doc_of(rq(GET => 'gw5', "$AS/kc", undef, %FWD));
    ok t_cmp($f->{issuer}, gw('/kc'), 'not trusted: facade issuer unchanged');
    ok t_cmp($f->{registration_endpoint}, gw("$EP/register/kc"), 'not trusted: registration endpoint unchanged');
    $d = doc_of(rq(GET => 'gw5', "$PRM/gen", undef, 'X-Forwarded-Host' => 'evil.example'));
    ok t_cmp($d->{resource}, gw('/gen'), 'not trusted: X-Forwarded-Host alone changes nothing');

    # trusted
    $d = doc_of(rq(GET => 'gw5', "$PRM/fwd", undef, %FWD));
    ok t_cmp($d->{resource}, 'https://gw.example.test/fwd', 'MCPAuthTrustForwarded On: resource from the headers');
    ok t_cmp(enc($d->{authorization_servers}), '["https://gw.example.test/fwd"]', 'trusted: authorization_servers too');
    $c = challenge(rq(GET => 'gw5', '/fwd', undef, %FWD)) || {};
    ok t_cmp($c->{resource_metadata}, "https://gw.example.test$PRM/fwd", 'trusted: challenge URL from the headers');
    $f = doc_of(rq(GET => 'gw5', "$AS/fwd", undef, %FWD));
    ok t_cmp($f->{issuer}, 'https://gw.example.test/fwd', 'trusted: facade issuer from the headers');
    ok t_cmp($f->{registration_endpoint}, "https://gw.example.test$EP/register/fwd", 'trusted: registration endpoint too');
    $d = doc_of(rq(GET => 'gw5', "$PRM/fwd", undef, 'X-Forwarded-Proto' => 'https, http',
                   'X-Forwarded-Host' => 'first.example.test, second.example.test'));
    ok t_cmp($d->{resource}, 'http://second.example.test/fwd', 'trusted: the last value of each list (the proxy appends)');
    $d = doc_of(rq(GET => 'gw5', "$PRM/fwd"));
    ok t_cmp($d->{resource}, gw('/fwd'), 'trusted but absent: the request\'s own URL');

    my ($tok_fwd, $tok_local) = mint_many(
        { key => 'rsa1', header => { alg => 'RS256', kid => 'rsa1' },
          payload => MintToken::claims(-iss => iss5('fwd'), -aud => 'https://gw.example.test/fwd', sub => 'fay') },
        { key => 'rsa1', header => { alg => 'RS256', kid => 'rsa1' },
          payload => MintToken::claims(-iss => iss5('kc'), -aud => 'https://gw.example.test/kc', sub => 'kim') },
    );
    my $res = rq(GET => 'gw5', '/fwd', undef, %FWD, Authorization => "Bearer $tok_fwd");
    ok t_cmp($res->code, 200, 'trusted: a token for the forwarded URL is accepted');
    ok t_cmp((echo_of($res) || { headers => {} })->{headers}{'x-remote-user'}, 'fay', 'backend sees its sub');
    $res = rq(GET => 'gw5', '/kc', undef, %FWD, Authorization => "Bearer $tok_local");
    ok t_cmp($res->code, 401, 'not trusted: a token for the forged URL is refused');
}

# --- Entra issuer forms ---------------------------------------------------------------
{
    my $v1 = "https://sts.windows.net/$TID/";
    my $v2 = "https://login.microsoftonline.com/$TID/v2.0";
    my $o1 = 'https://sts.windows.net/99999999-2222-3333-4444-555555555555/';
    my @specs;
    for my $loc ('/ent-v2', '/ent-v1', '/ent-gen') {
        for my $iss ($v1, $v2, $o1, "https://login.microsoftonline.com/$TID/") {
            push @specs, { key => 'rsa1', header => { alg => 'RS256', kid => 'rsa1' },
                           payload => MintToken::claims(-iss => $iss, -aud => gw($loc), sub => 'eve') };
        }
    }
    my @t = mint_many(@specs);
    my $call = sub { rq(GET => 'gw5', $_[0], undef, Authorization => "Bearer $_[1]") };
    my $seen = sub { (echo_of($_[0]) || { headers => {} })->{headers}{'x-token-issuer'} // '' };
    my $res = $call->('/ent-v2', $t[0]);
    ok t_cmp($res->code, 200, 'entra, v2 issuer configured: v1 token accepted');
    ok t_cmp($seen->($res), $v1, 'its iss reaches the backend');
    ok t_cmp($call->('/ent-v2', $t[1])->code, 200, 'entra, v2 issuer configured: v2 token accepted');
    ok t_cmp($call->('/ent-v2', $t[2])->code, 401, 'entra: v1 token of another tenant refused');
    ok t_cmp($call->('/ent-v2', $t[3])->code, 401, 'entra: login.microsoftonline.com without /v2.0 refused');
    ok t_cmp($call->('/ent-v1', $t[4])->code, 200, 'entra, v1 issuer configured: v1 token accepted');
    ok t_cmp($call->('/ent-v1', $t[5])->code, 200, 'entra, v1 issuer configured: v2 token accepted');
    ok t_cmp($call->('/ent-v1', $t[6])->code, 401, 'entra, v1 configured: other tenant refused');
    ok t_cmp($call->('/ent-gen', $t[8])->code, 401, 'generic provider, v2 issuer: v1 token refused');
    ok t_cmp($call->('/ent-gen', $t[9])->code, 200, 'generic provider, v2 issuer: v2 token accepted');
}

# --- 405 answers name the methods that are allowed (RFC 9110 §15.5.6) ----------------
for my $c ([ POST => "$PRM/kc", 'GET' ], [ POST => "$AS/kc", 'GET' ], [ GET => "$EP/register/kc", 'POST' ],
           [ GET => "$EP/token/entra", 'POST' ], [ PUT => "$EP/authorize/entra", 'GET' ]) {
    my ($m, $path, $allowed) = @$c;
    my $res = rq($m => 'gw5', $path, $m eq 'POST' ? '{}' : undef, 'Content-Type' => 'application/json');
    ok t_cmp($res->code, 405, "$m $path: 405");
    ok t_cmp($res->header('Allow') // '', qr/\b$allowed\b/, "$m $path: Allow lists $allowed");
}

# --- a token through a facade location: discovery gives the keys ---------------------
{
    my ($tok) = mint_many({ key => 'rsa1', header => { alg => 'RS256', kid => 'rsa1' },
                            payload => MintToken::claims(-iss => iss5('kc'), -aud => gw('/kc'), sub => 'kat') });
    my $res = rq(GET => 'gw5', '/kc', undef, Authorization => "Bearer $tok");
    ok t_cmp($res->code, 200, 'keycloak location: a token accepted (keys through discovery)');
    ok t_cmp((echo_of($res) || { headers => {} })->{headers}{'x-remote-user'}, 'kat', 'backend sees its sub');
}
