# CORS (MCPAuthCORSOrigins): preflights answered without authentication on
# the MCP location and on every well-known / registration path, origins
# matched exactly, WWW-Authenticate and Mcp-Session-Id exposed (401s too).
# Config: t/conf/issue5.conf.in.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test;
use Apache::TestUtil;
use MCPTest;
use MintToken;

plan tests => 179;

my $APP  = 'https://app.example';
my $APP2 = 'http://localhost:3000';
my @ALLOW = qw(Authorization Content-Type Mcp-Protocol-Version Mcp-Session-Id Last-Event-ID);
my $REQ_HEADERS = 'authorization, content-type, mcp-protocol-version';

sub preflight {
    my ($vhost, $path, $origin, $method, @more) = @_;
    return req(OPTIONS => $vhost, $path, Origin => $origin,
               'Access-Control-Request-Method' => $method || 'POST',
               'Access-Control-Request-Headers' => $REQ_HEADERS, @more);
}
sub acao { $_[0]->header('Access-Control-Allow-Origin') // '' }
sub has_list {
    my ($value, $item) = @_;
    return scalar grep { lc $_ eq lc $item } split /\s*,\s*/, ($value // '');
}
sub vary_origin { has_list(join(',', $_[0]->header('Vary')), 'Origin') }

# A preflight that allows $origin: 204, no challenge, no body, the headers.
sub good_preflight {
    my ($res, $origin, $what, $methods) = @_;
    ok t_cmp($res->code, 204, "$what: 204");
    ok t_cmp(acao($res), $origin, "$what: Access-Control-Allow-Origin $origin");
    my $ah = $res->header('Access-Control-Allow-Headers');
    yes !grep({ !has_list($ah, $_) } @ALLOW), "$what: allows @ALLOW";
    my $am = $res->header('Access-Control-Allow-Methods');
    yes !grep({ !has_list($am, $_) } @$methods), "$what: allows methods @$methods";
    yes !defined(scalar challenges($res)), "$what: no challenge";
    ok t_cmp($res->content, '', "$what: no body");
}

my $good = mint(key => 'rsa1', header => { alg => 'RS256', kid => 'rsa1' },
                payload => MintToken::claims(-iss => url('idp5', '/realms/cors'), -aud => url('gw5', '/cors-list'),
                                             sub => 'cora'));

# --- MCP location with the defaults: CORS off ----------------------------------------
{
    my $hits = echo_hits();
    my $res = preflight('gw5', '/gen', $APP);
    ok t_cmp($res->code, 204, 'default: preflight on /gen answered 204 without a token');
    ok t_cmp(acao($res), '', 'default: but no Access-Control-Allow-Origin (CORS off on the MCP endpoint)');
    yes !defined(scalar challenges($res)), 'default: no challenge on the preflight';
    ok t_cmp(echo_hits(), $hits, 'default: preflight not passed to the backend');
    $res = req(POST => 'gw5', '/gen', Origin => $APP);
    ok t_cmp($res->code, 401, 'default: cross-origin POST 401');
    ok t_cmp(acao($res), '', 'default: no Access-Control-Allow-Origin on the 401');
    $res = req(GET => 'gw5', '/.well-known/oauth-protected-resource/gen', Origin => $APP);
    ok t_cmp(acao($res), '*', 'default: the PRM allows any origin');
    ok t_cmp($res->header('Access-Control-Expose-Headers') // '', qr/WWW-Authenticate/i, 'default: PRM exposes headers');
}

# --- an origin list --------------------------------------------------------------------
{
    my $hits = echo_hits();
    my $res = preflight('gw5', '/cors-list', $APP);
    good_preflight($res, $APP, 'listed origin, preflight on /cors-list', [qw(GET POST DELETE)]);
    yes vary_origin($res), 'listed origin: Vary: Origin';
    ok t_cmp($res->header('Access-Control-Max-Age') // '', qr/^\d+$/, 'listed origin: Max-Age');
    good_preflight(preflight('gw5', '/cors-list', $APP2), $APP2, 'second listed origin', [qw(POST)]);
    good_preflight(preflight('gw5', '/cors-list', $APP, 'POST', Authorization => 'Bearer garbage'), $APP,
                   'preflight carrying a bad token', [qw(POST)]);
    good_preflight(preflight('gw5', '/cors-list', $APP, 'DELETE'), $APP, 'preflight for DELETE', [qw(DELETE)]);
    ok t_cmp(echo_hits(), $hits, 'no preflight reached the backend');

    for my $o ('https://evil.example', 'https://app.example.evil', 'https://app.example:443',
               'HTTPS://APP.EXAMPLE', 'https://app.example/', 'null', 'http://app.example') {
        $res = preflight('gw5', '/cors-list', $o);
        ok t_cmp(acao($res), '', "unlisted origin $o: no Access-Control-Allow-Origin");
        yes vary_origin($res), "unlisted origin $o: Vary: Origin";
    }
    $res = preflight('gw5', '/cors-list', 'https://evil.example');
    yes !defined(scalar challenges($res)), 'unlisted origin: preflight still unauthenticated';
    ok t_cmp($res->code, 204, 'unlisted origin: 204 (the browser refuses for lack of the header)');

    # OPTIONS that is no preflight (no Access-Control-Request-Method) is a request like any other
    $res = req(OPTIONS => 'gw5', '/cors-list', Origin => $APP);
    ok t_cmp($res->code, 401, 'OPTIONS without Access-Control-Request-Method: authenticated (401)');
    ok t_cmp(acao($res), $APP, 'and still carries the CORS answer');

    # actual requests
    $res = req(POST => 'gw5', '/cors-list', Origin => $APP, 'Content-Type' => 'application/json');
    ok t_cmp($res->code, 401, 'listed origin, no token: 401');
    ok t_cmp(acao($res), $APP, '401: Access-Control-Allow-Origin');
    my $eh = $res->header('Access-Control-Expose-Headers');
    yes has_list($eh, 'WWW-Authenticate'), '401: exposes WWW-Authenticate';
    yes has_list($eh, 'Mcp-Session-Id'), '401: exposes Mcp-Session-Id';
    yes vary_origin($res), '401: Vary: Origin';
    ok t_cmp($res->header('WWW-Authenticate') // '', qr/^Bearer resource_metadata=/, '401: the challenge itself');
    $res = req(POST => 'gw5', '/cors-list', Origin => $APP, Authorization => 'Bearer garbage');
    ok t_cmp($res->code, 401, 'listed origin, bad token: 401');
    ok t_cmp(acao($res), $APP, 'bad token 401: Access-Control-Allow-Origin');
    ok t_cmp($res->header('Access-Control-Expose-Headers') // '', qr/WWW-Authenticate/, 'bad token 401: exposed');
    $res = req(POST => 'gw5', '/cors-list', Origin => 'https://evil.example');
    ok t_cmp($res->code, 401, 'unlisted origin: 401');
    ok t_cmp(acao($res), '', 'unlisted origin: no Access-Control-Allow-Origin on the 401');
    $res = req(POST => 'gw5', '/cors-list');
    ok t_cmp(acao($res), '', 'no Origin: no Access-Control-Allow-Origin');

    $res = req(GET => 'gw5', '/cors-list', Origin => $APP, Authorization => "Bearer $good");
    ok t_cmp($res->code, 200, 'listed origin, valid token: proxied');
    ok t_cmp((echo_of($res) || { headers => {} })->{headers}{'x-remote-user'}, 'cora', 'backend reached');
    ok t_cmp(acao($res), $APP, '200: Access-Control-Allow-Origin');
    ok t_cmp($res->header('Access-Control-Expose-Headers') // '', qr/Mcp-Session-Id/, '200: Mcp-Session-Id exposed');
    yes vary_origin($res), '200: Vary: Origin';
    $res = req(GET => 'gw5', '/cors-list', Origin => $APP, Authorization => "Bearer $good", 'X-Echo-CORS' => 1);
    ok t_cmp($res->code, 200, 'backend that answers CORS itself: proxied');
    ok t_cmp(join('|', $res->header('Access-Control-Allow-Origin')), $APP,
             'backend that answers CORS itself: one Access-Control-Allow-Origin, the gateway\'s');
    $eh = join(',', $res->header('Access-Control-Expose-Headers'));
    yes has_list($eh, 'Mcp-Session-Id') && has_list($eh, 'X-Echo-Backend'),
        "backend that answers CORS itself: the gateway's and the backend's exposed headers ($eh)";

    # the location's discovery documents follow its list
    for my $path ('/.well-known/oauth-protected-resource/cors-list', '/.well-known/oauth-authorization-server/cors-list',
                  '/cors-list/.well-known/openid-configuration') {
        $res = req(GET => 'gw5', $path, Origin => $APP);
        ok t_cmp($res->code, 200, "$path: 200");
        ok t_cmp(acao($res), $APP, "$path: listed origin allowed");
        yes vary_origin($res), "$path: Vary: Origin";
        $res = req(GET => 'gw5', $path, Origin => 'https://evil.example');
        ok t_cmp(acao($res), '', "$path: unlisted origin not allowed");
        good_preflight(preflight('gw5', $path, $APP, 'GET'), $APP, "$path preflight", [qw(GET)]);
    }
    good_preflight(preflight('gw5', '/.well-known/mcp-auth/register/cors-list', $APP), $APP,
                   'registration preflight, listed origin', [qw(POST)]);
    ok t_cmp(acao(preflight('gw5', '/.well-known/mcp-auth/register/cors-list', 'https://evil.example')), '',
             'registration preflight, unlisted origin: not allowed');
}

# --- any origin ------------------------------------------------------------------------
{
    my $res = preflight('gw5', '/cors-star', 'https://anything.example');
    good_preflight($res, '*', 'MCPAuthCORSOrigins *: preflight', [qw(GET POST DELETE)]);
    $res = req(POST => 'gw5', '/cors-star', Origin => 'https://anything.example');
    ok t_cmp($res->code, 401, '*: 401');
    ok t_cmp(acao($res), '*', '*: 401 allows any origin');
    ok t_cmp($res->header('Access-Control-Expose-Headers') // '', qr/WWW-Authenticate/, '*: 401 exposes WWW-Authenticate');
}

# --- every well-known and registration path answers preflights, unauthenticated ---------
for my $c (
    [ 'gw5',    '/.well-known/oauth-protected-resource/kc',  'GET' ],
    [ 'gw5one', '/.well-known/oauth-protected-resource',     'GET' ],
    [ 'gw5',    '/.well-known/oauth-authorization-server/kc', 'GET' ],
    [ 'gw5',    '/.well-known/openid-configuration/kc',      'GET' ],
    [ 'gw5',    '/kc/.well-known/openid-configuration',      'GET' ],
    [ 'gw5one', '/.well-known/oauth-authorization-server',   'GET' ],
    [ 'gw5',    '/.well-known/mcp-auth/register/kc',         'POST' ],
    [ 'gw5',    '/.well-known/mcp-auth/register/ak',         'POST' ],
    [ 'gw5',    '/.well-known/mcp-auth/token/entra',         'POST' ],
    [ 'gw5',    '/.well-known/mcp-auth/authorize/entra',     'GET' ],
) {
    my ($vhost, $path, $method) = @$c;
    good_preflight(preflight($vhost, $path, $APP, $method), '*', "preflight $path", [ $method ]);
}
