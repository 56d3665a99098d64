# Tokens for the backend in a fleet (MCPAuthTokenExchange with MCPAuthCache
# redis): two httpd servers share one redis; a token exchanged at one is
# reused at the other, one exchange in flight across both, and what redis
# holds is sealed: no client token and no exchanged token in it, as anyone
# who can read that redis would see. With redis stopped, exchanges still
# work (each server asks for itself).
#
# Servers: MCPInstance (event MPM), /mcp proxied to the echo backend of the
# main test server; the token endpoint is the fixture /realms/xfleet/token
# (t/cgi-bin/introspect, vhost i18iidp), the client token a JWT of realm
# main (t/conf/issue18i.conf.in). A private redis on port 6392 (t/29 uses
# 6390, t/31 6391). Skipped only when redis-server cannot be installed.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test;
use Apache::TestUtil;
use JSON::PP ();
use LWP::UserAgent ();
use Time::HiRes qw(time sleep);
use MCPTest;
use MintToken;
use CacheTest qw(concurrent summarize);
use MCPInstance;
use PrivateRedis;

my $REDIS_PORT = 6392;

if (my $why = PrivateRedis::unavailable()) {
    plan skip_all => $why;
    exit 0;
}

plan tests => 13;

my $J = JSON::PP->new->canonical;
my $SECRET = "p\@ss:w/rd+&=x%";           # fixtures/i18i/secret.txt (t/TEST.PL)
my $FIX = fixtures_dir();

sub iss_of { url('i18iidp', "/realms/$_[0]") }
sub hits { map { $J->decode($_) } grep { /\S/ } read_lines("intro-$_[0].hits") }
sub exchanges { my ($realm, $token) = @_; scalar grep { defined $_->{grant} && ($_->{token} // '') eq $token } hits($realm) }

my $n = 0;
sub jwt_for {
    mint(key => 'rsa1', header => { alg => 'RS256', kid => 'rsa1' },
         payload => claims(-iss => iss_of('main'), -aud => 'urn:i18i', sub => $_[0], jti => sprintf('x36-%d-%d', $$, ++$n)));
}

my $ua = LWP::UserAgent->new(keep_alive => 0, timeout => 60);
# What the backend behind $h got as its token for a request with $token.
sub backend_token {
    my ($h, $token) = @_;
    my $res = $ua->get($h->url('/mcp'), Authorization => "Bearer $token");
    my $e = echo_of($res) or return 'not reached (' . $res->code . ')';
    return $e->{headers}{authorization} // 'no Authorization';
}

write_state('intro-xfleet.json', $J->encode({ basic => "gw-xchg:$SECRET", mode => 'slow 1' }));

my $redis = PrivateRedis->new($REDIS_PORT);
ok t_cmp($redis->start ? 'answers' : 'no answer', 'answers', "private redis on port $REDIS_PORT");

my $idp = port('i18iidp');
sub fleet_server {
    return MCPInstance->new(mpm => 'event', modules => [ 'socache_redis', 'proxy', 'proxy_http' ],
        server => "MCPAuthCache redis:127.0.0.1:$REDIS_PORT",
        location => join("\n    ", "MCPAuthIssuer http://localhost:$idp/realms/main",
                         "MCPAuthJWKSURI http://localhost:$idp/jwks.json", 'MCPAuthAudience urn:i18i',
                         "MCPAuthTokenExchange audience=urn:tickets endpoint=http://127.0.0.1:$idp/realms/xfleet/token",
                         qq{MCPAuthTokenExchangeClient gw-xchg "$FIX/i18i/secret.txt"},
                         "ProxyPass http://127.0.0.1:$idp/cgi/echo disablereuse=On"));
}
my ($A, $B) = (fleet_server(), fleet_server());
$_->start for $A, $B;
ok t_cmp($A->error_log, qr/MCPAUTH0025: .*shared cache redis/, 'the servers use the redis cache');

# --- one exchange for the fleet ----------------------------------------------------------
my $t = jwt_for('fleet-alice');
my $at_a = backend_token($A, $t);
ok t_cmp($at_a, qr/^Bearer xt-xfleet-/, 'server A: the backend gets an exchanged token');
ok t_cmp(backend_token($B, $t), $at_a, 'server B, the same client token: the token A had exchanged, from redis');
ok t_cmp(exchanges('xfleet', $t), 1, 'one exchange for both servers');

my $u = jwt_for('fleet-bob');
my ($r) = concurrent(urls => [ $A->url('/mcp'), $B->url('/mcp') ], tokens => [ ($u) x 6 ], conns => 6);
ok t_cmp(summarize($r), '200 x6', 'six parallel requests with a new token at both servers (the IdP slow): all 200');
ok t_cmp(exchanges('xfleet', $u), 1, 'one exchange in flight across the fleet');

# --- what redis holds ----------------------------------------------------------------------
(my $issued = $at_a) =~ s/^Bearer //;
my @values = $redis->all_values;
my $all = join '', @values;
ok t_cmp(index($all, '"rsa1"') >= 0 ? 'holds the key set' : sprintf('%d values, no key set', scalar @values),
         'holds the key set', 'redis holds the shared cache (the key set is there: the look is real)');
my @found = grep { index($all, $_->[1]) >= 0 } [ 'the client token', $t ], [ 'the exchanged token', $issued ],
                                                [ 'the other client token', $u ];
ok t_cmp(@found ? 'holds ' . join(', ', map { $_->[0] } @found) : 'no token', 'no token',
         sprintf('redis (%d values) holds no client token and no exchanged token: records are sealed', scalar @values));

# --- redis down: each server exchanges for itself ------------------------------------------
ok t_cmp($redis->stop ? 'stopped' : 'still up', 'stopped', 'redis stopped');
my $v = jwt_for('fleet-carol');
my $down_a = backend_token($A, $v);
ok t_cmp($down_a, qr/^Bearer xt-xfleet-/, 'redis down: server A still gets a token for the backend');
ok t_cmp(backend_token($B, $v), qr/^Bearer xt-xfleet-/, 'redis down: server B too');
ok t_cmp(exchanges('xfleet', $v), 2, 'without the shared cache, each server exchanged for itself');

$_->stop for $A, $B;
