# Unknown kid: one throttled JWKS refetch (30 s window, shared by processes).
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test;
use Apache::TestUtil;
use MCPTest;
use MintToken;

plan tests => 29;

sub c { MintToken::claims(-iss => issuer(), -aud => url('mcp', '/mcp'), @_) }
my ($a, $a_bad, $b, $c_unknown, $d_unknown, $c_es) = mint_many(
    { key => 'rsa1', header => { alg => 'RS256', kid => 'rotA' }, payload => c(sub => 'ann') },
    { key => 'rsa2', header => { alg => 'RS256', kid => 'rotA' }, payload => c(sub => 'ann') },   # wrong key for rotA
    { key => 'rsa2', header => { alg => 'RS256', kid => 'rotB' }, payload => c(sub => 'ben') },
    { key => 'rsa2', header => { alg => 'RS256', kid => 'rotX' }, payload => c(sub => 'xav') },
    { key => 'rsa2', header => { alg => 'RS256', kid => 'rotY' }, payload => c(sub => 'yan') },
    { key => 'p256', header => { alg => 'ES256', kid => 'rotC' }, payload => c(sub => 'cid') },
);

write_state('rot.current', "jwks-rot-a.json\n");
write_state('rot.hits', '');
sub fetches { scalar(my @l = read_lines('rot.hits')) }
sub call    { req(GET => 'mcp', '/mcp-rot', Authorization => "Bearer $_[0]") }
sub user_of { (echo_of($_[0]) || { headers => {} })->{headers}{'x-remote-user'} // '' }

# Set A: rotA only.
my $res = call($a);
ok t_cmp($res->code, 200, 'rotA accepted');
ok t_cmp(user_of($res), 'ann', 'backend sees ann');
ok t_cmp(fetches(), 1, 'JWKS fetched once');
for my $i (1 .. 3) {
    ok t_cmp(call($a)->code, 200, "rotA again ($i)");
}
ok t_cmp(fetches(), 1, 'cached: still one fetch');

# A bad signature with a known kid is no reason to refetch.
$res = call($a_bad);
ok t_cmp($res->code, 401, 'rotA with a bad signature: 401');
ok t_cmp((challenge($res) || {})->{error}, 'invalid_token', 'error=invalid_token');
ok t_cmp(fetches(), 1, 'bad signature with a known kid: no fetch');

# The IdP rotates: set B adds rotB.
write_state('rot.current', "jwks-rot-b.json\n");
my $t_rotation = time;
$res = call($b);
ok t_cmp($res->code, 200, 'rotated-in rotB accepted');
ok t_cmp(user_of($res), 'ben', 'backend sees ben');
ok t_cmp(fetches(), 2, 'exactly one refetch for the unknown kid');

# Every process (the event MPM runs several) now knows rotB without fetching.
my $ok = 0;
$ok += call($b)->code == 200 for 1 .. 8;
ok t_cmp($ok, 8, 'rotB accepted on repeated requests');
ok t_cmp(fetches(), 2, 'no further fetches');

# A second unknown kid within the window: refused, nothing fetched.
for my $t ($c_unknown, $d_unknown) {
    $res = call($t);
    ok t_cmp($res->code, 401, 'unknown kid within the window: 401');
    ok t_cmp((challenge($res) || {})->{error}, 'invalid_token', 'error=invalid_token');
}
my $n401 = 0;
$n401 += call($c_unknown)->code == 401 for 1 .. 5;
ok t_cmp($n401, 5, 'repeated unknown kids: all 401');
ok t_cmp(fetches(), 2, 'unknown kids within 30 s: no fetch at all');

# Set C is published; its kid is refused until the window has passed ...
write_state('rot.current', "jwks-rot-c.json\n");
$res = call($c_es);
ok t_cmp($res->code, 401, 'rotC inside the throttle window: 401');
ok t_cmp(fetches(), 2, 'throttled: no fetch');

# ... and accepted, with one more fetch, once it has.
my $wait = $t_rotation + 31 - time;
sleep $wait if $wait > 0;
$res = call($c_es);
ok t_cmp($res->code, 200, 'rotC after the window: accepted');
ok t_cmp(user_of($res), 'cid', 'backend sees cid');
ok t_cmp(fetches(), 3, 'one refetch after the window');
ok t_cmp(call($b)->code, 200, 'rotB still accepted');
ok t_cmp(call($a)->code, 200, 'rotA still accepted');
ok t_cmp(fetches(), 3, 'no further fetch');
