package SharedCacheScenario;
# Two httpd servers sharing one networked cache (MCPAuthCache redis:… or
# memcache:…, through mod_socache_redis / mod_socache_memcache) fetch a key
# set once between them: warm, then both cold at the same moment. Starts a
# private cache server (no persistence) and two instances, and stops them
# all, also on failure. Used by t/29-cache-redis.t and t/30-cache-memcache.t.
#
#   SharedCacheScenario::run(redis => 6390);      # plans its own tests
use strict;
use warnings;

use Apache::Test;
use Apache::TestUtil;
use File::Temp ();
use IO::Socket::INET ();
use JSON::PP ();
use LWP::UserAgent ();
use Time::HiRes qw(sleep);
use MCPTest;
use MintToken;
use CacheTest;
use MCPInstance;

# What each kind of cache needs: the Debian package, the server, the httpd
# module, and how to start it, ask it whether it is up and count its entries.
my %KIND = (
    redis => {
        package => 'redis-server',
        needs   => [qw(redis-server redis-cli)],
        module  => 'socache_redis',
        start   => sub {
            my ($port, $dir) = @_;
            system('redis-server', '--port', $port, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
                   '--daemonize', 'yes', '--dir', $dir, '--pidfile', "$dir/server.pid",
                   '--logfile', "$dir/server.log") == 0;
        },
        entries => sub { my ($port) = @_; my $n = `redis-cli -h 127.0.0.1 -p $port dbsize 2>&1`; chomp $n; $n },
        stop    => sub { my ($port) = @_; system('redis-cli', '-h', '127.0.0.1', '-p', $port, 'shutdown', 'nosave') },
    },
    memcache => {
        package => 'memcached',
        needs   => [qw(memcached)],
        module  => 'socache_memcache',
        start   => sub {
            my ($port, $dir) = @_;
            my $user = (getpwuid($<))[0] // 'root';
            system('memcached', '-d', '-l', '127.0.0.1', '-p', $port, '-U', '0', '-m', '64',
                   '-u', $user, '-P', "$dir/server.pid") == 0;
        },
        entries => sub { my ($port) = @_; my %s = memcached_stats($port); $s{curr_items} // 'no answer' },
        stop    => sub { },   # no shutdown command: the pid is killed below
    },
);

sub memcached_stats {
    my ($port) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 2) or return;
    print $s "stats\r\n";
    my %stats;
    while (my $line = <$s>) {
        last if $line =~ /^END/;
        $stats{$1} = $2 if $line =~ /^STAT (\S+) (\S+)/;
    }
    return %stats;
}

sub up {
    my ($port) = @_;
    return IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 1) ? 1 : 0;
}

sub have { my ($k) = @_; !grep { system('sh', '-c', "command -v $_ >/dev/null") != 0 } @{ $k->{needs} } }

sub run {
    my ($kind, $port) = @_;
    my $k = $KIND{$kind} or die "unknown cache kind $kind\n";
    my $mod = "/usr/lib/apache2/modules/mod_$k->{module}.so";

    system('sh', '-c', "timeout 300 apt-get install -y $k->{package} >/dev/null 2>&1") unless have($k);
    unless (have($k) && -f $mod) {
        plan skip_all => "$k->{package} could not be installed (apt-get install -y $k->{package})"
            . (-f $mod ? '' : " and $mod is missing");
        return;
    }

    my $tmp = File::Temp->newdir("mcp-$kind-XXXXXX", TMPDIR => 1);
    chmod 0755, "$tmp";
    my ($pid, $owner) = (undef, $$);
    my $stop = sub {
        return unless $pid && $$ == $owner;
        $k->{stop}->($port) if kill 0, $pid;
        for (1 .. 20) { last unless kill 0, $pid; sleep 0.1 }
        kill 'TERM', $pid if kill 0, $pid;
        for (1 .. 30) { last unless kill 0, $pid; sleep 0.1 }
        kill 'KILL', $pid if kill 0, $pid;
        undef $pid;
    };
    local $SIG{INT} = local $SIG{TERM} = sub { MCPInstance::stop_all(); $stop->(); exit 1 };

    plan tests => 17;

    # --- the cache server ----------------------------------------------------
    die "port $port is already in use: cannot start a private $k->{package}\n" if up($port);
    $k->{start}->($port, "$tmp") or die "$k->{package} failed to start\n";
    for (1 .. 50) {
        last if -s "$tmp/server.pid" && up($port);
        sleep 0.1;
    }
    $pid = MCPInstance::slurp("$tmp/server.pid") =~ /(\d+)/ ? $1 : undef;
    my $guard = bless [$stop], 'SharedCacheScenario::Guard';
    ok t_cmp(up($port) && $pid ? 'up' : 'down', 'up', "private $k->{package} on port $port");

    # --- two servers, one cache ----------------------------------------------
    my ($set1, $set2) = ("${kind}1", "${kind}2");
    my ($tok) = mint_many(
        { key => 'rsa1', header => { alg => 'RS256', kid => 'i4a' }, payload => i4_claims(sub => 'ann') });
    reset_set($set1, 'file i4-good.json');
    reset_set($set2, 'file i4-good.json');
    my $loc2 = "<Location /mcp2>\n    AuthType MCP\n    MCPAuthIssuer " . i4_iss() . "\n"
             . '    MCPAuthJWKSURI ' . url('i4idp', "/idp/$set2") . "\n"
             . "    MCPAuthAudience urn:i4\n    Require valid-user\n</Location>";
    my @h = map {
        MCPInstance->new(mpm => 'event',
            mpm_conf => "StartServers 2\nServerLimit 4\nThreadsPerChild 10\nMinSpareThreads 10\nMaxSpareThreads 40\nMaxRequestWorkers 40",
            modules => [ $k->{module} ],
            server => "MCPAuthCache $kind:127.0.0.1:$port\n$loc2",
            location => 'MCPAuthIssuer ' . i4_iss() . "\n    MCPAuthJWKSURI " . url('i4idp', "/idp/$set1")
                        . "\n    MCPAuthAudience urn:i4")
    } 1 .. 2;
    for my $h (@h) {
        open my $fh, '>', "$h->{dir}/www/mcp2" or die $!;
        print $fh "ok\n";
        close $fh;
        chmod 0644, "$h->{dir}/www/mcp2";
        $h->start;
    }
    ok t_cmp($h[0]->error_log, qr/MCPAUTH0025: .*shared cache $kind/, "server A uses the $kind cache");

    my $ua = LWP::UserAgent->new(keep_alive => 0, timeout => 30);
    my $get = sub { $ua->get($_[0], Authorization => "Bearer $tok")->code };
    ok t_cmp($get->($h[0]->url('/mcp')), 200, 'server A: valid token accepted');
    ok t_cmp(fetches($set1), 1, 'one fetch');
    ok t_cmp($get->($h[1]->url('/mcp')), 200, 'server B: valid token accepted');
    ok t_cmp(fetches($set1), 1, "still one fetch: B used the copy in $kind");
    my ($r) = concurrent(urls => [ $h[0]->url('/mcp'), $h[1]->url('/mcp') ], tokens => [ ($tok) x 20 ], conns => 10);
    ok t_cmp(summarize($r), '200 x20', 'both servers, 20 requests on new connections: accepted');
    ok t_cmp(fetches($set1), 1, 'one JWKS fetch in total for both servers');
    my $st = eval { JSON::PP->new->decode($ua->get($h[1]->url('/mcp-auth-status'))->decoded_content) } || {};
    my ($e) = grep { (($_->{jwks} || {})->{url} // '') =~ m{/idp/$set1$} } @{ $st->{keys} || [] };
    ok t_cmp($st->{cache} // '', $kind, "status of B: cache $kind");
    ok t_cmp((($e || {})->{jwks} || {})->{fetches} // -1, 1, 'status of B: fetches 1 (shared statistics)');
    ok t_cmp(join(',', @{ ((($e || {})->{jwks} || {})->{kids}) || [] }), 'i4a', 'status of B: kids');
    my $entries = $k->{entries}->($port);
    t_debug("entries in $kind: $entries");
    ok t_cmp($entries, qr/^[1-9]\d*$/, "the entries live in $kind");

    # --- both servers cold at the same moment --------------------------------
    ($r, my $secs) = concurrent(urls => [ $h[0]->url('/mcp2'), $h[1]->url('/mcp2') ], tokens => [ ($tok) x 20 ], conns => 20);
    t_debug(sprintf 'cold, both servers at once: %s in %.2f s; %d fetches', summarize($r), $secs, fetches($set2));
    ok t_cmp(summarize($r), '200 x20', 'cold key set, 20 simultaneous requests to both servers: accepted');
    ok t_cmp(fetches($set2), 1, 'cold key set, both servers at once: exactly one fetch');

    t_debug("rejections: $_") for map { grep { /MCPAUTH0013/ } split /\n/, $_->error_log } @h;
    my @errs = map { grep { /\[(error|crit|alert|emerg)\]/ } split /\n/, $_->error_log } @h;
    ok t_cmp(scalar @errs, 0, 'no errors in either log');
    $_->stop for @h;
    ok t_cmp(scalar(grep { $_->pid && kill 0, $_->pid } @h), 0, 'both servers stopped');
    $stop->();
    ok t_cmp(up($port) ? 'running' : 'stopped', 'stopped', "$k->{package} stopped");
}

# Stops the cache server when run() leaves, by return or by die.
package SharedCacheScenario::Guard;
sub DESTROY { $_[0][0]->() }

1;
