# Unknown-kid and bad-signature floods from many parallel connections, and a
# rotation accepted within one request (/i4/flood: MCPAuthJWKSMinRefetch 5).
# Fetch counts come from the fixture's own log (fixtures/state/flood.hits).
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test;
use Apache::TestUtil;
use Time::HiRes ();
use MCPTest;
use MintToken;
use CacheTest;

plan tests => 24;

my $WINDOW = 5;   # MCPAuthJWKSMinRefetch of /i4/flood
my $N = 200;
my @specs = (
    { key => 'rsa1', header => { alg => 'RS256', kid => 'i4a' }, payload => i4_claims(sub => 'ann') },
    { key => 'rsa2', header => { alg => 'RS256', kid => 'i4b' }, payload => i4_claims(sub => 'ben') },
    (map { { key => 'rsa2', header => { alg => 'RS256', kid => "unknown-$_" }, payload => i4_claims(sub => "u$_") } } 1 .. $N),
    (map { { key => 'rsa2', header => { alg => 'RS256', kid => 'i4a' }, payload => i4_claims(sub => "b$_") } } 1 .. $N),
    (map { { key => 'rsa2', header => { alg => 'RS256' }, payload => i4_claims(sub => "n$_") } } 1 .. 50),
);
my ($good, $rotated, @rest) = mint_many(@specs);
my @unknown = splice @rest, 0, $N;
my @badsig  = splice @rest, 0, $N;
my @nokid   = @rest;

reset_set('flood', 'file i4-good.json');
my $URL = url('i4', '/i4/flood');
sub call    { bearer('i4', '/i4/flood', $_[0]) }
sub user_of { (echo_of($_[0]) || { headers => {} })->{headers}{'x-remote-user'} // '' }
sub hit_times { map { (split / /)[0] } read_lines('flood.hits') }
sub all_401 {
    my $r = shift;
    return scalar(grep { $_->[0] == 401 && $_->[2] eq 'invalid_token' } @$r) == @$r ? 'all 401 invalid_token'
         : summarize($r);
}

# Warm: one fetch.
my $res = call($good);
ok t_cmp($res->code, 200, 'i4a accepted');
ok t_cmp(fetches('flood'), 1, 'one fetch to warm up');

# Burst: 200 distinct unknown kids over 20 keep-alive connections.
my ($r, $secs) = concurrent(url => $URL, tokens => \@unknown, conns => 20, keep_alive => 1);
t_debug(sprintf "unknown-kid burst: %d requests in %.2f s: %s; fetches now %d",
                scalar @$r, $secs, summarize($r), fetches('flood'));
ok t_cmp(scalar @$r, $N, "burst: $N responses");
ok t_cmp(all_401($r), 'all 401 invalid_token', 'burst: every unknown kid refused');
my $burst_fetches = fetches('flood') - 1;
ok t_cmp($burst_fetches, $secs < $WINDOW - 0.5 ? 1 : qr/^[12]$/,
         sprintf('burst of %d unknown kids in %.1f s: one refetch (got %d)', $N, $secs, $burst_fetches));

# Bad signatures with a known kid, and tokens without kid: never a fetch.
my $before = fetches('flood');
($r, $secs) = concurrent(url => $URL, tokens => \@badsig, conns => 20, keep_alive => 1);
t_debug(sprintf "bad-signature flood: %d in %.2f s: %s", scalar @$r, $secs, summarize($r));
ok t_cmp(scalar @$r, $N, "bad signatures: $N responses");
ok t_cmp(all_401($r), 'all 401 invalid_token', 'bad signatures: all refused');
ok t_cmp(fetches('flood') - $before, 0, 'bad-signature flood: 0 fetches');
($r, $secs) = concurrent(url => $URL, tokens => \@nokid, conns => 10, keep_alive => 1);
ok t_cmp(all_401($r), 'all 401 invalid_token', 'tokens without kid: all refused');
ok t_cmp(fetches('flood') - $before, 0, 'tokens without kid: 0 fetches');
ok t_cmp(call($good)->code, 200, 'i4a still accepted after the floods');

# A sustained flood longer than the window: refetches at least 5 s apart.
$before = fetches('flood');
($r, $secs) = concurrent(url => $URL, tokens => \@unknown, conns => 20, keep_alive => 1,
                         seconds => $WINDOW + 1.5);
my @t = hit_times();
my @gaps = map { $t[$_] - $t[$_ - 1] } 2 .. $#t;   # between refetches (hit 0 is the warm-up)
my $min_gap = @gaps ? (sort { $a <=> $b } @gaps)[0] : 99;
my $sustained = fetches('flood') - $before;
t_debug("client retries after keep-alive closes: $CacheTest::RETRIES");
t_debug(sprintf "sustained flood: %d requests in %.2f s: %s; %d refetches; gaps %s",
                scalar @$r, $secs, summarize($r), $sustained, join(' ', map { sprintf '%.2f', $_ } @gaps));
ok t_cmp(all_401($r), 'all 401 invalid_token', sprintf('sustained flood (%d requests): all refused', scalar @$r));
ok t_cmp($sustained >= 1 && $sustained <= 1 + int($secs / $WINDOW) ? 'within bound' : "$sustained refetches",
         'within bound', sprintf('%.1f s of unknown kids: %d refetch(es), at most one per %d s', $secs, $sustained, $WINDOW));
ok t_cmp($min_gap >= $WINDOW - 0.1 ? 'ok' : sprintf('%.2f s', $min_gap), 'ok',
         "refetches at least $WINDOW s apart");

# Rotation: within the window a new kid is refused without a fetch ...
set_mode('flood', 'file i4-rot.json');
$before = fetches('flood');
my $last = (hit_times())[-1];
if (Time::HiRes::time() < $last + $WINDOW - 1) {
    ok t_cmp(call($rotated)->code, 401, 'rotated-in kid inside the window: 401');
    ok t_cmp(fetches('flood') - $before, 0, 'inside the window: no fetch');
}
else {
    skip 'window already over', 0 for 1 .. 2;
}
# ... and once it has passed, accepted within one request with one fetch.
my $wait = $last + $WINDOW + 0.2 - Time::HiRes::time();
Time::HiRes::sleep($wait) if $wait > 0;
$res = call($rotated);
ok t_cmp($res->code, 200, 'rotated-in i4b accepted within one request');
ok t_cmp(user_of($res), 'ben', 'backend sees ben');
ok t_cmp(fetches('flood') - $before, 1, 'exactly one refetch for the rotation');
my $ok = 0;
$ok += call($rotated)->code == 200 for 1 .. 5;
ok t_cmp($ok, 5, 'i4b accepted again');
ok t_cmp(call($good)->code, 200, 'i4a still accepted');
ok t_cmp(fetches('flood') - $before, 1, 'no further fetch');
# Every process knows i4b now: parallel requests, no fetch.
($r) = concurrent(url => $URL, tokens => [ ($rotated) x 24 ], conns => 8, keep_alive => 0);
ok t_cmp(summarize($r), '200 x24', 'i4b on 24 new connections (8 clients): all accepted');
ok t_cmp(fetches('flood') - $before, 1, 'still one refetch');
t_debug("fetch log:\n" . fetch_log('flood'));
