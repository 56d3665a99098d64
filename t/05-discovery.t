# JWKS found through the issuer's metadata (no MCPAuthJWKSURI).
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test;
use Apache::TestUtil;
use MCPTest;
use MintToken;

plan tests => 19;

my $RFC8414 = '/.well-known/oauth-authorization-server/realms';

sub claims_for {
    my ($realm, $loc, %o) = @_;
    MintToken::claims(-iss => issuer($realm), -aud => url('mcp', $loc), %o);
}

my ($disco, $disco2, $wrong_iss, $oidc, $evil, $evil_other) = mint_many(
    { key => 'rsa1', header => { alg => 'RS256', kid => 'rsa1' }, payload => claims_for('disco', '/mcp-disco', sub => 'dina') },
    { key => 'p384', header => { alg => 'ES384', kid => 'ec384' }, payload => claims_for('disco', '/mcp-disco', sub => 'dora') },
    { key => 'rsa1', header => { alg => 'RS256', kid => 'rsa1' }, payload => claims_for('test', '/mcp-disco') },
    { key => 'rsa1', header => { alg => 'PS256', kid => 'rsa1' }, payload => claims_for('oidc', '/mcp-oidc', sub => 'olga') },
    { key => 'rsa1', header => { alg => 'RS256', kid => 'rsa1' }, payload => claims_for('evil', '/mcp-evil') },
    { key => 'rsa1', header => { alg => 'RS256', kid => 'rsa1' }, payload => claims_for('other', '/mcp-evil') },
);

my @before = read_lines('meta-hits.log');
sub new_meta_hits { my @l = read_lines("meta-hits.log"); my @n = @l[ scalar(@before) .. $#l ]; return @n }

# --- RFC 8414 path-inserted document ---------------------------------------------------
{
    my $res = req(GET => 'mcp', '/mcp-disco', Authorization => "Bearer $disco");
    ok t_cmp($res->code, 200, 'RFC 8414 discovery: token accepted');
    ok t_cmp((echo_of($res) || { headers => {} })->{headers}{'x-remote-user'}, 'dina', 'backend sees the sub');
    my @hits = new_meta_hits();
    ok t_cmp(scalar(grep { $_ eq "$RFC8414/disco" } @hits), 1, 'the RFC 8414 document was fetched once');
    ok t_cmp(scalar(grep { m{^/realms/disco/} } @hits), 0, 'the OIDC form was not needed');

    @before = read_lines('meta-hits.log');
    $res = req(GET => 'mcp', '/mcp-disco', Authorization => "Bearer $disco2");
    ok t_cmp($res->code, 200, 'second token (other key of the same JWKS) accepted');
    ok t_cmp(scalar(my @n = new_meta_hits()), 0, 'discovery document cached: no new fetch');

    $res = req(GET => 'mcp', '/mcp-disco', Authorization => "Bearer $wrong_iss");
    ok t_cmp($res->code, 401, 'token from another issuer: 401');
    ok t_cmp((challenge($res) || {})->{error}, 'invalid_token', 'error=invalid_token');
}

# --- only {issuer}/.well-known/openid-configuration exists ------------------------------------
{
    @before = read_lines('meta-hits.log');
    my $res = req(GET => 'mcp', '/mcp-oidc', Authorization => "Bearer $oidc");
    ok t_cmp($res->code, 200, 'OIDC discovery fallback: token accepted');
    ok t_cmp((echo_of($res) || { headers => {} })->{headers}{'x-remote-user'}, 'olga', 'backend sees the sub');
    my @hits = new_meta_hits();
    ok t_cmp(scalar(grep { $_ eq "$RFC8414/oidc" } @hits), 1, 'RFC 8414 form tried first (404)');
    ok t_cmp(scalar(grep { $_ eq '/realms/oidc/.well-known/openid-configuration' } @hits), 1,
             'then the OIDC form');
    my ($i8414) = grep { $hits[$_] eq "$RFC8414/oidc" } 0 .. $#hits;
    my ($ioidc) = grep { $hits[$_] eq '/realms/oidc/.well-known/openid-configuration' } 0 .. $#hits;
    ok t_cmp((defined $i8414 && defined $ioidc && $i8414 < $ioidc) ? 1 : 0, 1, 'in that order');
}

# --- documents naming another issuer are not used ---------------------------------------------
{
    my $log  = error_log_size();
    my $hits = echo_hits();
    my $res = req(GET => 'mcp', '/mcp-evil', Authorization => "Bearer $evil");
    ok t_cmp($res->code, 401, 'metadata with a foreign issuer: 401 even for a well-signed token');
    ok t_cmp((challenge($res) || {})->{error}, 'invalid_token', 'error=invalid_token');
    ok t_cmp(echo_hits(), $hits, 'backend not reached');
    ok t_cmp(error_log_since($log, qr/MCPAUTH0012/), qr/MCPAUTH0012: .*realms\/evil/,
             'error log names the issuer without discovery document');

    $res = req(GET => 'mcp', '/mcp-evil', Authorization => "Bearer $evil_other");
    ok t_cmp($res->code, 401, 'token with the issuer the document claims: 401');
    ok t_cmp(echo_hits(), $hits, 'backend not reached');
}
