# Many key sets in the default shmcb cache: each is fetched once for all
# processes, and a process that never used a key set still finds the good
# copy in the shared cache while the IdP is down.
# A prefork instance with 20 protected locations, each with its own key set.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test;
use Apache::TestUtil;
use LWP::UserAgent ();
use MCPTest;
use MintToken;
use CacheTest;
use MCPInstance;

my $N = 20;
plan tests => 6;

my ($tok) = mint_many(
    { key => 'rsa1', header => { alg => 'RS256', kid => 'i4a' }, payload => i4_claims(sub => 'ann') });
my $locs = '';
for my $i (1 .. $N) {
    reset_set("many$i", 'file i4-good.json');
    $locs .= "<Location /m$i>\n    AuthType MCP\n    MCPAuthIssuer " . i4_iss() . "\n"
           . "    MCPAuthJWKSURI " . url('i4idp', "/idp/many$i") . "\n"
           . "    MCPAuthAudience urn:i4\n    Require valid-user\n</Location>\n";
}
my $h = MCPInstance->new(mpm => 'prefork',
    mpm_conf => "StartServers 4\nMinSpareServers 4\nMaxSpareServers 8\nKeepAliveTimeout 30",
    location => 'MCPAuthIssuer ' . i4_iss() . "\n    MCPAuthAudience urn:i4",
    modules => ['alias'],
    server => "$locs\nAliasMatch \"^/m[0-9]+\$\" \"%DIR%/www/mcp\"");
$h->start;
sub total { my $t = 0; $t += fetches("many$_") for 1 .. $N; $t }

# One child (held by this keep-alive connection) loads every key set.
my $ka = LWP::UserAgent->new(keep_alive => 1, timeout => 30);
my @codes = map { $ka->get($h->url("/m$_"), Authorization => "Bearer $tok")->code } 1 .. $N;
ok t_cmp(join(' ', @codes), join(' ', ('200') x $N), "$N key sets: each accepted once");
ok t_cmp(total(), $N, "$N fetches, one per key set");

# The other children, on new connections: the shared copies, no fetch.
my (%sum, $all);
for my $i (1 .. $N / 2) {
    my ($r) = concurrent(url => $h->url("/m$i"), tokens => [ ($tok) x 6 ], conns => 6);
    $sum{ summarize($r) }++;
}
t_debug('fresh copies, other children: ' . join('; ', map { "$_ (x$sum{$_})" } sort keys %sum)
        . '; fetches now ' . total());
ok t_cmp(join('; ', sort keys %sum), '200 x6', 'other children accept every token');
ok t_cmp(total(), $N, "still $N fetches: the other children used the shared copies");

# The IdP goes down; children that never used sets 11..20 must still find
# the good copies in the shared cache.
set_mode("many$_", 'status 503') for 1 .. $N;
my $before = total();
%sum = ();
for my $i ($N / 2 + 1 .. $N) {
    my ($r) = concurrent(url => $h->url("/m$i"), tokens => [ ($tok) x 6 ], conns => 6);
    $sum{ summarize($r) }++;
}
t_debug('IdP down, other children: ' . join('; ', map { "$_ (x$sum{$_})" } sort keys %sum)
        . '; fetch attempts ' . (total() - $before));
ok t_cmp(join('; ', sort keys %sum), '200 x6', 'IdP down: other children still accept (shared copies)');
ok t_cmp(total() - $before, 0, 'IdP down: no fetch attempt (the copies are fresh)');
my @evict = grep { /MCPAUTH0013/ } split /\n/, $h->error_log;
t_debug("first error: $evict[0]") if @evict;
undef $ka;
$h->stop;
