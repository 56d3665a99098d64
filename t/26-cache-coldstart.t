# Cold start of several httpd children: ~30 concurrent requests the moment a
# fresh server listens cost exactly one discovery fetch and one JWKS fetch,
# and every request is answered 200 (the others wait for that one fetch).
# Dedicated instances (their own config, port and shared cache), against
# the i4idp fixture.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test;
use Apache::TestUtil;
use MCPTest;
use MintToken;
use CacheTest;
use MCPInstance;

my @variants = (
    # name, mpm, mpm config, fixture mode, discovery?
    [ 'csprefork', 'prefork',
      "StartServers 8\nMinSpareServers 8\nMaxSpareServers 16\nServerLimit 40\nMaxRequestWorkers 40",
      'file i4-good.json', 1 ],
    [ 'csevent', 'event',
      "StartServers 3\nServerLimit 6\nThreadsPerChild 5\nMinSpareThreads 15\nMaxSpareThreads 30\nMaxRequestWorkers 30",
      'file i4-good.json', 1 ],
    # the IdP takes 1 s: everybody else waits for the one fetch
    [ 'csslow', 'event',
      "StartServers 3\nServerLimit 6\nThreadsPerChild 5\nMinSpareThreads 15\nMaxSpareThreads 30\nMaxRequestWorkers 30",
      'slow 1 file i4-good.json', 0 ],
);
my $N = 30;
plan tests => 5 * @variants;

for my $v (@variants) {
    my ($name, $mpm, $mpm_conf, $mode, $discovery) = @$v;
    reset_set($name, $mode);
    my $iss = i4_iss($name);
    my ($tok) = mint_many({ key => 'rsa1', header => { alg => 'RS256', kid => 'i4a' },
                            payload => MintToken::claims(-iss => $iss, -aud => 'urn:i4', sub => $name) });
    my $loc = "MCPAuthIssuer $iss\n    MCPAuthAudience urn:i4";
    $loc .= "\n    MCPAuthJWKSURI " . url('i4idp', "/idp/$name") unless $discovery;
    # prefork: the cache mutex named explicitly (Mutex ... mcp-auth-cache)
    my $h = MCPInstance->new(mpm => $mpm, mpm_conf => $mpm_conf, location => $loc,
                             server => $mpm eq 'prefork' ? 'Mutex file:%DIR% mcp-auth-cache' : '');
    $h->start;
    my ($r, $secs) = concurrent(url => $h->url('/mcp'), tokens => [ ($tok) x $N ], conns => $N);
    my %pids;
    for (split /\n/, $h->access_log) {
        my ($pid, $code, $us, $path) = split / /;
        $pids{$pid}++ if ($path // '') eq '/mcp';
    }
    my $errors = join "\n", grep { /\[(error|crit|alert|emerg)\]|AH00052/ } split /\n/, $h->error_log;
    $h->stop;
    t_debug("$name: $_") for grep { /MCPAUTH0013/ } split /\n/, $errors;
    t_debug(sprintf "%s (%s): %s in %.2f s; %d processes answered; %d discovery + %d JWKS fetches",
                    $name, $mpm, summarize($r), $secs, scalar keys %pids, disco_fetches($name), fetches($name));
    ok t_cmp(summarize($r), "200 x$N", "$name: $N concurrent requests at startup all accepted");
    ok t_cmp(fetches($name), 1, "$name: exactly 1 JWKS fetch");
    ok t_cmp(disco_fetches($name), $discovery ? 1 : 0, "$name: " . ($discovery ? 'exactly 1' : 'no') . ' discovery fetch');
    ok t_cmp(scalar(keys %pids) >= ($mpm eq 'prefork' ? 3 : 2) ? 'several' : scalar(keys %pids), 'several',
             "$name: answered by several processes (" . scalar(keys %pids) . ')');
    ok t_cmp($errors, '', "$name: no error in the log");
}
