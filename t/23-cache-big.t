# A 2,000-key JWKS of about 450 KB works with the default shmcb cache and is
# fetched once for all processes (/i4/big; the token's kid is the last key).
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test;
use Apache::TestUtil;
use Time::HiRes qw(time);
use MCPTest;
use MintToken;
use CacheTest;

plan tests => 12;

my $size = -s MintToken::fixtures_dir() . '/www/i4-big.json';
my ($last, $first, $badsig) = mint_many(
    { key => 'biglast', header => { alg => 'ES256', kid => 'big-1999' }, payload => i4_claims(sub => 'zed') },
    { key => 'rsa1', header => { alg => 'RS256', kid => 'big-0000' }, payload => i4_claims(sub => 'abe') },
    { key => 'p256', header => { alg => 'ES256', kid => 'big-1999' }, payload => i4_claims(sub => 'eve') },
);
t_debug("i4-big.json: $size bytes");
ok t_cmp($size > 400_000 && $size < 1_000_000 ? 'ok' : $size, 'ok', "key set of $size bytes (400 KB .. 1 MiB)");

reset_set('big', 'file i4-big.json');
my $t = time;
my $res = bearer('i4', '/i4/big', $last);
my $first_ms = 1000 * (time - $t);
t_debug(sprintf 'first request (fetch + parse of 2,000 keys): %.0f ms', $first_ms);
ok t_cmp($res->code, 200, 'token signed with the last of 2,000 keys accepted');
ok t_cmp((echo_of($res) || { headers => {} })->{headers}{'x-remote-user'} // '', 'zed', 'backend sees zed');
ok t_cmp(bearer('i4', '/i4/big', $first)->code, 200, 'token signed with the first key accepted');
ok t_cmp(bearer('i4', '/i4/big', $badsig)->code, 401, 'wrong key under the last kid: 401');
ok t_cmp(fetches('big'), 1, 'one fetch');

# Every process, on new connections: no further fetch.
my ($r, $secs) = concurrent(url => url('i4', '/i4/big'), tokens => [ ($last) x 24 ], conns => 8);
t_debug(sprintf '24 requests over 8 clients: %s in %.2f s', summarize($r), $secs);
ok t_cmp(summarize($r), '200 x24', '24 requests on new connections accepted');
ok t_cmp(fetches('big'), 1, 'still one fetch across processes');

my $j = (key_status(status_json(), 'big') || {})->{jwks} || {};
ok t_cmp($j->{fetches} // -1, 1, 'status: fetches 1');
ok t_cmp(scalar @{ $j->{kids} || [] }, 2000, 'status: 2000 kids');
ok t_cmp(($j->{kids} || [])->[-1] // '', 'big-1999', 'status: last kid big-1999');
ok t_cmp($j->{last_fetch_ok} ? 'true' : 'false', 'true', 'status: last fetch ok');
