# The relay on two sites and between kinds of documents (issue 17):
#  1. everything the relay seals (client ids, state, codes, consent tickets,
#     consent cookies, a shared client's refresh tokens) is bound to the
#     site as configured (scheme://ServerName:port), besides issuer and
#     location: sites A and B (one host name, one configuration, A's
#     registration closed) never take each other's, and their cookies have
#     names of their own. An https client id (a client metadata document)
#     is the same string on both sites, so the values issued to it are
#     refused for their site alone.
#  2. a client metadata document and a key set at one URL are two
#     documents: a client id naming the key set's URL, refused, never holds
#     back the keys.
#  3. scopes never widen: a blank scope is no scope, Entra scopes name this
#     location's API only, a shared client's refresh stays within what the
#     user approved.
# Config: t/conf/issue17.conf.in; the IdP is t/cgi-bin/idp5 (vhost idp17),
# key sets and client documents come over https from vhost tls17 (its
# certificate made by t/TEST.PL, trusted with MCPAuthCAFile).
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
use MintToken;
use CacheTest;

my $J  = JSON::PP->new->canonical;
my $VERIFIER = 'v' x 43;
my $CHALLENGE = pkce_challenge($VERIFIER);

sub A   { url('gw17a', $_[0]) }
sub B   { url('gw17b', $_[0]) }
sub X   { url('gw17x', $_[0]) }
sub tls { 'https://localhost:' . port('tls17') . $_[0] }
sub idp { url('idp17', "/realms/$_[0]") }

# Cookie names each site set, by vhost port: a cookie of one site must
# never carry the name of another's.
my %set_by;

sub rq {
    my ($method, $url, @rest) = @_;
    my $res = send_request($method, $url, @rest);
    my $u = URI->new($url);
    my $port = $u->can('port') ? $u->port : 0;
    $set_by{$port}{$_}++ for map { /^([^=;]+)=/ ? $1 : () } $res->header('Set-Cookie');
    return $res;
}
sub oauth   { my $r = shift; $r->code . ' ' . (doc_of($r)->{error} // 'no error') }
sub last_json { my $t = join '', read_lines(shift); $t ? $J->decode($t) : {} }
sub sent_to_idp_token { qparams('?' . (last_json('idp5-last-token.json')->{body} // '')) }
sub sent_to_idp_auth  { last_json('idp5-last-auth.json')->{params} // {} }
sub post_form {   # a consent form as the gateway's own page posts it (Fetch Metadata)
    my ($url, @rest) = @_;
    my @cookie = @rest % 2 ? (Cookie => pop @rest) : ();
    my @fetch = $url =~ m{/authorize/} ? ('Sec-Fetch-Site' => 'same-origin') : ();
    rq(POST => $url, form(@rest), 'Content-Type' => 'application/x-www-form-urlencoded', @cookie, @fetch);
}

sub register {
    my ($url, %meta) = @_;
    return rq(POST => $url, $J->encode({ redirect_uris => [ $CB ], client_name => 'Sites test', %meta }),
              'Content-Type' => 'application/json');
}
sub client_of_reg { doc_of(shift)->{client_id} // 'none' }

# An authorize query; scope given as raw (already encoded) text with
# scope_raw, or left out with scope => undef.
sub authorize_query {
    my %p = (response_type => 'code', redirect_uri => $CB, state => 'client-state-17', code_challenge => $CHALLENGE,
             code_challenge_method => 'S256', scope => 'openid mcp:tools', @_);
    my $raw = delete $p{scope_raw};
    delete $p{scope} if defined $raw || !defined $p{scope};
    my $q = form(map { $_ => $p{$_} } sort keys %p);
    return defined $raw ? "$q&scope=$raw" : $q;
}
sub authorize { my ($base, $loc, %p) = @_; my $c = delete $p{cookie};
                rq(GET => $base->("$EP/authorize/$loc?" . authorize_query(%p)), undef, ($c ? (Cookie => $c) : ())) }

# "name=value" of the Set-Cookie whose name is mcp_auth_<tag>_<kind>...
sub cookie_of {
    my ($res, $kind) = @_;
    my ($c) = grep { /^mcp_auth_[0-9a-f]{8}_\Q$kind\E[_=]/ } $res->header('Set-Cookie');
    return ($c // '') =~ /^([^;]+)/ ? $1 : '';
}
sub tag_of { ($_[0] // '') =~ /^mcp_auth_([0-9a-f]{8})_/ ? $1 : 'none' }
sub retag  { my ($cookie, $tag) = @_; (my $c = $cookie) =~ s/^mcp_auth_[0-9a-f]{8}_/mcp_auth_${tag}_/; $c }
# A consent page's ticket and CSRF value, and its CSRF cookie.
sub page_of {
    my $r = shift;
    my $page = $r->decoded_content // '';
    my ($ticket) = $page =~ /name="ticket" value="([^"]+)"/;
    my ($csrf) = $page =~ /name="csrf" value="([^"]+)"/;
    return ($ticket // '', $csrf // '', cookie_of($r, 'csrf'));
}
sub is_page { my $r = shift; $r->code == 200 && ($r->decoded_content // '') =~ /name="consent" value="approve"/ ? 'consent page' : $r->code . ' ' . ($r->header('Location') // 'no redirect') }
sub loc_of  { URI->new(shift->header('Location') // '') }
sub at      { my $u = loc_of(shift); $u->scheme ? $u->scheme . '://' . $u->host_port . $u->path : 'nowhere' }

# From an authorize answer that sends the browser to the IdP: the IdP logs
# in and sends it back; returns the callback URL and the login cookie.
sub through_idp {
    my $res = shift;
    my $login = cookie_of($res, 'login');
    my $back = rq(GET => $res->header('Location') // '')->header('Location') // '';
    return ($back, $login);
}
# The whole way from an authorize answer to the client's code.
sub code_from {
    my $res = shift;
    my ($back, $login) = through_idp($res);
    my $r = rq(GET => $back, undef, Cookie => $login);
    return qparams($r->header('Location'))->{code} // 'none';
}
sub token {
    my ($base, $loc, %p) = @_;
    post_form($base->("$EP/token/$loc"), %p);
}
sub redeem {
    my ($base, $loc, $client, $code) = @_;
    token($base, $loc, grant_type => 'authorization_code', code => $code, redirect_uri => $CB, client_id => $client,
          code_verifier => $VERIFIER);
}
sub refresh {
    my ($base, $loc, $client, $rt, @scope) = @_;
    token($base, $loc, grant_type => 'refresh_token', refresh_token => $rt, client_id => $client, @scope);
}

plan tests => 83;

# ---------------------------------------------------------------------------------------------
# 1. Two sites
# ---------------------------------------------------------------------------------------------

# an https client id: its document over https (tls17), the same id on both sites
my $CIMD = tls('/r17-client.json');
{
    my $f = MintToken::fixtures_dir() . '/www/r17-client.json';
    open my $fh, '>', "$f.tmp" or die "$f.tmp: $!";
    print $fh $J->encode({ client_id => $CIMD, client_name => 'Sites CIMD client', redirect_uris => [ $CB ],
                           token_endpoint_auth_method => 'none' });
    close $fh;
    chmod 0644, "$f.tmp";
    rename "$f.tmp", $f or die "$f: $!";
}

# --- client ids --------------------------------------------------------------------------
my $res = register(A("$EP/register/mcp"));
ok t_cmp($res->code, 403, 'site A: registration for /mcp is closed (Require ip)');
$res = register(B("$EP/register/mcp"));
my $b_mcp = client_of_reg($res);
ok t_cmp($res->code . ' ' . ($b_mcp ne 'none' ? 'client id' : 'none'), '201 client id', 'site B: registration is open');
ok t_cmp(oauth(authorize(\&A, 'mcp', client_id => $b_mcp)), '400 invalid_client',
         'a client id registered at B, at A: invalid_client (A\'s closed registration is not got round through B)');
$res = authorize(\&B, 'mcp', client_id => $b_mcp);
ok t_cmp($res->code . ' ' . at($res), '302 ' . idp('kc') . '/auth', 'the same client id at B: on to the IdP');
ok t_cmp(oauth(authorize(\&B, 'cid', client_id => $b_mcp)), '400 invalid_client',
         'one site, two locations: a client id of /mcp at /cid: invalid_client');
my $b_cid = client_of_reg(register(B("$EP/register/cid")));
ok t_cmp(oauth(authorize(\&B, 'mcp', client_id => $b_cid)), '400 invalid_client', 'and one of /cid at /mcp: invalid_client');
ok t_cmp(oauth(authorize(\&A, 'cid', client_id => $b_cid)), '400 invalid_client',
         'a client id of B\'s /cid at A\'s /cid: invalid_client');
ok t_cmp(is_page(authorize(\&B, 'cid', client_id => $b_cid)), 'consent page', 'at B it is known (the consent page)');

# --- state (keycloak mode) ---------------------------------------------------------------
{
    my ($back, $login) = through_idp(authorize(\&B, 'mcp', client_id => $b_mcp));
    my $u = URI->new($back);
    ok t_cmp($u->path, "$EP/callback/mcp", 'B\'s login comes back to B\'s callback');
    my $query = $u->query // '';
    $res = rq(GET => A("$EP/callback/mcp?$query"), undef, Cookie => join '; ', $login, retag($login, '00000000'));
    ok t_cmp(oauth($res) . ' ' . ($res->header('Location') // 'no redirect'), '400 invalid_request no redirect',
             'B\'s state at A\'s callback (with B\'s login cookie): 400, nothing sent to the client');
    $res = rq(GET => $back, undef, Cookie => $login);
    ok t_cmp($res->code . ' ' . at($res), "302 $CB", 'the same answer at B: to the client');
}

# --- the https client id on both sites: consent tickets, consent cookies, state, codes, refresh tokens
$res = authorize(\&A, 'cid', client_id => $CIMD);
ok t_cmp(is_page($res), 'consent page', 'site A: the https client id (its document over https): the consent page');
my ($a_ticket, $a_csrf, $a_csrf_cookie) = page_of($res);
my $tag_a = tag_of($a_csrf_cookie);
$res = authorize(\&B, 'cid', client_id => $CIMD);
ok t_cmp(is_page($res), 'consent page', 'site B: the same');
my ($b_ticket, $b_csrf, $b_csrf_cookie) = page_of($res);
my $tag_b = tag_of($b_csrf_cookie);
ok t_cmp("$tag_a $tag_b", qr/^[0-9a-f]{8} (?!\Q$tag_a\E)[0-9a-f]{8}$/,
         'the CSRF cookies of A and B (one host name, same location) have different names: mcp_auth_<site tag>_csrf');

$res = post_form(A("$EP/authorize/cid"), ticket => $b_ticket, csrf => $b_csrf, consent => 'approve',
                 join '; ', $b_csrf_cookie, retag($b_csrf_cookie, $tag_a));
ok t_cmp(oauth($res) . ' ' . ($res->header('Location') // 'no redirect'), '400 invalid_request no redirect',
         'B\'s consent ticket and CSRF value posted at A (its CSRF cookie under either name): 400');
$res = post_form(B("$EP/authorize/cid"), ticket => $b_ticket, csrf => $b_csrf, consent => 'approve', $b_csrf_cookie);
ok t_cmp($res->code . ' ' . at($res), '302 ' . idp('cid') . '/auth', 'posted at B: approved, on to the IdP');
my $b_consent = cookie_of($res, 'consent');
ok t_cmp($b_consent, qr/^mcp_auth_\Q$tag_b\E_consent_[0-9a-f]{16}=/, 'B remembers the approval in a cookie with B\'s tag');
my $b_login_res = $res;

$res = authorize(\&A, 'cid', client_id => $CIMD, cookie => join '; ', $b_consent, retag($b_consent, $tag_a));
ok t_cmp(is_page($res), 'consent page', 'B\'s approval at A (also under A\'s cookie name): A asks the user again');
ok t_cmp(scalar(grep { /^mcp_auth_\Q$tag_b\E_/ } $res->header('Set-Cookie')), 0, 'and A touches none of B\'s cookies');
$res = authorize(\&B, 'cid', client_id => $CIMD, cookie => $b_consent);
ok t_cmp($res->code . ' ' . at($res), '302 ' . idp('cid') . '/auth', 'B\'s approval at B: no second consent page');

my ($b_back, $b_login) = through_idp($b_login_res);
my $b_query = URI->new($b_back)->query // '';
$res = rq(GET => A("$EP/callback/cid?$b_query"), undef, Cookie => join '; ', $b_login, retag($b_login, $tag_a));
ok t_cmp(oauth($res) . ' ' . ($res->header('Location') // 'no redirect'), '400 invalid_request no redirect',
         'the same client id, B\'s state at A\'s callback (B\'s login cookie under either name): 400');
$res = rq(GET => $b_back, undef, Cookie => $b_login);
ok t_cmp($res->code . ' ' . at($res), "302 $CB", 'at B: the code goes to the client');
my $b_code = qparams($res->header('Location'))->{code} // 'none';

ok t_cmp(oauth(redeem(\&A, 'cid', $CIMD, $b_code)), '400 invalid_grant',
         'B\'s code at A\'s token endpoint, same client id, redirect URI and verifier: invalid_grant');
$res = redeem(\&B, 'cid', $CIMD, $b_code);
ok t_cmp($res->code . ' ' . (doc_of($res)->{access_token} // 'none'), '200 idp5-cid-token', 'at B: the IdP\'s tokens');
my $b_refresh = doc_of($res)->{refresh_token} // 'none';
ok t_cmp($b_refresh ne 'idp5-cid-refresh' && length $b_refresh > 40 ? 'sealed' : $b_refresh, 'sealed',
         'the shared client\'s refresh token comes sealed');
ok t_cmp(oauth(refresh(\&A, 'cid', $CIMD, $b_refresh)), '400 invalid_grant',
         'B\'s refresh token at A, same client id: invalid_grant');
$res = refresh(\&B, 'cid', $CIMD, $b_refresh);
ok t_cmp($res->code . ' ' . (sent_to_idp_token()->{refresh_token} // 'none'), '200 idp5-cid-refresh',
         'at B: refreshed, the IdP gets its own refresh token');

# --- cookie names ------------------------------------------------------------------------
{
    my @a = sort keys %{ $set_by{ port('gw17a') } || {} };
    my @b = sort keys %{ $set_by{ port('gw17b') } || {} };
    my @untagged = grep { tag_of($_) eq 'none' } @a, @b;
    ok t_cmp(@a && @b ? (join(', ', @untagged) || 'all tagged') : 'A or B set no cookie', 'all tagged',
             'every cookie A and B set is named mcp_auth_<site tag>_...');
    my %a_tags = map { tag_of($_) => 1 } @a;
    my @clash = grep { $a_tags{ tag_of($_) } } @b;
    ok t_cmp(join(', ', @clash) || 'none', 'none', 'no cookie B set has a name (or site tag) of A\'s');
}

# ---------------------------------------------------------------------------------------------
# 2. A client id naming the key set's URL never holds back the keys
# ---------------------------------------------------------------------------------------------
{
    my $jwks = tls('/idp/r17keys');
    reset_set('r17keys', 'file i4-good.json');
    my $mark = error_log_size();
    my @codes = map { oauth(authorize(\&X, 'keys', client_id => $jwks)) } 1 .. 5;
    ok t_cmp(join(', ', @codes), join(', ', ('400 invalid_client') x 5),
             'the key set\'s URL as client id, 5 times: invalid_client (not a client metadata document)');
    my ($logged) = error_log_since($mark, qr/client_id is not its own URL/, 3)
        =~ /(MCPAUTH0044: client metadata document: [^\n]*client_id is not its own URL)/;
    ok t_cmp($logged // 'not logged', qr/^MCPAUTH0044: .*r17keys: the client metadata document's client_id is not its own URL$/,
             'it was fetched over https and refused as a client document (error_log, info)');
    my $before = fetches('r17keys');
    ok t_cmp($before >= 1 ? 'fetched' : 'never fetched', 'fetched', 'the fixture saw those lookups');
    my ($tok) = mint_many({ key => 'rsa1', header => { alg => 'RS256', kid => 'i4a' },
                            payload => MintToken::claims(-iss => tls('/t/r17keys'), -aud => 'urn:r17', sub => 'r17') });
    $res = rq(GET => X('/keys'), undef, Authorization => "Bearer $tok");
    ok t_cmp($res->code . ' ' . (is_echo($res) ? 'backend' : 'gateway: ' . ($res->header('WWW-Authenticate') // '')),
             '200 backend', 'then a valid token for that location: 200 (the keys are fetched all the same)');
    ok t_cmp(fetches('r17keys') - $before, 1, 'exactly one fetch of the key set for it');
    $res = rq(GET => X('/keys'), undef, Authorization => "Bearer $tok");
    ok t_cmp($res->code . ' ' . (fetches('r17keys') - $before), '200 1', 'and the key set stays: 200, no further fetch');
    ok t_cmp(oauth(authorize(\&X, 'keys', client_id => $jwks)), '400 invalid_client',
             'the key set (now fetched and cached) is still no client document');
    $res = rq(GET => X('/keys'), undef, Authorization => "Bearer $tok");
    ok t_cmp($res->code, 200, 'and the token is still accepted');
}

# ---------------------------------------------------------------------------------------------
# 3. Scopes never widen
# ---------------------------------------------------------------------------------------------

# --- a blank scope is no scope (site A, /cid: a client of A's own) ------------------------
my $a_cid = client_of_reg(register(A("$EP/register/cid")));
$res = authorize(\&A, 'cid', client_id => $a_cid, scope => 'openid');
ok t_cmp(is_page($res), 'consent page', 'A\'s own client at A: the consent page');
{
    my ($t, $x, $k) = page_of($res);
    $res = post_form(A("$EP/authorize/cid"), ticket => $t, csrf => $x, consent => 'approve', $k);
}
my $approved_openid = cookie_of($res, 'consent');
ok t_cmp($res->code . ' ' . (qparams(loc_of($res))->{scope} // 'no scope'), '302 openid', 'approved "openid": the IdP is asked for it');
rq(GET => $res->header('Location'));
ok t_cmp(sent_to_idp_auth()->{scope} // 'no scope', 'openid', 'the IdP received scope=openid');

$res = authorize(\&A, 'cid', client_id => $a_cid, scope_raw => '%20', cookie => $approved_openid);
ok t_cmp(is_page($res), 'consent page', 'scope=%20 after approving "openid": the consent page again (blank is no scope, the IdP\'s default)');
ok t_cmp($res->decoded_content // '', qr{<dd>\(default\)</dd>}, 'which says the IdP\'s default is asked for');
$res = authorize(\&A, 'cid', client_id => $a_cid, scope_raw => '+%20+', cookie => $approved_openid);
ok t_cmp(is_page($res), 'consent page', 'scope="   " (+ and %20): the same');
my $blank_login;
{
    my ($t, $x, $k) = page_of(authorize(\&A, 'cid', client_id => $a_cid, scope_raw => '%20'));
    $res = post_form(A("$EP/authorize/cid"), ticket => $t, csrf => $x, consent => 'approve', $k);
    $blank_login = $res;
}
my $approved_default = cookie_of($res, 'consent');
ok t_cmp($res->code . ' ' . (exists qparams(loc_of($res))->{scope} ? 'scope="' . qparams(loc_of($res))->{scope} . '"' : 'no scope'),
         '302 no scope', 'approved (default): to the IdP without a scope parameter');
my $blank_code = code_from($blank_login);
ok t_cmp(exists sent_to_idp_auth()->{scope} ? 'scope="' . sent_to_idp_auth()->{scope} . '"' : 'no scope', 'no scope',
         'the IdP never receives scope=" "');
$res = authorize(\&A, 'cid', client_id => $a_cid, scope_raw => '%20', cookie => $approved_default);
ok t_cmp($res->code . ' ' . (exists qparams(loc_of($res))->{scope} ? 'a scope' : 'no scope'), '302 no scope',
         'with that approval, scope=%20 goes on (it is the default the user approved)');

$res = redeem(\&A, 'cid', $a_cid, $blank_code);
my $rt_default = doc_of($res)->{refresh_token} // 'none';
ok t_cmp($res->code, 200, 'the login with the default scope: tokens');
ok t_cmp(oauth(refresh(\&A, 'cid', $a_cid, $rt_default, scope => 'openid')), '400 invalid_scope',
         'its refresh token asking for a scope (the user approved only the default): invalid_scope');
$res = refresh(\&A, 'cid', $a_cid, $rt_default);
ok t_cmp($res->code . ' ' . (exists sent_to_idp_token()->{scope} ? 'scope sent' : 'no scope sent'), '200 no scope sent',
         'asking for nothing: refreshed, no scope sent to the IdP');
$res = token(\&A, 'cid', grant_type => 'refresh_token', refresh_token => $rt_default, client_id => $a_cid, scope => ' ');
ok t_cmp($res->code . ' ' . (exists sent_to_idp_token()->{scope} ? 'scope "' . sent_to_idp_token()->{scope} . '" sent' : 'no scope sent'),
         '200 no scope sent', 'asking for scope=" ": the same (no scope)');

# --- a shared client's refresh token stays within what the user approved ---------------------
{
    $res = authorize(\&A, 'cid', client_id => $a_cid, scope => 'openid mcp:tools');
    my ($t, $x, $k) = page_of($res);
    $res = post_form(A("$EP/authorize/cid"), ticket => $t, csrf => $x, consent => 'approve', $k);
    my $code = code_from($res);
    $res = redeem(\&A, 'cid', $a_cid, $code);
    my $rt = doc_of($res)->{refresh_token} // 'none';
    ok t_cmp($res->code . ' ' . ($rt ne 'idp5-cid-refresh' && length $rt > 40 ? 'sealed' : $rt), '200 sealed',
             'approved "openid mcp:tools": tokens, the refresh token sealed');
    $res = refresh(\&A, 'cid', $a_cid, $rt, scope => 'openid mcp:tools mcp:admin');
    ok t_cmp(oauth($res), '400 invalid_scope', 'refresh asking for more (mcp:admin): invalid_scope');
    ok t_cmp(oauth(refresh(\&A, 'cid', $a_cid, $rt, scope => 'mcp:admin')), '400 invalid_scope', 'asking for another scope only: invalid_scope');
    $res = refresh(\&A, 'cid', $a_cid, $rt, scope => 'openid');
    ok t_cmp($res->code . ' ' . (sent_to_idp_token()->{scope} // 'no scope'), '200 openid',
             'asking for a subset: refreshed with that subset');
    $res = refresh(\&A, 'cid', $a_cid, $rt);
    ok t_cmp($res->code . ' ' . (sent_to_idp_token()->{scope} // 'no scope'), '200 openid mcp:tools',
             'asking for nothing: refreshed with the approved scope sent to the IdP');
    $res = refresh(\&A, 'cid', $a_cid, $rt, scope => 'mcp:tools  openid');
    ok t_cmp($res->code . ' ' . (sent_to_idp_token()->{scope} // 'no scope'), '200 mcp:tools openid',
             'the same words in another order and spacing: refreshed, one space between words');
}

# --- Entra: scopes of this location's API only -----------------------------------------------
my $GRAPH = 'https://graph.microsoft.com/.default';
my $OWN = 'openid profile email offline_access api://mcp17-api/mcp.tools';
{
    my $e_cid = client_of_reg(register(X("$EP/register/entra")));
    for my $c ([ $GRAPH, 'Microsoft Graph\'s .default' ], [ 'User.Read', 'a bare User.Read (Graph)' ],
               [ "openid $GRAPH", 'openid with Graph\'s .default' ], [ 'api://mcp17-api-evil/x', 'an API named like this one' ]) {
        $res = authorize(\&X, 'entra', client_id => $e_cid, scope => $c->[0]);
        ok t_cmp(oauth($res) . ' ' . ($res->header('Location') // 'no redirect'), '400 invalid_scope no redirect',
                 "Entra, static client not approved: $c->[1]: invalid_scope on the page");
    }
    ok t_cmp(is_page(authorize(\&X, 'entra', client_id => $e_cid, scope => '66666666-7777-8888-9999-000000000017/.default')),
             'consent page', 'the other audience\'s .default (an application id): accepted, the consent page');
    $res = authorize(\&X, 'entra', client_id => $e_cid, scope => $OWN);
    ok t_cmp(is_page($res), 'consent page', 'OpenID scopes and <audience>/<scope>: accepted, the consent page');
    my ($t, $x, $k) = page_of($res);
    $res = post_form(X("$EP/authorize/entra"), ticket => $t, csrf => $x, consent => 'approve', $k);
    my $approval = cookie_of($res, 'consent');
    ok t_cmp($res->code . ' ' . at($res) . ' ' . (qparams(loc_of($res))->{scope} // 'no scope'), '302 ' . idp('entra') . "/auth $OWN",
             'approved: to the IdP with those scopes');
    my $code = code_from($res);
    $res = authorize(\&X, 'entra', client_id => $e_cid, scope => "openid $GRAPH", cookie => $approval);
    ok t_cmp(oauth($res) . ' ' . ($res->header('Location') // 'no redirect'), '400 invalid_scope no redirect',
             'with that approval, Graph\'s .default besides: invalid_scope (the IdP is not asked)');
    $res = redeem(\&X, 'entra', $e_cid, $code);
    my $rt = doc_of($res)->{refresh_token} // 'none';
    ok t_cmp($res->code, 200, 'the static client\'s tokens');
    ok t_cmp(oauth(refresh(\&X, 'entra', $e_cid, $rt, scope => $GRAPH)), '400 invalid_scope', 'refresh for Graph: invalid_scope');
    $res = refresh(\&X, 'entra', $e_cid, $rt, scope => 'api://mcp17-api/mcp.tools offline_access');
    ok t_cmp($res->code . ' ' . (sent_to_idp_token()->{scope} // 'no scope'), '200 api://mcp17-api/mcp.tools offline_access',
             'refresh for this API: refreshed');
}
{
    # registered at the IdP (its own IdP client): errors go to its redirect URI
    $res = register(X("$EP/register/entradcr"));
    my $d_cid = client_of_reg($res);
    ok t_cmp($res->code, 201, 'Entra location without MCPAuthClientID: the IdP registers the client');
    $res = authorize(\&X, 'entradcr', client_id => $d_cid, scope => "openid $GRAPH");
    my $q = qparams(loc_of($res));
    ok t_cmp($res->code . ' ' . at($res) . ' ' . ($q->{error} // 'no error'), "302 $CB invalid_scope",
             'Graph\'s .default: invalid_scope to the client\'s redirect URI');
    ok t_cmp(($q->{state} // '') . ' ' . ($q->{iss} // ''), 'client-state-17 ' . X('/entradcr'), 'with its state and the issuer');
    $res = authorize(\&X, 'entradcr', client_id => $d_cid, scope => 'User.Read');
    ok t_cmp(($q = qparams(loc_of($res)))->{error} // 'no error', 'invalid_scope', 'a bare User.Read: invalid_scope');
    $res = authorize(\&X, 'entradcr', client_id => $d_cid, scope => 'openid api://mcp17-api/mcp.tools');
    ok t_cmp($res->code . ' ' . at($res) . ' ' . (qparams(loc_of($res))->{scope} // 'no scope'),
             '302 ' . idp('entra') . '/auth openid api://mcp17-api/mcp.tools', 'this API\'s scope: on to the IdP');
    for my $c ([ $GRAPH, 'Graph\'s .default' ], [ 'User.Read', 'a bare User.Read' ], [ "offline_access $GRAPH", 'offline_access with Graph\'s .default' ]) {
        $res = refresh(\&X, 'entradcr', $d_cid, 'idp5-entra-refresh', scope => $c->[0]);
        ok t_cmp(oauth($res), '400 invalid_scope', "refresh grant asking for $c->[1]: invalid_scope");
    }
    $res = refresh(\&X, 'entradcr', $d_cid, 'idp5-entra-refresh', scope => 'openid offline_access api://mcp17-api/mcp.tools');
    ok t_cmp($res->code . ' ' . (sent_to_idp_token()->{scope} // 'no scope'), '200 openid offline_access api://mcp17-api/mcp.tools',
             'refresh grant asking for OpenID scopes and this API\'s: passed on');
}

# --- a metadata-document client in keycloak mode: the gateway's own IdP client -----------------
{
    unlink(MintToken::fixtures_dir() . '/state/idp5-last-register.json');
    my $r = authorize(\&X, 'kccimd', client_id => $CIMD);
    ok t_cmp(is_page($r), 'consent page', 'keycloak mode, an https client id: the consent page (one IdP client for many)');
    my ($ticket, $csrf, $csrf_cookie) = page_of($r);
    $r = post_form(X("$EP/authorize/kccimd"), ticket => $ticket, csrf => $csrf, consent => 'approve', $csrf_cookie);
    ok t_cmp($r->code . ' ' . at($r), '302 ' . idp('kc') . '/auth', 'approved: on to the IdP');
    ok t_cmp(qparams($r->header('Location'))->{client_id}, 'idp5-kc-client', 'as the client the gateway registered for itself');
    my $reg = last_json('idp5-last-register.json');
    my $sent = eval { $J->decode($reg->{body} // '') } || {};
    ok t_cmp(join(' ', $sent->{client_name} // '', @{ $sent->{redirect_uris} || [] }),
             'MCP gateway ' . X('/kccimd') . ' ' . X("$EP/callback/kccimd"),
             'the gateway registered itself: its name, its callback as the only redirect URI');
    my $consent = cookie_of($r, 'consent');
    unlink(MintToken::fixtures_dir() . '/state/idp5-last-register.json');
    # a second login: the kept registration (public at the IdP: no secret) is used again
    $r = authorize(\&X, 'kccimd', client_id => $CIMD, cookie => $consent, state => 'second');
    ok t_cmp($r->code . ' ' . (qparams($r->header('Location'))->{client_id} // 'none'), '302 idp5-kc-client',
             'a second login with the approval: the same IdP client');
    ok t_cmp(-e MintToken::fixtures_dir() . '/state/idp5-last-register.json' ? 'registered again' : 'kept', 'kept',
             'not registered again (kept in the shared cache)');
    my $code = code_from($r);
    $r = redeem(\&X, 'kccimd', $CIMD, $code);
    my $t = last_json('idp5-last-token.json');
    ok t_cmp($r->code . ' ' . (qparams('?' . ($t->{body} // ''))->{client_id} // 'none') . ' '
             . ($t->{authorization} ? 'Authorization' : 'no Authorization'), '200 idp5-kc-client no Authorization',
             'the code redeemed as that public IdP client (client_id in the form, no empty Basic secret)');
}
