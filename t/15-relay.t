# The OAuth relay (issue 11): register, authorize, the IdP's callback and the
# token endpoint, for a location whose IdP registers clients (keycloak), one
# with a static client (consent), and against IdPs that misbehave. The
# fixture IdP (t/cgi-bin/idp5) logs in at once: its /auth redirects back with
# a code. Config: t/conf/issue5.conf.in.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test;
use Apache::TestUtil;
use HTTP::Request ();
use JSON::PP ();
use LWP::UserAgent ();
use Digest::SHA ();
use MIME::Base64 ();
use URI ();
use MCPTest;
use RelayTest;

my $J  = JSON::PP->new->canonical;
# PKCE: a verifier and its S256 challenge (RFC 7636 §4.2)
my $VERIFIER = 'v' x 43;
my $CHALLENGE = pkce_challenge($VERIFIER);


sub gw     { url('gw5', $_[0]) }
sub iss5   { url('idp5', "/realms/$_[0]") }

# rq(METHOD, URL-or-PATH, BODY, HEADER => VALUE ...) on gw5
sub rq { my ($method, $path, @rest) = @_; send_request($method, $path =~ m{^https?://} ? $path : gw($path), @rest) }
sub register {
    my ($loc, %meta) = @_;
    my $res = rq(POST => "$EP/register/$loc", $J->encode({ redirect_uris => [ $CB ], client_name => 'Relay test', %meta }),
                 'Content-Type' => 'application/json');
    return doc_of($res)->{client_id};
}
sub authorize_query {
    my %p = (response_type => 'code', redirect_uri => $CB, state => 'client-state-1', code_challenge => $CHALLENGE,
             code_challenge_method => 'S256', scope => 'openid mcp:tools', @_);
    return form(map { $_ => $p{$_} } sort keys %p);
}
sub last_json { my $t = join '', read_lines(shift); $t ? $J->decode($t) : {} }
# The cookie the relay binds a login to this browser with.
sub login_cookie { my ($c) = grep { /^mcp_auth_[0-9a-f]{8}_login_/ } $_[0]->header('Set-Cookie'); ($c // '') =~ /^([^;]+)/ ? $1 : '' }

plan tests => 100;

# --- a whole login, keycloak mode (the IdP registers a client per MCP client) -----------
my $client = register('kc');
ok t_cmp(length($client // ''), qr/^\d{2,}$/, 'registered');
my $res = rq(GET => "$EP/authorize/kc?" . authorize_query(client_id => $client, resource => gw('/kc')));
ok t_cmp($res->code, 302, 'authorize: 302');
my $to = URI->new($res->header('Location') // '');
my $q = qparams($to);
ok t_cmp($to->scheme . '://' . $to->host_port . $to->path, iss5('kc') . '/auth', 'to the IdP\'s authorization endpoint');
ok t_cmp($q->{client_id}, 'idp5-kc-client', 'as the client the IdP registered for it');
ok t_cmp($q->{redirect_uri}, gw("$EP/callback/kc"), 'back to the gateway\'s callback');
ok t_cmp($q->{code_challenge} . ' ' . $q->{code_challenge_method}, "$CHALLENGE S256", 'the client\'s PKCE challenge, as it is');
my $browser = login_cookie($res);
ok t_cmp($browser, qr/^mcp_auth_[0-9a-f]{8}_login_[0-9a-f]{16}=[0-9a-f]{32}$/, 'the login is bound to this browser by a cookie');
ok t_cmp($q->{resource}, gw('/kc'), 'resource passed on (RFC 8707)');
ok t_cmp(($q->{state} // '') ne 'client-state-1' && length($q->{state} // '') > 40 ? 'sealed' : $q->{state},
         'sealed', 'the IdP gets a sealed state, not the client\'s');

# the IdP logs in and sends the browser back
$res = rq(GET => $to->as_string);
my $back = $res->header('Location') // '';
ok t_cmp($back, qr{^\Q@{[gw("$EP/callback/kc")]}\E\?}, 'the IdP answers at the callback');
ok t_cmp(rq(GET => $back)->code, 400, 'the IdP\'s answer in another browser (no login cookie): refused');
$res = rq(GET => $back, undef, Cookie => $browser);
ok t_cmp($res->code, 302, 'callback: 302');
my ($name) = $browser =~ /^([^=]+)/;
ok t_cmp(join(' ', grep { /^\Q$name\E=/ } $res->header('Set-Cookie')), qr/^\Q$name\E=; .*Max-Age=0/,
         'the login cookie is dropped once used');
my $final = URI->new($res->header('Location') // '');
my $fq = qparams($final);
ok t_cmp($final->scheme . '://' . $final->host_port . $final->path, $CB, 'to the client\'s redirect URI');
ok t_cmp($fq->{state}, 'client-state-1', 'with the client\'s own state');
ok t_cmp($fq->{iss}, gw('/kc'), 'and the gateway as issuer (RFC 9207): what SDK 2.x checks');
ok t_cmp(($fq->{code} // '') =~ /^code-kc-/ ? 'the IdP\'s code' : length($fq->{code} // '') > 40 ? 'sealed' : 'none',
         'sealed', 'the code is sealed to this client');
ok t_cmp(rq(GET => $back, undef, Cookie => $browser)->code, 400, 'the same answer a second time: refused (single use)');

# the token request goes to the IdP with the gateway's credentials and callback
my $code = $fq->{code};
$res = rq(POST => "$EP/token/kc", form(grant_type => 'authorization_code', code => $code, redirect_uri => $CB,
                                         client_id => $client, code_verifier => $VERIFIER, resource => gw('/kc')),
          'Content-Type' => 'application/x-www-form-urlencoded');
ok t_cmp($res->code, 200, 'token: the IdP\'s 200');
ok t_cmp(doc_of($res)->{access_token}, 'idp5-kc-token', 'its answer as it came');
my $sent = qparams('?' . last_json('idp5-last-token.json')->{body});
ok t_cmp($sent->{code}, qr/^code-kc-idp5-kc-client\.\d+$/, 'the IdP gets its own code back');
ok t_cmp($sent->{redirect_uri}, gw("$EP/callback/kc"), 'with the callback it sent the code to');
ok t_cmp($sent->{code_verifier}, $VERIFIER, 'and the client\'s PKCE verifier: PKCE end to end');
ok t_cmp($sent->{client_id}, 'idp5-kc-client', 'as the IdP client');
ok t_cmp($sent->{resource}, gw('/kc'), 'resource passed on');
$res = rq(POST => "$EP/token/kc", form(grant_type => 'authorization_code', code => $code, redirect_uri => $CB,
                                         client_id => $client, code_verifier => $VERIFIER, resource => gw('/kc')),
          'Content-Type' => 'application/x-www-form-urlencoded');
ok t_cmp($res->code . ' ' . doc_of($res)->{error} . ' ' . doc_of($res)->{error_description}, qr/^400 invalid_grant .*used already/,
         'the same code a second time: refused by the gateway itself (the fixture IdP would take it again)');

$res = rq(POST => "$EP/token/kc", form(grant_type => 'authorization_code', code => $code, redirect_uri => 'http://127.0.0.1:9/other',
                                         client_id => $client, code_verifier => 'v'),
          'Content-Type' => 'application/x-www-form-urlencoded');
ok t_cmp($res->code . ' ' . doc_of($res)->{error}, '400 invalid_grant', 'the code with another redirect_uri: invalid_grant');
my $other = register('kc');
$res = rq(POST => "$EP/token/kc", form(grant_type => 'authorization_code', code => $code, redirect_uri => $CB,
                                         client_id => $other, code_verifier => 'v'),
          'Content-Type' => 'application/x-www-form-urlencoded');
ok t_cmp($res->code . ' ' . doc_of($res)->{error}, '400 invalid_grant', 'the code for another client: invalid_grant (code injection)');
$res = rq(POST => "$EP/token/kc", form(grant_type => 'refresh_token', refresh_token => 'idp5-kc-refresh', client_id => $client,
                                         resource => gw('/kc')),
          'Content-Type' => 'application/x-www-form-urlencoded');
ok t_cmp($res->code, 200, 'refresh_token grant: passed on');
ok t_cmp(qparams('?' . last_json('idp5-last-token.json')->{body})->{refresh_token}, 'idp5-kc-refresh', 'with the refresh token');
$res = rq(POST => "$EP/token/kc", form(grant_type => 'client_credentials', client_id => $client),
          'Content-Type' => 'application/x-www-form-urlencoded');
ok t_cmp($res->code . ' ' . doc_of($res)->{error}, '400 unsupported_grant_type', 'another grant: unsupported_grant_type');
$res = rq(POST => "$EP/token/kc", form(grant_type => 'authorization_code', code => $code, client_id => 'forged'),
          'Content-Type' => 'application/x-www-form-urlencoded');
ok t_cmp($res->code . ' ' . doc_of($res)->{error}, '401 invalid_client', 'an unknown client id: invalid_client');

# --- authorize refuses before anything is sent anywhere -----------------------------------
$res = rq(GET => "$EP/authorize/kc?" . authorize_query(client_id => $client, redirect_uri => 'https://evil.example/cb'));
ok t_cmp($res->code . ' ' . ($res->header('Location') // 'no redirect'), '400 no redirect',
         'a redirect URI the client did not register: 400, no redirect (open redirect)');
$res = rq(GET => "$EP/authorize/kc?" . authorize_query(client_id => $client . 'x'));
ok t_cmp($res->code . ' ' . doc_of($res)->{error}, '400 invalid_client', 'an altered client id: invalid_client');
$res = rq(GET => "$EP/authorize/kc?" . authorize_query(client_id => $client, code_challenge_method => 'plain'));
$fq = qparams($res->header('Location'));
ok t_cmp($res->code . ' ' . ($fq->{error} // ''), '302 invalid_request', 'no S256 PKCE: invalid_request to the client');
ok t_cmp(($fq->{state} // '') . ' ' . ($fq->{iss} // ''), 'client-state-1 ' . gw('/kc'), 'with its state and the issuer');
$res = rq(GET => "$EP/authorize/kc?" . authorize_query(client_id => $client, code_challenge => 'abc'));
ok t_cmp(qparams($res->header('Location'))->{error}, 'invalid_request',
         'a code_challenge that is no S256 challenge (RFC 7636 §4.2: 43 base64url characters): refused');
$res = rq(GET => "$EP/authorize/kc?" . authorize_query(client_id => $client, response_type => 'token'));
ok t_cmp(qparams($res->header('Location'))->{error}, 'unsupported_response_type', 'response_type token: refused');
$res = rq(GET => "$EP/callback/kc?code=x&state=forged");
ok t_cmp($res->code, 400, 'a callback with a forged state: 400');
$res = rq(GET => "$EP/authorize/kc?" . authorize_query(client_id => $client) . '&state=second');
$fq = qparams($res->header('Location'));
ok t_cmp(($fq->{error} // '') . ' ' . ($fq->{iss} // ''), 'invalid_request ' . gw('/kc'), 'a parameter given twice: invalid_request');

# --- IdPs that misbehave: mix-up, missing iss, errors ----------------------------------
for my $c ([ 'mixup', 'server_error', 'an iss of another server (mix-up): refused' ],
           [ 'noiss', 'server_error', 'no iss although the IdP promises one: refused' ],
           [ 'deny', 'access_denied', 'the IdP\'s error: relayed to the client' ]) {
    my ($loc, $error, $what) = @$c;
    my $cid = register($loc);
    my $r = rq(GET => "$EP/authorize/$loc?" . authorize_query(client_id => $cid));
    my $cookie = login_cookie($r);
    $r = rq(GET => $r->header('Location') // '');            # the IdP
    $r = rq(GET => $r->header('Location') // '', undef, Cookie => $cookie);   # the callback
    my $p = qparams($r->header('Location'));
    ok t_cmp(($p->{error} // 'none') . ' ' . (defined $p->{code} ? 'with a code' : 'no code'), "$error no code", $what);
    ok t_cmp($p->{state} // '', 'client-state-1', "$loc: the client's state comes back");
}

# --- a static client (MCPAuthClientID): the user consents to each client ----------------
{
    my $cid = register('cid', client_name => 'Claude <b>Desktop</b>');
    my $r = rq(GET => "$EP/authorize/cid?" . authorize_query(client_id => $cid));
    ok t_cmp($r->code . ' ' . ($r->header('Content-Type') // ''), qr/^200 text\/html/, 'consent page, not yet the IdP');
    my $page = $r->decoded_content;
    ok t_cmp($page, qr/Claude &lt;b&gt;Desktop&lt;\/b&gt;/, 'it names the client, escaped');
    ok t_cmp($page, qr/127\.0\.0\.1/, 'and where the answer goes');
    ok t_cmp($r->header('Content-Security-Policy') // '', qr/frame-ancestors 'none'/, 'not framable (clickjacking)');
    ok t_cmp($page, qr/<form method="post"[^>]*>.*name="consent" value="approve"/s, 'a POST form with an approve button');
    my ($ticket) = $page =~ /name="ticket" value="([^"]+)"/;
    my ($csrf) = $page =~ /name="csrf" value="([^"]+)"/;
    my ($cookie) = ($r->header('Set-Cookie') // '') =~ /^(mcp_auth_[0-9a-f]{8}_csrf=[^;]+)/;
    my $post = sub {   # as the gateway's own page posts it, unless told which Fetch Metadata or Origin
        my ($consent, $c, $x, @fetch) = @_;
        @fetch = ('Sec-Fetch-Site' => 'same-origin') unless @fetch;
        rq(POST => "$EP/authorize/cid", form(ticket => $ticket, csrf => $x // $csrf, consent => $consent),
           'Content-Type' => 'application/x-www-form-urlencoded', ($c ? (Cookie => $c) : ()), @fetch);
    };
    ok t_cmp($post->('approve', undef)->code, 400, 'the form without its cookie (CSRF): 400');
    ok t_cmp(rq(POST => "$EP/authorize/cid", form(ticket => $ticket, csrf => $csrf, consent => 'approve'),
                'Content-Type' => 'application/x-www-form-urlencoded', Cookie => $cookie)->code, 400,
             'the right form and cookie, but neither Sec-Fetch-Site nor Origin (every browser sends one with a POST): 400');
    ok t_cmp($post->('approve', $cookie, 'f' x 32)->code, 400, 'with another CSRF value: 400');
    # cookie tossing: another port of this host can plant the CSRF cookie; the form must come from here
    ok t_cmp($post->('approve', $cookie, undef, 'Sec-Fetch-Site' => 'same-site', Origin => 'http://localhost:1')->code,
             400, 'the right form and cookie, posted by a page of another origin (Sec-Fetch-Site: same-site): 400');
    ok t_cmp($post->('approve', $cookie, undef, Origin => 'http://localhost:1')->code, 400,
             'the same from a browser without Fetch Metadata, by its Origin: 400');
    ok t_cmp($post->('approve', $cookie, undef, Origin => gw(''))->code, 302,
             'a browser without Fetch Metadata on the gateway\'s own page, by its Origin: approved');
    $r = $post->('approve', $cookie, undef, 'Sec-Fetch-Site' => 'same-origin', Origin => gw(''));
    my $idp = URI->new($r->header('Location') // '');
    ok t_cmp($r->code . ' ' . $idp->path, '302 /realms/cid/auth', 'approved: on to the IdP');
    ok t_cmp(qparams($idp)->{client_id}, 'static-client', 'as the static client');
    my ($consent) = grep { /^mcp_auth_[0-9a-f]{8}_consent_/ } $r->header('Set-Cookie');
    ok t_cmp($consent // '', qr/HttpOnly/, 'the approval is remembered in a cookie');
    ($consent) = ($consent // '') =~ /^([^;]+)/;
    $r = rq(GET => "$EP/authorize/cid?" . authorize_query(client_id => $cid), undef, Cookie => $consent,
            'Sec-Fetch-Site' => 'same-site');
    ok t_cmp($r->code, 200, 'that approval, but the browser was sent here by another site or port: the consent page again');
    $r = rq(GET => "$EP/authorize/cid?" . authorize_query(client_id => $cid), undef, Cookie => $consent,
            'Sec-Fetch-Site' => 'none');
    ok t_cmp($r->code, 302, 'with that cookie, the app having opened the browser (Sec-Fetch-Site: none): no second consent page');
    ok t_cmp(qparams(URI->new($r->header('Location') // ''))->{resource} // 'none', gw('/cid'),
             'the IdP is asked for this location\'s resource, also when the client names none (RFC 8707)');
    $r = rq(GET => "$EP/authorize/cid?" . authorize_query(client_id => $cid, scope => 'openid mcp:tools mcp:admin'), undef,
            Cookie => $consent);
    ok t_cmp($r->code, 200, 'more scopes than the user approved: the consent page again');
    (my $no_scope = authorize_query(client_id => $cid)) =~ s/(?:^|&)scope=[^&]*//;
    $r = rq(GET => "$EP/authorize/cid?$no_scope", undef, Cookie => $consent);
    ok t_cmp($r->code, 200, 'no scope at all (the IdP\'s default, not what was approved): the consent page again');
    my ($tag) = $consent =~ /^(mcp_auth_[0-9a-f]{8}_)/;
    my $flood = join '; ', map { sprintf '%slogin_%016x=%s', $tag, $_, 'b' x 32 } 1 .. 8;
    $r = rq(GET => "$EP/authorize/cid?" . authorize_query(client_id => $cid), undef, Cookie => "$consent; $flood");
    my @gone = grep { /^mcp_auth_[0-9a-f]{8}_login_0{15}[1-8]=;.*Max-Age=0/ } $r->header('Set-Cookie');
    ok t_cmp(scalar(@gone) . ' expired, ' . scalar(grep { /^mcp_auth_[0-9a-f]{8}_login_[0-9a-f]{16}=[0-9a-f]{32};/ } $r->header('Set-Cookie')) . ' new',
             '8 expired, 1 new', 'a browser with 8 logins under way: they are dropped before a 9th is added (no Cookie header flood)');
    $r = rq(GET => "$EP/authorize/cid?" . authorize_query(client_id => $cid, resource => gw('/kc')), undef, Cookie => $consent);
    my $rq = qparams($r->header('Location'));
    ok t_cmp(($rq->{error} // 'none') . ' ' . ($rq->{state} // ''), 'invalid_target client-state-1',
             'another resource (another location): invalid_target, the IdP not asked (RFC 8707 §2)');
    {
        my $two = register('cid', redirect_uris => [ $CB, 'https://app.example/cb' ]);
        my $p1 = rq(GET => "$EP/authorize/cid?" . authorize_query(client_id => $two));
        my ($t1) = $p1->decoded_content =~ /name="ticket" value="([^"]+)"/;
        my ($x1) = $p1->decoded_content =~ /name="csrf" value="([^"]+)"/;
        my ($k1) = ($p1->header('Set-Cookie') // '') =~ /^(mcp_auth_[0-9a-f]{8}_csrf=[^;]+)/;
        my $ok = rq(POST => "$EP/authorize/cid", form(ticket => $t1, csrf => $x1, consent => 'approve'),
                    'Content-Type' => 'application/x-www-form-urlencoded', Cookie => $k1, 'Sec-Fetch-Site' => 'same-origin');
        my ($approval) = map { /^([^;]+)/ ? $1 : () } grep { /^mcp_auth_[0-9a-f]{8}_consent_/ } $ok->header('Set-Cookie');
        $r = rq(GET => "$EP/authorize/cid?" . authorize_query(client_id => $two), undef, Cookie => $approval // '');
        ok t_cmp($r->code, 302, 'a client with two redirect URIs, approved for the first: it goes on');
        $r = rq(GET => "$EP/authorize/cid?" . authorize_query(client_id => $two, redirect_uri => 'https://app.example/cb'),
                undef, Cookie => $approval // '');
        ok t_cmp($r->code . ' ' . ($r->decoded_content =~ /app\.example/ ? 'names it' : 'does not name it'), '200 names it',
                 'its other redirect URI needs its own approval, on a page naming where the answer goes');
    }
    my $third = register('cid');
    $r = rq(GET => "$EP/authorize/cid?" . authorize_query(client_id => $third), undef, Cookie => $consent);
    ok t_cmp($r->code, 200, 'another client: asks again');
    $r = $post->('deny', $cookie);
    ok t_cmp(qparams($r->header('Location'))->{error}, 'access_denied', 'deny: access_denied to the client');

    # the token request authenticates the static client with its secret
    $r = rq(GET => "$EP/authorize/cid?" . authorize_query(client_id => $cid), undef, Cookie => $consent);
    my $login = login_cookie($r);
    $r = rq(GET => $r->header('Location'));
    $r = rq(GET => $r->header('Location'), undef, Cookie => $login);
    my $c2 = qparams($r->header('Location'))->{code};
    $r = rq(POST => "$EP/token/cid", form(grant_type => 'authorization_code', code => $c2, redirect_uri => $CB, client_id => $cid,
                                            code_verifier => 'w' x 43),
            'Content-Type' => 'application/x-www-form-urlencoded');
    ok t_cmp($r->code . ' ' . doc_of($r)->{error}, '400 invalid_grant',
             'a verifier that does not match the challenge: refused by the gateway itself');
    $r = rq(GET => "$EP/authorize/cid?" . authorize_query(client_id => $cid), undef, Cookie => $consent);
    $login = login_cookie($r);
    $r = rq(GET => $r->header('Location'));
    $r = rq(GET => $r->header('Location'), undef, Cookie => $login);
    $c2 = qparams($r->header('Location'))->{code};
    rq(POST => "$EP/token/cid", form(grant_type => 'authorization_code', code => $c2, redirect_uri => $CB, client_id => $cid,
                                       code_verifier => $VERIFIER),
       'Content-Type' => 'application/x-www-form-urlencoded');
    my $t = last_json('idp5-last-token.json');
    ok t_cmp($t->{authorization}, 'Basic ' . MIME::Base64::encode_base64('static-client:s3cret-of-static-client', ''),
             'MCPAuthClientSecret: client_secret_basic at the IdP');

    # OAuth 2.1 §4.3.1: the IdP sees one client for all, so the gateway binds refresh tokens
    $r = rq(GET => "$EP/authorize/cid?" . authorize_query(client_id => $cid), undef, Cookie => $consent);
    $login = login_cookie($r);
    $r = rq(GET => $r->header('Location'));
    $r = rq(GET => $r->header('Location'), undef, Cookie => $login);
    $c2 = qparams($r->header('Location'))->{code};
    $r = rq(POST => "$EP/token/cid", form(grant_type => 'authorization_code', code => $c2, redirect_uri => $CB, client_id => $cid,
                                            code_verifier => $VERIFIER),
            'Content-Type' => 'application/x-www-form-urlencoded');
    my $answer = doc_of($r);
    ok t_cmp(($answer->{access_token} // '') . ' ' . ($answer->{received} ? 'rest kept' : 'rest lost'), 'idp5-cid-token rest kept',
             'shared static client: the IdP\'s answer comes back');
    my $bound = $answer->{refresh_token} // '';
    ok t_cmp($bound ne '' && $bound ne 'idp5-cid-refresh' ? 'sealed' : "as is: $bound", 'sealed',
             'its refresh token is sealed to the client (the IdP cannot tell the clients apart)');
    my $refresh = sub {
        my ($token, $client) = @_;
        rq(POST => "$EP/token/cid", form(grant_type => 'refresh_token', refresh_token => $token, client_id => $client),
           'Content-Type' => 'application/x-www-form-urlencoded');
    };
    $r = $refresh->($bound, $cid);
    ok t_cmp($r->code . ' ' . (qparams('?' . last_json('idp5-last-token.json')->{body})->{refresh_token} // ''),
             '200 idp5-cid-refresh', 'the client that got it refreshes; the IdP gets its own refresh token');
    $r = $refresh->($bound, $third);
    ok t_cmp($r->code . ' ' . doc_of($r)->{error}, '400 invalid_grant', 'another client with that refresh token: invalid_grant');
    $r = $refresh->('idp5-cid-refresh', $cid);
    ok t_cmp($r->code . ' ' . doc_of($r)->{error}, '400 invalid_grant', 'the IdP\'s bare refresh token: invalid_grant');
    $r = rq(POST => "$EP/token/cid", form(grant_type => 'refresh_token', refresh_token => $bound, client_id => $cid,
                                            resource => 'https://other-api.example/'),
            'Content-Type' => 'application/x-www-form-urlencoded');
    ok t_cmp($r->code . ' ' . doc_of($r)->{error}, '400 invalid_target', 'a token for another resource: invalid_target');
}

# --- what httpd refuses on the endpoints is OAuth JSON too; client text shown as UTF-8 ------
{
    my $r = rq(GET => "$EP/token/kc");
    ok t_cmp($r->code . ' ' . ($r->header('Content-Type') // '') . ' ' . (doc_of($r)->{error} // ''),
             qr{^405 application/json invalid_request$}, 'GET on the token endpoint: 405 as an OAuth JSON error');
    $r = rq(POST => "$EP/register/kc", '{"x":"' . ('a' x 70000) . '"}', 'Content-Type' => 'application/json');
    ok t_cmp($r->code . ' ' . (doc_of($r)->{error} // $r->content), '413 invalid_request',
             'a registration over 64 KiB: 413 as an OAuth JSON error, not httpd\'s page');
    $r = rq(POST => "$EP/register/kcdeny", '{"redirect_uris":["http://127.0.0.1:1/cb"]}', 'Content-Type' => 'application/json');
    ok t_cmp($r->code . ' ' . (doc_of($r)->{error} // $r->content), '403 access_denied',
             'a registration endpoint the administrator closed (<Location> Require all denied): 403 as OAuth JSON');
    my $cid = doc_of(rq(POST => "$EP/register/cid", JSON::PP->new->utf8->encode({ redirect_uris => [ $CB ],
                                                                              client_name => "Jos\x{e9} \x{202e}gnp.exe" }),
                        'Content-Type' => 'application/json'))->{client_id};
    $r = rq(GET => "$EP/authorize/cid?" . authorize_query(client_id => $cid));
    my $page = $r->decoded_content;
    ok t_cmp($page =~ /Jos\x{e9}/ ? 'UTF-8' : $page =~ /Jos&#195;/ ? 'bytes escaped' : 'missing', 'UTF-8',
             'the consent page shows a non-ASCII client name as the text it is');
    ok t_cmp($page =~ /\x{202e}/ ? 'override kept' : $page =~ /\x{fffd}gnp/ ? 'replaced' : 'other', 'replaced',
             'a right-to-left override in the name is replaced, so the page shows what the client sent in order');
}

# --- a static client the user has not approved: errors stay here, sealed values stay home ---
{
    my $cid = register('cid', redirect_uris => [ 'https://evil.example/cb' ]);
    my $r = rq(GET => "$EP/authorize/cid?" . authorize_query(client_id => $cid, redirect_uri => 'https://evil.example/cb',
                                                           response_type => 'token'));
    ok t_cmp($r->code . ' ' . ($r->header('Location') // 'no redirect'), '400 no redirect',
             'an unapproved static client\'s error: a page, not a redirect to its URI');
    my $kc_client = register('kc');
    $r = rq(GET => "$EP/authorize/okta?" . authorize_query(client_id => $kc_client));
    ok t_cmp($r->code . ' ' . doc_of($r)->{error}, '400 invalid_client', 'a client id of another location: unknown here');
}

# --- the IdP's codes stay out of the access log ---------------------------------------------
{
    my $r = rq(POST => "$EP/callback/kc?code=posted-secret-code&state=x", '');
    ok t_cmp($r->code, 405, 'a POST to the callback: 405 (and its query is hidden too)');
    my $alog = Apache::Test::vars('t_logs') . '/access_log';
    my @callbacks;
    for (1 .. 40) {
        open my $fh, '<', $alog or last;
        @callbacks = grep { m{/mcp-auth/callback/} } <$fh>;
        close $fh;
        last if @callbacks;
        select undef, undef, undef, 0.05;
    }
    ok t_cmp(scalar(@callbacks) . ' callbacks, ' . scalar(grep { /code=|state=/ } @callbacks) . ' with a code or state',
             qr/^[1-9]\d* callbacks, 0 with a code or state/, 'the callback\'s query (the IdP\'s code) is not logged');
    my @queried;
    for (1 .. 40) {
        open my $fh, '<', Apache::Test::vars('t_logs') . '/gw5_query_log' or last;
        @queried = grep { m{/mcp-auth/callback/} } <$fh>;
        close $fh;
        last if @queried;
        select undef, undef, undef, 0.05;
    }
    ok t_cmp(scalar(@queried) . ' callbacks, ' . scalar(grep { /code=|state=/ } @queried) . ' with a code or state',
             qr/^[1-9]\d* callbacks, 0 with a code or state/, 'nor in %q (r->args)');
}

# --- CIMD: client ids that are URLs -------------------------------------------------------
{
    my $r = rq(GET => "$EP/authorize/cid?" . authorize_query(client_id => 'https://127.0.0.1:1/client.json'));
    ok t_cmp($r->code . ' ' . doc_of($r)->{error}, '400 invalid_client',
             'a metadata document on a loopback address: refused (SSRF), MCPAuthClientMetadataAllowPrivate Off');
    $r = rq(GET => "$EP/authorize/nocimd?" . authorize_query(client_id => 'https://app.example/client.json'));
    ok t_cmp($r->code . ' ' . doc_of($r)->{error}, '400 invalid_client', 'MCPAuthClientMetadataDocuments Off: refused');
    $r = rq(GET => "$EP/authorize/kc?" . authorize_query(client_id => 'https://app.example/client.json'));
    ok t_cmp($r->code . ' ' . doc_of($r)->{error} . ' ' . (doc_of($r)->{error_description} // ''),
             '400 invalid_client the client metadata document cannot be fetched or is not valid',
             'keycloak mode without MCPAuthClientID: CIMD accepted (the gateway\'s own IdP client), a document that cannot be fetched refused');
}

# --- a registered client and a login in flight survive a graceful restart ---------------
# (nothing is stored: the client id and the state are sealed with MCPAuthRelayKey)
{
    my $cid = register('kc');
    my $r = rq(GET => "$EP/authorize/kc?" . authorize_query(client_id => $cid));
    my $cookie = login_cookie($r);
    my $at_idp = rq(GET => $r->header('Location') // '');         # the IdP answers; the browser is on its way back
    open my $fh, '<', Apache::Test::vars('t_logs') . '/httpd.pid' or die "pid: $!";
    chomp(my $pid = <$fh>);
    close $fh;
    my $mark = error_log_size();
    kill 'USR1', $pid;
    ok t_cmp(error_log_since($mark, qr/MCPAUTH0025/, 15), qr/MCPAUTH0025/, 'graceful restart: a new generation');
    my $code = 0;
    for (1 .. 50) {          # until the new generation answers
        $code = rq(GET => "$EP/authorize/kc?" . authorize_query(client_id => $cid))->code;
        last if $code == 302;
        select undef, undef, undef, 0.2;
    }
    ok t_cmp($code, 302, 'the client registered before the restart is still known');
    $r = rq(GET => $at_idp->header('Location') // '', undef, Cookie => $cookie);
    ok t_cmp($r->code, 302, 'the login that was in flight finishes');
    ok t_cmp(qparams($r->header('Location'))->{state}, 'client-state-1', 'with the client\'s state');
}

# --- a hardened httpd (issue 17): a gateway-only site whose DocumentRoot is not granted -------
{
    my $hard = sub { url('gw5hard', $_[0]) };
    my $res = rq(POST => $hard->("$EP/register/mcp"),
                 $J->encode({ redirect_uris => [ $CB ], client_name => 'Hardened', token_endpoint_auth_method => 'none' }),
                 'Content-Type' => 'application/json');
    ok t_cmp($res->code . ' ' . (doc_of($res)->{client_id} ? 'a client id' : substr($res->decoded_content, 0, 120)),
             '201 a client id', 'register on a site whose DocumentRoot is denied: served (URL space, not a file)');
    my $client = doc_of($res)->{client_id} // 'none';
    $res = rq(GET => $hard->("$EP/authorize/mcp?" . authorize_query(client_id => $client, resource => $hard->('/mcp'))));
    ok t_cmp($res->code, 302, 'authorize there: the redirect to the IdP');
    $res = rq(POST => $hard->("$EP/token/mcp"), 'grant_type=authorization_code&code=x', 'Content-Type' => 'application/x-www-form-urlencoded');
    ok t_cmp(($res->header('Content-Type') // '') =~ m{^application/json} ? 'json ' . (doc_of($res)->{error} // 'none') : $res->code . ' not JSON',
             'json invalid_client', 'token there (no client): an OAuth JSON error, not httpd\'s HTML 403');
    $res = rq(GET => $hard->('/index.html'));
    ok t_cmp($res->code, 403, 'the hardening itself holds for files');
}

