# Graceful restarts during load: several hundred requests with a valid token
# from 4 clients (a new connection each) while `httpd -k graceful` runs 3
# times: every response is a 200. Dedicated instances (event and prefork).
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test;
use Apache::TestUtil;
use POSIX ();
use Time::HiRes qw(sleep);
use MCPTest;
use MintToken;
use CacheTest;
use MCPInstance;

my @variants = (
    [ 'grevent', 'event', "StartServers 2\nServerLimit 8\nThreadsPerChild 10\nMinSpareThreads 10\nMaxSpareThreads 40\nMaxRequestWorkers 40" ],
    [ 'grprefork', 'prefork', "StartServers 4\nMinSpareServers 4\nMaxSpareServers 10\nMaxRequestWorkers 20" ],
);
my $RESTARTS = 3;
plan tests => 5 * @variants;

my ($tok) = mint_many(
    { key => 'rsa1', header => { alg => 'RS256', kid => 'i4a' }, payload => i4_claims(sub => 'ann') });

for my $v (@variants) {
    my ($name, $mpm, $mpm_conf) = @$v;
    reset_set($name, 'file i4-good.json');
    my $h = MCPInstance->new(mpm => $mpm, mpm_conf => $mpm_conf,
        location => 'MCPAuthIssuer ' . i4_iss() . "\n    MCPAuthJWKSURI " . url('i4idp', "/idp/$name")
                    . "\n    MCPAuthAudience urn:i4");
    $h->start;
    # the restarter: 3 graceful restarts, 1.5 s apart, during the load
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        for (1 .. $RESTARTS) {
            sleep 1.5;
            $h->graceful;
        }
        POSIX::_exit(0);
    }
    my ($r, $secs) = concurrent(url => $h->url('/mcp'), tokens => [$tok], conns => 4, seconds => 1.5 * $RESTARTS + 1.5);
    waitpid $pid, 0;
    my $log = $h->error_log;
    my $restarts = () = $log =~ /AH00493|AH00171/g;   # SIGUSR1 (graceful) received
    my $gens = () = $log =~ /MCPAUTH0025/g;
    my @bad = grep { /Segmentation fault|exit signal|AH00052|MCPAUTH002[0-46]/ } split /\n/, $log;
    t_debug(sprintf "%s (%s): %d requests in %.1f s across %d graceful restarts: %s; %d JWKS fetches",
                    $name, $mpm, scalar @$r, $secs, $restarts, summarize($r), fetches($name));
    my @fail = grep { $_->[0] != 200 } @$r;
    t_debug("first failures: " . join('; ', map { "$_->[0] $_->[2] at $_->[3]" } @fail[0 .. ($#fail < 4 ? $#fail : 4)])) if @fail;
    ok t_cmp($restarts, $RESTARTS, "$name: $RESTARTS graceful restarts happened");
    ok t_cmp(scalar @$r >= 200 ? 'several hundred' : scalar @$r, 'several hundred', "$name: load ran (" . scalar(@$r) . ' requests)');
    ok t_cmp(scalar @fail, 0, "$name: 0 failed requests");
    ok t_cmp(fetches($name) <= $gens ? 'ok' : fetches($name) . " fetches for $gens generations", 'ok',
             "$name: at most one fetch per configuration generation (" . fetches($name) . ')');
    ok t_cmp(join("\n", @bad), '', "$name: no crash or cache error in the log");
    $h->stop;
}
