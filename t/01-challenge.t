# The Bearer challenge: requests without usable credentials.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test;
use Apache::TestUtil;
use JSON::PP ();
use MCPTest;
use MintToken;

plan tests => 48;

my $prm_mcp = url('mcp', '/.well-known/oauth-protected-resource/mcp');
# the algs a DPoP challenge names are those the metadata lists
my $DPOP_ALGS = join ' ', @{ JSON::PP->new->decode(req(GET => 'mcp', '/.well-known/oauth-protected-resource/mcp')->content)
                               ->{dpop_signing_alg_values_supported} };
my $good    = mint(key => 'rsa1', header => { alg => 'RS256', kid => 'rsa1' },
                   payload => std_claims());

sub json_body {
    my $res = shift;
    return eval { JSON::PP->new->decode($res->decoded_content) };
}

# --- no credentials: 401, one challenge, no error ---------------------------
{
    my $hits = echo_hits();
    my $res = req(GET => 'mcp', '/mcp');
    ok t_cmp($res->code, 401, 'no Authorization: 401');
    my @all = challenges($res);
    ok t_cmp(scalar @all, 1, 'exactly one WWW-Authenticate');
    ok t_cmp($all[0],
             qq{Bearer resource_metadata="$prm_mcp", scope="openid mcp:tools", }
             . qq{DPoP resource_metadata="$prm_mcp", algs="$DPOP_ALGS"},
             'challenge names the metadata URL and the scopes, no error; DPoP offered beside Bearer (RFC 9449 §7.1)');
    ok t_cmp($res->header('Content-Type'), qr{^application/json}, 'JSON body');
    my $body = json_body($res);
    ok t_cmp(ref $body, 'HASH', 'body parses as a JSON object');
    ok t_cmp(echo_hits(), $hits, 'backend not reached');
}

# --- another scheme counts as no credentials ---------------------------------
{
    my $res = req(GET => 'mcp', '/mcp', Authorization => 'Basic YWxpY2U6c2VjcmV0');
    ok t_cmp($res->code, 401, 'Basic credentials: 401');
    my $c = challenge($res);
    ok t_cmp($c && $c->{scheme}, 'Bearer', 'Bearer challenge');
    ok t_cmp($c && $c->{resource_metadata}, $prm_mcp, 'resource_metadata');
    yes !exists $c->{error}, 'no error parameter for another scheme';
}

# A token in the query is not a credential by default (header only).
{
    my $hits = echo_hits();
    my $res = req(GET => 'mcp', "/mcp?access_token=$good");
    ok t_cmp($res->code, 401, 'token in the query: 401');
    my $c = challenge($res);
    yes !($c && exists $c->{error}), 'query token treated as no credentials';
    ok t_cmp(echo_hits(), $hits, 'backend not reached');
}

# POST (how MCP clients talk) is challenged the same way.
{
    my $res = req(POST => 'mcp', '/mcp', 'Content-Type' => 'application/json');
    ok t_cmp($res->code, 401, 'POST without token: 401');
    ok t_cmp(challenge($res) && challenge($res)->{resource_metadata}, $prm_mcp,
             'POST challenge has resource_metadata');
}

# A sub-path of the location names the location's metadata.
{
    my $res = req(GET => 'mcp', '/mcp/some/tool');
    ok t_cmp($res->code, 401, 'sub-path: 401');
    ok t_cmp(challenge($res) && challenge($res)->{resource_metadata}, $prm_mcp,
             'sub-path: metadata of the location');
}

# A forged Host header does not move the metadata URL elsewhere.
{
    my $res = req(GET => 'mcp', '/mcp', Host => 'evil.example');
    ok t_cmp($res->code, 401, 'forged Host: 401');
    ok t_cmp(challenge($res) && challenge($res)->{resource_metadata}, $prm_mcp,
             'forged Host: metadata URL stays on the server name');
}

# --- malformed Authorization: 400 invalid_request ----------------------------
for my $case (
    [ 'Bearer with no token',          [ Authorization => 'Bearer' ] ],
    [ 'junk after the token',          [ Authorization => "Bearer $good junk" ] ],
    [ 'two tokens in one header',      [ Authorization => "Bearer $good, Bearer $good" ] ],
    [ 'two Authorization headers',     [ Authorization => "Bearer $good",
                                         Authorization => "Bearer $good" ] ],
    [ 'non-b64token characters',       [ Authorization => 'Bearer a"b' ] ],
) {
    my ($name, $headers) = @$case;
    my $hits = echo_hits();
    my $res = req(GET => 'mcp', '/mcp', @$headers);
    ok t_cmp($res->code, 400, "$name: 400");
    my $c = challenge($res);
    ok t_cmp($c && $c->{error}, 'invalid_request', "$name: error=invalid_request");
    ok t_cmp(echo_hits(), $hits, "$name: backend not reached");
}

# --- an invalid token: 401 invalid_token with a description -------------------
{
    my $res = req(GET => 'mcp', '/mcp', Authorization => 'Bearer not-a-jwt');
    ok t_cmp($res->code, 401, 'garbage token: 401');
    my $c = challenge($res);
    ok t_cmp($c && $c->{error}, 'invalid_token', 'error=invalid_token');
    ok t_cmp($c && $c->{error_description}, qr/\S/, 'error_description present');
    ok t_cmp($c && $c->{scope}, 'openid mcp:tools', 'scope present');
    ok t_cmp($c && $c->{resource_metadata}, $prm_mcp, 'resource_metadata present');
    my $body = json_body($res);
    ok t_cmp($body && $body->{error}, 'invalid_token', 'JSON body names the error');
}

# --- per-location challenges --------------------------------------------------
{
    my $res = req(GET => 'mcp', '/mcp-res');
    ok t_cmp($res->code, 401, 'MCPAuthResource location: 401');
    ok t_cmp(challenges($res) // '',
             'Bearer resource_metadata="https://mcp.example.test/.well-known/oauth-protected-resource/api", scope="mcp:tools", '
             . qq{DPoP resource_metadata="https://mcp.example.test/.well-known/oauth-protected-resource/api", algs="$DPOP_ALGS"},
             'metadata URL derived from MCPAuthResource, its own scopes');
}
{
    my $res = req(GET => 'mcp', '/mcp-aud');
    ok t_cmp($res->code, 401, 'location without scopes: 401');
    my $c = challenge($res);
    ok t_cmp($c && $c->{resource_metadata},
             url('mcp', '/.well-known/oauth-protected-resource/mcp-aud'),
             'metadata URL of that location');
    yes !($c && exists $c->{scope}), 'no scope parameter when none configured';
}

# The right scheme in another letter case is still Bearer (RFC 9110 §11.1).
{
    my $res = req(GET => 'mcp', '/mcp', Authorization => "bEARER $good");
    ok t_cmp($res->code, 200, 'scheme name is case-insensitive');
}

# Unprotected paths of the same vhost are left alone.
{
    my $res = req(GET => 'mcp', '/not-protected');
    ok t_cmp($res->code, 404, 'unprotected path: plain 404');
    yes !defined(scalar challenges($res)), 'unprotected path: no challenge';
}
