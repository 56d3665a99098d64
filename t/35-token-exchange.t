# Tokens for the backend (MCPAuthTokenExchange, RFC 8693 and Entra's
# on-behalf-of flow) as a client, a backend and an administrator see them:
# the fixture token endpoint (t/cgi-bin/introspect, /realms/R/token) checks
# the gateway's client, logs every request, and answers a fresh token each
# time, or fails as the test wants; the echo backend shows what reached it.
# Config: the /xchg* locations of t/conf/issue18i.conf.in (vhost i18i).
#
#  a. the backend gets a token of its own, never the client's; the request
#     to the IdP (RFC 8693 §2.1) and the gateway's client (Basic)
#  b. the shared cache: the same token and target, one exchange; parallel
#     requests with a new token, one exchange; a short-lived token is
#     exchanged again before it ends
#  c. refusals: 403 with a JSON-RPC error, the IdP's reason in the log, the
#     backend not reached, a refusal remembered briefly
#  d. outages and unusable answers: 503 with Retry-After, within the fetch
#     timeout; the failure marked, others failing fast
#  e. header=, on-behalf-of (grant= and MCPAuthProvider entra),
#     private_key_jwt, the token endpoint by discovery, MCP rules first
#  f. no token in the shared cache or the error log
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test;
use Apache::TestUtil;
use IO::Socket::INET ();
use JSON::PP ();
use Time::HiRes qw(time sleep);
use MCPTest;
use MintToken;
use CacheTest qw(concurrent summarize shared_memory);

my $J      = JSON::PP->new->canonical;
my $AUD    = 'urn:i18i';
my $SECRET = "p\@ss:w/rd+&=x%";           # fixtures/i18i/secret.txt (t/TEST.PL)
my $RFC8693 = 'urn:ietf:params:oauth:grant-type:token-exchange';
my $JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

sub iss_of { url('i18iidp', "/realms/$_[0]") }
sub realm { my ($realm, %c) = @_; write_state("intro-$realm.json", $J->encode(\%c)) }
sub hits { map { $J->decode($_) } grep { /\S/ } read_lines("intro-$_[0].hits") }
sub exchanges { my ($realm, $token) = @_; scalar grep { defined $_->{grant} && ($_->{token} // '') eq $token } hits($realm) }
sub last_request { my $t = join '', read_lines("intro-$_[0]-last.json"); $t ? $J->decode($t) : {} }

my @ALL_TOKENS;     # every token the clients sent, and every one the backend got
my $n = 0;
sub jwt_for {
    my ($user, $realm) = @_;
    my $t = mint(key => 'rsa1', header => { alg => 'RS256', kid => 'rsa1' },
                 payload => claims(-iss => iss_of($realm // 'main'), -aud => $AUD, sub => $user,
                                   jti => sprintf('x19-%d-%d', $$, ++$n)));
    push @ALL_TOKENS, $t;
    return $t;
}

sub bearer { my ($path, $token, @h) = @_; req(GET => 'i18i', $path, Authorization => "Bearer $token", @h) }

# A JSON-RPC request, as an MCP client POSTs it.
sub rpc {
    my ($path, $token, $id, $method, $params) = @_;
    my $ua = LWP::UserAgent->new(timeout => 30, keep_alive => 0);
    return $ua->post(url('i18i', $path), 'Content-Type' => 'application/json',
                     Accept => 'application/json, text/event-stream', 'MCP-Protocol-Version' => '2025-06-18',
                     Authorization => "Bearer $token",
                     Content => $J->encode({ jsonrpc => '2.0', id => $id, method => $method, params => $params // {} }));
}

# What the backend got as its token ("Bearer ..."), or why there is none.
sub backend_token {
    my $res = shift;
    my $e = echo_of($res) or return 'not reached (' . $res->code . ')';
    my $a = $e->{headers}{authorization} // return 'no Authorization';
    push @ALL_TOKENS, $1 if $a =~ /^Bearer (\S+)$/;
    return $a;
}

# A refusal as a client sees it: status, JSON-RPC error code, data.error.
sub refusal {
    my $res = shift;
    my $d = eval { $J->decode($res->decoded_content) } // {};
    return join ' ', $res->code, $d->{error}{code} // '-', $d->{error}{data}{error} // '-';
}


realm('xa', basic => "gw-xchg:$SECRET");
realm($_, basic => "gw-xchg:$SECRET") for qw(xheader xobo xdisco xrules);
realm('xflight', basic => "gw-xchg:$SECRET", mode => 'slow 2');
realm('xrefused', basic => "gw-xchg:$SECRET", mode => 'status 400 invalid_target');
realm('xunauth', basic => "gw-xchg:$SECRET", mode => 'status 400 unauthorized_client');
realm('x500', basic => "gw-xchg:$SECRET", mode => 'status 500');
realm('xhtml', basic => "gw-xchg:$SECRET", mode => 'html');
realm('xslow', basic => "gw-xchg:$SECRET", mode => 'slow 8');
realm('xdpop', basic => "gw-xchg:$SECRET", token_type => 'DPoP');
realm('xinject', basic => "gw-xchg:$SECRET", mode => 'inject');
realm('xshort', basic => "gw-xchg:$SECRET", expires_in => 4);
realm('xbig', basic => "gw-xchg:$SECRET", pad => 12000);
realm('ec', jwt => { client => 'gw-ec', alg => 'ES256', pub => fixtures_dir() . '/i18i/ec.pub.pem' });

plan tests => 79;

my $log_start = error_log_size();

# --- a. a token of its own ---------------------------------------------------------
my ($first_token, $alice);
{
    $alice = jwt_for('x-alice');
    my $res = bearer('/xchg', $alice, 'X-Remote-User' => 'mallory');
    ok t_cmp($res->code, 200, 'a valid token at an exchanging location: 200');
    my $e = echo_of($res) || {};
    ok t_cmp($e->{headers}{'x-remote-user'} // '(none)', 'x-alice', 'the identity headers still say who (the client\'s sub)');
    $first_token = backend_token($res);
    ok t_cmp($first_token, qr/^Bearer xt-xa-\d+-[0-9a-f]{8}$/, 'the backend gets the token the IdP issued, as Bearer');
    ok t_cmp(index($first_token, $alice) < 0 ? 'not the client\'s' : 'the client\'s', 'not the client\'s',
             'the client\'s own token never reaches the backend');
    my $q = last_request('xa');
    my %p = %{ $q->{params} // {} };
    ok t_cmp(join(' ', $q->{method} // '', $q->{content_type} // '', $q->{accept} // ''),
             'POST application/x-www-form-urlencoded application/json', 'the exchange: a form POST asking for JSON');
    ok t_cmp($p{grant_type} // '(none)', $RFC8693, 'grant_type token-exchange (RFC 8693 §2.1)');
    ok t_cmp(($p{subject_token} // '') eq $alice ? 'the client\'s token' : 'something else', 'the client\'s token',
             'subject_token: the client\'s validated token');
    ok t_cmp(join(' ', $p{subject_token_type} // '-', $p{requested_token_type} // '-'),
             'urn:ietf:params:oauth:token-type:access_token urn:ietf:params:oauth:token-type:access_token',
             'subject and requested token types: access tokens');
    ok t_cmp(join(' | ', $p{audience} // '-', $p{resource} // '-', $p{scope} // '-'),
             'urn:tickets | https://tickets.example/api | tickets:read tickets:write tickets:admin',
             'audience, resource and every scope= joined, as configured');
    ok t_cmp($q->{authorization} // '', qr/^Basic /, 'the gateway authenticates as MCPAuthTokenExchangeClient (Basic)');

    my $again = bearer('/xchg', $alice);
    ok t_cmp(backend_token($again), $first_token, 'the same token again: the kept exchanged token');
    ok t_cmp(exchanges('xa', $alice), 1, 'one exchange for both requests');

    my $bob = jwt_for('x-bob');
    my $other = backend_token(bearer('/xchg', $bob));
    ok t_cmp($other ne $first_token && $other =~ /^Bearer xt-/ ? 'its own' : $other, 'its own',
             'another user\'s token: another exchange, another backend token');

    # an opaque client token (introspected at realm main) is traded the same way
    my $opaque = sprintf('op.x19-%d-%08x', $$, int(rand(2**32)));
    push @ALL_TOKENS, $opaque;
    write_state('intro-tokens.json', $J->encode({ $opaque => { active => JSON::PP::true, sub => 'x-opaque', aud => $AUD,
                                                               exp => int(time) + 600, iat => int(time) } }));
    ok t_cmp(backend_token(bearer('/xchg', $opaque)), qr/^Bearer xt-xa-/, 'an opaque token is exchanged too');
    ok t_cmp(exchanges('xa', $opaque), 1, 'its exchange had the opaque token as subject');
}

# --- b. one exchange per token in flight, and again before the end -----------------
{
    my $t = jwt_for('x-flight');
    my $N = 6;
    my ($results) = concurrent(url => url('i18i', '/xchg-flight'), tokens => [ ($t) x $N ], conns => $N);
    ok t_cmp(summarize($results), "200 x$N",
             "$N parallel requests with a new token, the IdP answering after 2 s: all 200");
    ok t_cmp(exchanges('xflight', $t), 1, 'one exchange while the others waited for it');
    ok t_cmp(backend_token(bearer('/xchg-flight', $t)) =~ /^Bearer xt-xflight-/ ? exchanges('xflight', $t) . ' exchange'
             : 'no token', '1 exchange', 'and then the kept token, without another exchange');
    # a big token (12 KiB, as IdPs with many claims issue) is kept as well
    my $b = jwt_for('x-big');
    my $big = backend_token(bearer('/xchg-big', $b));
    ok t_cmp(length($big) > 12000 && backend_token(bearer('/xchg-big', $b)) eq $big ? exchanges('xbig', $b) . ' exchange'
             : 'not kept', '1 exchange', 'a 12 KiB token: forwarded, kept and reused (one exchange)');

    my $s = jwt_for('x-short');
    my $before = backend_token(bearer('/xchg-short', $s));
    # expires_in 4: reused until a second before its end, then exchanged anew
    my $after = poll(15, sub { my $b = backend_token(bearer('/xchg-short', $s)); $b ne $before ? $b : 0 });
    ok t_cmp($after && $after =~ /^Bearer xt-xshort-/ ? 'a new one' : 'the old one', 'a new one',
             'a 4-second token is exchanged again before it ends');
    ok t_cmp(exchanges('xshort', $s), 2, 'two exchanges for that token');
}

# --- c. refusals ------------------------------------------------------------------------
{
    my $t = jwt_for('x-refused');
    my $echo0 = echo_hits();
    my $log = error_log_size();
    my $res = rpc('/xchg-refused', $t, 7, 'tools/list');
    ok t_cmp(refusal($res), '403 -32003 invalid_target', 'the IdP refuses (invalid_target): 403, JSON-RPC -32003');
    my $d = eval { $J->decode($res->decoded_content) } // {};
    ok t_cmp($J->encode([ $d->{jsonrpc} // '-', $d->{id} // '-' ]), '["2.0",7]', 'the error answers the request\'s id');
    ok t_cmp($d->{error}{message} // '', qr/refused a token for the MCP server \(invalid_target\)/,
             'its message says what happened');
    ok t_cmp($res->header('Content-Type') // '', qr{^application/json}, 'a JSON body');
    ok t_cmp(echo_hits(), $echo0, 'the backend was not reached');
    ok t_cmp(error_log_since($log, qr/MCPAUTH0072/, 5), qr/MCPAUTH0072: the IdP refused a token for the MCP server \(invalid_target\) to x-refused for \/xchg-refused/,
             'the error log says why, for whom and where (MCPAUTH0072)');
    ok t_cmp(refusal(bearer('/xchg-refused', $t)), '403 -32003 invalid_target', 'again: the same refusal');
    ok t_cmp(exchanges('xrefused', $t), 1, 'remembered: the IdP was asked once');

    ok t_cmp(refusal(bearer('/xchg-unauthorized', jwt_for('x-u'))), '403 -32003 unauthorized_client',
             'unauthorized_client: 403');
    ok t_cmp(refusal(bearer('/xchg-wrong-secret', jwt_for('x-w'))), '403 -32003 invalid_client',
             'the gateway\'s client refused (a wrong secret, 401 invalid_client): 403');
}

# --- d. outages and unusable answers ------------------------------------------------------
sub unavailable_ok {
    my ($name, $path, $realm, $why) = @_;
    my $t = jwt_for("x-$realm");
    my $echo0 = echo_hits();
    my $log = error_log_size();
    my $started = time;
    my $res = bearer($path, $t);
    my $took = time - $started;
    ok t_cmp(refusal($res), '503 -32003 temporarily_unavailable', "$name: 503 with a JSON-RPC error");
    ok t_cmp($res->header('Retry-After') // '(none)', qr/^[1-9]\d*$/, "$name: Retry-After");
    ok t_cmp(echo_hits(), $echo0, "$name: the backend was not reached");
    ok t_cmp(error_log_since($log, qr/MCPAUTH0073/, 5), $why, "$name: the error log says why (MCPAUTH0073)");
    return ($t, $took);
}
{
    unavailable_ok('the token endpoint answers 500', '/xchg-500', 'x500', qr/MCPAUTH0073: .*HTTP 500/);
    my ($t) = unavailable_ok('the token endpoint answers a login page', '/xchg-html', 'xhtml',
                             qr/MCPAUTH0073: .*without a JSON object/);
    # a quick bad answer rests nobody: the next user's trade is asked anew
    my $before = scalar(my @h = hits('xhtml'));
    bearer('/xchg-html', jwt_for('x-html2'));
    ok t_cmp(scalar(my @h2 = hits('xhtml')) - $before, 1,
             'after a quick bad answer, the next user\'s exchange is asked anew (not failed for the others)');
    unavailable_ok('a DPoP-bound token issued', '/xchg-dpop', 'xdpop', qr/MCPAUTH0073: .*token_type is DPoP, not Bearer/);
    unavailable_ok('a token with a CR LF issued', '/xchg-inject', 'xinject', qr/MCPAUTH0073: .*no usable access_token/);
    my (undef, $took) = unavailable_ok('a token endpoint slower than MCPAuthFetchTimeout 2', '/xchg-slow', 'xslow',
                                       qr/MCPAUTH0073: .*failed/);
    ok t_cmp($took < 7 ? 'within the timeout' : sprintf('%.1f s', $took), 'within the timeout',
             'the slow endpoint is given up on after the fetch timeout (not its 8 s)');
    # a read timeout may be about this one token: the next user is asked anew
    my $asked = scalar(my @s = hits('xslow'));
    bearer('/xchg-slow', jwt_for('x-slow2'));
    ok t_cmp(scalar(my @s2 = hits('xslow')) - $asked, 1, 'after a read timeout, the next user\'s exchange is asked anew');
  SKIP: {
        my $probe = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => 1, Timeout => 2);
        skip('something listens on 127.0.0.1:1', 5) if $probe;
        unavailable_ok('nothing listens at the token endpoint', '/xchg-down', 'down', qr/MCPAUTH0073: .*failed/);
        # an IdP that cannot be reached rests the others: they fail at once
        my $log = error_log_size();
        bearer('/xchg-down', jwt_for('x-down2'));
        ok t_cmp(error_log_since($log, qr/MCPAUTH0073/, 5), qr/could not be reached moments ago/,
                 'moments after a connection refused, others fail at once without trying');
    }
}

# --- e. header=, on-behalf-of, private_key_jwt, discovery, rules ---------------------
{
    my $t = jwt_for('x-header');
    my $e = echo_of(bearer('/xchg-header', $t, 'X-Upstream-Token' => 'forged-by-client')) || {};
    ok t_cmp($e->{headers}{'x-upstream-token'} // '(none)', qr/^xt-xheader-/,
             'header=X-Upstream-Token: the bare token there, the client\'s copy replaced');
    ok t_cmp($e->{headers}{authorization} // '(none)', '(none)', 'and no Authorization header at all');
    $e = echo_of(req(GET => 'i18i', '/xchg-header', 'X-Upstream-Token' => 'forged-by-client')) || {};
    ok t_cmp($e->{headers}{'x-upstream-token'} // '(none)', '(none)',
             'an anonymous request (MCPAuthMode optional): a client\'s X-Upstream-Token never reaches the backend');

    for my $path ('/xchg-obo', '/xchg-entra') {
        my $u = jwt_for('x-obo');
        ok t_cmp(backend_token(bearer($path, $u)), qr/^Bearer xt-xobo-/, "$path: a token for the backend");
        my %p = %{ last_request('xobo')->{params} // {} };
        ok t_cmp(join(' | ', $p{grant_type} // '-', ($p{assertion} // '') eq $u ? 'the user\'s token' : '-',
                      $p{requested_token_use} // '-', $p{scope} // '-', exists $p{subject_token} ? 'subject_token' : '-'),
                 "$JWT_BEARER | the user's token | on_behalf_of | api://tickets/.default | -",
                 $path eq '/xchg-obo' ? 'grant=on-behalf-of: jwt-bearer, the user\'s token as assertion, on_behalf_of, the scope'
                                      : 'MCPAuthProvider entra: on-behalf-of without grant=');
    }

    my $j = jwt_for('x-jwt', 'ec');
    ok t_cmp(backend_token(bearer('/xchg-jwt', $j)), qr/^Bearer xt-ec-/,
             'private_key_jwt (EC P-256): the endpoint accepted the gateway\'s assertion');

    my $d = jwt_for('x-disco', 'xdisco');
    ok t_cmp(backend_token(bearer('/xchg-disco', $d)), qr/^Bearer xt-xdisco-/,
             'no endpoint=: the token_endpoint of the issuer\'s metadata');

    my $r = jwt_for('x-rules');
    my $res = rpc('/xchg-rules', $r, 3, 'tools/call', { name => 'secret_x', arguments => {} });
    my $body = eval { $J->decode($res->decoded_content) } // {};
    ok t_cmp(($body->{error} ? 'denied' : 'not denied') . ', ' . exchanges('xrules', $r) . ' exchanges', 'denied, 0 exchanges',
             'a tool the MCP rules deny: answered by the gateway, no exchange');
    $res = rpc('/xchg-rules', $r, 4, 'tools/call', { name => 'echo', arguments => {} });
    ok t_cmp(backend_token($res), qr/^Bearer xt-xrules-/, 'an allowed tool: exchanged and forwarded');
}

# --- g. another location's backend never gets the token ------------------------------
{
    my $t = jwt_for('x-hop');
    my $res = bearer('/xchg-hop', $t);
    my $e = echo_of($res);
    ok t_cmp($e ? $e->{headers}{authorization} // 'no Authorization' : 'not reached (' . $res->code . ')',
             'no Authorization',
             'a 404 answered by an ErrorDocument in a location without exchange: no token reaches that backend');
    ok t_cmp(exchanges('xa', $t), 1, 'the token was exchanged for /xchg-hop\'s own backend');

    $t = jwt_for('x-out');
    $e = echo_of(bearer('/xchg-out', $t));
    ok t_cmp($e ? $e->{headers}{authorization} // 'no Authorization' : 'not reached',
             'no Authorization', 'an ErrorDocument outside any AuthType MCP location: no token reaches its backend');

    $t = jwt_for('x-notadmin');
    my $echo0 = echo_hits();
    $res = bearer('/xchg-claimself', $t);
    ok t_cmp(sprintf('%d, %d exchanges, backend %s', $res->code, exchanges('xa', $t),
                     echo_hits() > $echo0 ? 'reached' : 'not reached'),
             qr/^40[13], 0 exchanges, backend not reached$/,
             'a refusal answered inside the same location (not authorized again): no exchange, no backend');
}

{
    my $t = jwt_for('x-deny');
    my $res = bearer('/xchg-deny', $t);
    ok t_cmp(backend_token($res), qr/^Bearer xt-xa-/,
             'an ErrorDocument into an exchanging location: its backend gets a token of its own, never none');
    my $raw = bearer('/xchg-raw', jwt_for('x-raw'), ':X_Upstream_Token' => 'forged-1', ':X.Upstream.Token' => 'forged-2',
                     'X-Upstream-Token' => 'forged-3');
    my @got = ($raw->decoded_content // '') =~ /^x[-_.]upstream[-_.]token: (.*)$/mgi;
    ok t_cmp(join('|', @got), qr/^xt-xheader-[^|]+$/,
             'header=X-Upstream-Token, as the backend reads it raw: only the gateway\'s, no client copy spelled with _ or .');
    $raw = req(GET => 'i18i', '/xchg-raw', ':X_Upstream_Token' => 'forged-1', ':X.Upstream.Token' => 'forged-2');
    @got = ($raw->decoded_content // '') =~ /^x[-_.]upstream[-_.]token: (.*)$/mgi;
    ok t_cmp(scalar(@got) ? join('|', @got) : 'none', 'none', 'and without a token, none at all');
}

# --- f. the tokens are kept to themselves ----------------------------------------------
{
    (my $issued = $first_token) =~ s/^Bearer //;
    # readable, and holding the caches: the key set fetched is in them
    my ($where, $data) = shared_memory();
    $data = undef unless defined $data && index($data, '"kid": "rsa1"') + index($data, '"kid":"rsa1"') > -2;
    my @found = grep { index($data // '', $_) >= 0 } @ALL_TOKENS, $issued;
    skip(defined $data ? 0 : 'the shared caches are not readable (/proc/PID/mem of the httpd parent)',
         t_cmp(@found ? 'holds ' . substr($found[0], 0, 24) : 'no token', 'no token',
               sprintf('the shared caches hold no client token and no exchanged one (%d looked for)',
                       scalar(@ALL_TOKENS) + 1)));
    my $text = error_log_since($log_start);
    my @leaked = grep { index($text, $_) >= 0 } @ALL_TOKENS;
    ok t_cmp(scalar(@leaked) ? 'leaked: ' . substr($leaked[0], 0, 24) : 'none', 'none',
             sprintf('none of the %d tokens is in the error log (LogLevel debug, %d bytes)', scalar @ALL_TOKENS, length $text));
}
