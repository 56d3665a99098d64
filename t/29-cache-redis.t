# Two httpd servers sharing one Redis (MCPAuthCache redis:127.0.0.1:6390,
# mod_socache_redis) fetch a key set once between them. Starts its own
# redis-server (no persistence) and two instances; stops them all, also on
# failure. Skipped only when redis-server cannot be installed.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

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

my $PORT = 6390;
my $MOD = '/usr/lib/apache2/modules/mod_socache_redis.so';

sub have_redis { system('sh', '-c', 'command -v redis-server >/dev/null && command -v redis-cli >/dev/null') == 0 }
unless (have_redis()) {
    system('sh', '-c', 'timeout 300 apt-get install -y redis-server >/dev/null 2>&1');
}
unless (have_redis() && -f $MOD) {
    plan skip_all => 'redis-server could not be installed (apt-get install -y redis-server)'
        . (-f $MOD ? '' : " and $MOD is missing");
    exit 0;
}

my $tmp = File::Temp->newdir('mcp-redis-XXXXXX', TMPDIR => 1);
my $redis_pid;
my $OWNER = $$;
sub redis_stop {
    return unless $redis_pid && $$ == $OWNER;
    system('redis-cli', '-h', '127.0.0.1', '-p', $PORT, 'shutdown', 'nosave') if kill 0, $redis_pid;
    for (1 .. 50) { last unless kill 0, $redis_pid; sleep 0.1 }
    kill 'KILL', $redis_pid if kill 0, $redis_pid;
    undef $redis_pid;
}
END { redis_stop() }
$SIG{INT} = $SIG{TERM} = sub { MCPInstance::stop_all(); redis_stop(); exit 1 };

plan tests => 17;

# --- redis ------------------------------------------------------------------
my $busy = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $PORT, Timeout => 1);
die "port $PORT is already in use: cannot start a private redis-server\n" if $busy;
system('redis-server', '--port', $PORT, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
       '--daemonize', 'yes', '--dir', "$tmp", '--pidfile', "$tmp/redis.pid",
       '--logfile', "$tmp/redis.log") == 0 or die "redis-server failed to start\n";
for (1 .. 50) {
    last if -s "$tmp/redis.pid" && `redis-cli -h 127.0.0.1 -p $PORT ping 2>/dev/null` =~ /PONG/;
    sleep 0.1;
}
$redis_pid = MCPInstance::slurp("$tmp/redis.pid") =~ /(\d+)/ ? $1 : undef;
ok t_cmp(`redis-cli -h 127.0.0.1 -p $PORT ping 2>&1`, qr/PONG/, "private redis-server on port $PORT");

# --- two servers, one cache --------------------------------------------------
my ($tok) = mint_many(
    { key => 'rsa1', header => { alg => 'RS256', kid => 'i4a' }, payload => i4_claims(sub => 'ann') });
reset_set('redis1', 'file i4-good.json');
reset_set('redis2', 'file i4-good.json');
my $loc2 = "<Location /mcp2>\n    AuthType MCP\n    MCPAuthIssuer " . i4_iss() . "\n"
         . '    MCPAuthJWKSURI ' . url('i4idp', '/idp/redis2') . "\n"
         . "    MCPAuthAudience urn:i4\n    Require valid-user\n</Location>";
my @h = map {
    MCPInstance->new(mpm => 'event',
        mpm_conf => "StartServers 2\nServerLimit 4\nThreadsPerChild 10\nMinSpareThreads 10\nMaxSpareThreads 40\nMaxRequestWorkers 40",
        modules => ['socache_redis'],
        server => "MCPAuthCache redis:127.0.0.1:$PORT\n$loc2",
        location => 'MCPAuthIssuer ' . i4_iss() . "\n    MCPAuthJWKSURI " . url('i4idp', '/idp/redis1')
                    . "\n    MCPAuthAudience urn:i4")
} 1 .. 2;
for my $h (@h) {
    open my $fh, '>', "$h->{dir}/www/mcp2" or die $!;
    print $fh "ok\n";
    close $fh;
    chmod 0644, "$h->{dir}/www/mcp2";
    $h->start;
}
ok t_cmp($h[0]->error_log, qr/MCPAUTH0025: .*shared cache redis/, 'server A uses the redis cache');

my $ua = LWP::UserAgent->new(keep_alive => 0, timeout => 30);
sub get { $ua->get($_[0], Authorization => "Bearer $tok")->code }
ok t_cmp(get($h[0]->url('/mcp')), 200, 'server A: valid token accepted');
ok t_cmp(fetches('redis1'), 1, 'one fetch');
ok t_cmp(get($h[1]->url('/mcp')), 200, 'server B: valid token accepted');
ok t_cmp(fetches('redis1'), 1, 'still one fetch: B used the copy in redis');
my ($r) = concurrent(urls => [ $h[0]->url('/mcp'), $h[1]->url('/mcp') ], tokens => [ ($tok) x 20 ], conns => 10);
ok t_cmp(summarize($r), '200 x20', 'both servers, 20 requests on new connections: accepted');
ok t_cmp(fetches('redis1'), 1, 'one JWKS fetch in total for both servers');
my $st = eval { JSON::PP->new->decode($ua->get($h[1]->url('/mcp-auth-status'))->decoded_content) } || {};
my ($e) = grep { (($_->{jwks} || {})->{url} // '') =~ m{/idp/redis1$} } @{ $st->{keys} || [] };
ok t_cmp($st->{cache} // '', 'redis', 'status of B: cache redis');
ok t_cmp((($e || {})->{jwks} || {})->{fetches} // -1, 1, 'status of B: fetches 1 (shared statistics)');
ok t_cmp(join(',', @{ ((($e || {})->{jwks} || {})->{kids}) || [] }), 'i4a', 'status of B: kids');
my $keys = `redis-cli -h 127.0.0.1 -p $PORT dbsize 2>&1`;
t_debug("redis dbsize: $keys");
ok t_cmp($keys, qr/^[1-9]\d*$/, 'the entries live in redis');

# --- both servers cold at the same moment -----------------------------------
($r, my $secs) = concurrent(urls => [ $h[0]->url('/mcp2'), $h[1]->url('/mcp2') ], tokens => [ ($tok) x 20 ], conns => 20);
t_debug(sprintf 'cold, both servers at once: %s in %.2f s; %d fetches', summarize($r), $secs, fetches('redis2'));
ok t_cmp(summarize($r), '200 x20', 'cold key set, 20 simultaneous requests to both servers: accepted');
ok t_cmp(fetches('redis2'), 1, 'cold key set, both servers at once: exactly one fetch');

t_debug("rejections: $_") for map { grep { /MCPAUTH0013/ } split /\n/, $_->error_log } @h;
my @errs = map { grep { /\[(error|crit|alert|emerg)\]/ } split /\n/, $_->error_log } @h;
ok t_cmp(scalar @errs, 0, 'no errors in either log');
$_->stop for @h;
ok t_cmp(scalar(grep { $_->pid && kill 0, $_->pid } @h), 0, 'both servers stopped');
redis_stop();
ok t_cmp(-e "$tmp/redis.pid" && `redis-cli -h 127.0.0.1 -p $PORT ping 2>&1` =~ /PONG/ ? 'running' : 'stopped',
         'stopped', 'redis stopped');
