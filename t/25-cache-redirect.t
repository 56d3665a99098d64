# Key-set redirects: followed within the same origin (up to 3 hops, relative
# or absolute), refused to another origin, a loop stops after 3 hops.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test;
use Apache::TestUtil;
use MCPTest;
use MintToken;
use CacheTest;

plan tests => 14;

my ($good) = mint_many(
    { key => 'rsa1', header => { alg => 'RS256', kid => 'i4a' }, payload => i4_claims(sub => 'ann') });
my $idp = url('i4idp', '');
(my $other = $idp) =~ s/localhost/127.0.0.1/;

# same origin: rsame -> (relative) rhop1 -> (absolute) rhop2 -> (relative) rtarget
reset_set('rsame', 'redirect /idp/rhop1');
reset_set('rhop1', "redirect $idp/idp/rhop2");
reset_set('rhop2', 'redirect /idp/rtarget');
reset_set('rtarget', 'file i4-good.json');
my $res = bearer('i4', '/i4/rsame', $good);
ok t_cmp($res->code, 200, 'three same-origin redirects followed: accepted');
ok t_cmp(join(' ', map { fetches($_) } qw(rsame rhop1 rhop2 rtarget)), '1 1 1 1', 'each hop fetched once');
my $j = (key_status(status_json(), 'rsame') || {})->{jwks} || {};
ok t_cmp(join(',', @{ $j->{kids} || [] }), 'i4a', 'status: keys under the configured URL');
ok t_cmp($j->{fetches} // -1, 1, 'status: one fetch');

# another origin (same server, other host name): refused, target never asked
reset_set('rother', "redirect $other/idp/rtarget2");
reset_set('rtarget2', 'file i4-good.json');
my $log0 = error_log_size();
$res = bearer('i4', '/i4/rother', $good);
ok t_cmp($res->code, 401, 'redirect to another origin: 401');
ok t_cmp((challenge($res) || {})->{error}, 'invalid_token', 'error=invalid_token');
ok t_cmp(fetches('rother'), 1, 'the redirecting URL asked once');
ok t_cmp(fetches('rtarget2'), 0, 'the other origin never asked');
$j = (key_status(status_json(), 'rother') || {})->{jwks} || {};
ok t_cmp($j->{last_error} // '', qr/refusing redirect to another origin/, 'status: last_error');
ok t_cmp(error_log_since($log0, qr/MCPAUTH0013/), qr/MCPAUTH0013: .*refusing redirect to another origin \(\Q$other\E\/idp\/rtarget2\)/,
         'error log names the refused location');

# a loop: 1 request + 3 redirects, then give up
reset_set('rloop', "redirect $idp/idp/rloop");
$res = bearer('i4', '/i4/rloop', $good);
ok t_cmp($res->code, 401, 'redirect loop: 401');
ok t_cmp(fetches('rloop'), 4, 'the loop is followed 3 times (4 requests)');
$j = (key_status(status_json(), 'rloop') || {})->{jwks} || {};
ok t_cmp($j->{last_error} // '', qr/too many redirects/, 'status: too many redirects');
ok t_cmp(bearer('i4', '/i4/rloop', $good)->code . ' ' . fetches('rloop'), '401 4', 'within the backoff: no new attempt');
