# A fleet of httpd servers sharing one redis (MCPAuthCache redis:…), and that
# redis failing (issue 17, fleet):
#
#  a. redis stopped under two warm servers: valid tokens still accepted, a key
#     rotation during the outage still fetched (each process on its own), a
#     third server started while redis is down fetches for itself; each
#     process logs MCPAUTH0057 once (not per request), MCPAUTH0058 once redis
#     answers again, and nothing is refused as "fetch in progress elsewhere".
#  b. the relay while redis is down: register and authorize work, the
#     callback and the token endpoint answer 503 temporarily_unavailable
#     (MCPAUTH0059), never "finished already"; with redis back, states and
#     codes are single use across the servers sharing it.
#  c. a kid miss while the rotation's fetch is in flight (slow IdP) waits for
#     it: six concurrent requests, all 200, one fetch.
#  d. relay keys: MCPAUTH0060 names the key id (the same for the same file);
#     a client id sealed at a host with another key is refused there
#     (invalid_client) with MCPAUTH0061 naming both ids.
#
# Servers: MCPInstance (event MPM, ServerLimit 2); key sets from the i4idp
# fixture (t/cgi-bin/idp: sets "fleet" and "fleetrot"); the relay's IdP is
# idp5 (t/cgi-bin/idp5, realm kc, keycloak mode) in the main test server.
# A private redis on port 6391 (t/29 uses 6390). Skipped only when
# redis-server cannot be installed.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test;
use Apache::TestUtil;
use Digest::SHA ();
use HTTP::Request ();
use JSON::PP ();
use LWP::UserAgent ();
use MIME::Base64 ();
use Time::HiRes ();
use URI ();
use MCPTest;
use RelayTest;
use MintToken;
use CacheTest;
use MCPInstance;
use PrivateRedis;

my $REDIS_PORT = 6391;
my $SERVER_LIMIT = 2;       # children per server: MCPAUTH0057 at most this often per server and outage

if (my $why = PrivateRedis::unavailable()) {
    plan skip_all => $why;
    exit 0;
}

plan tests => 75;

my $J  = JSON::PP->new->canonical;
my $VERIFIER = 'w' x 43;
my $CHALLENGE = pkce_challenge($VERIFIER);

# --- helpers ---------------------------------------------------------------------------

# rq(METHOD, URL, BODY, HEADER => VALUE ...): one request on a new connection.
sub rq { send_request(@_) }
sub oauth   { my $r = shift; my $d = doc_of($r); join ' ', $r->code, $d->{error} // 'no-error', $d->{error_description} // '' }


# The lines of an instance's error log matching $re, from byte $from on.
sub log_lines {
    my ($h, $re, $from) = @_;
    my $text = $h->error_log;
    $text = length($text) > ($from // 0) ? substr($text, $from // 0) : '';
    return grep { $_ =~ $re } split /\n/, $text;
}
sub log_size { length $_[0]->error_log }
sub pid_of   { $_[0] =~ /\[pid (\d+)/ ? $1 : 'none' }

# How often each process logged: "once per process" when every process that
# logged it did so once and at least one did, at most $SERVER_LIMIT lines.
sub once_per_process {
    my (@lines) = @_;
    my %n;
    $n{ pid_of($_) }++ for @lines;
    my $max = (sort { $b <=> $a } values %n)[0] // 0;
    return @lines >= 1 && $max == 1 && @lines <= $SERVER_LIMIT ? 'once per process'
         : sprintf('%d line(s) from %d process(es), up to %d per process', scalar @lines, scalar keys %n, $max);
}

sub key_id_of {
    my ($h) = @_;
    my @ids = map { /MCPAUTH0060: relay key \S+, key id ([0-9a-f]+)/ ? $1 : () } split /\n/, $h->error_log;
    return $ids[-1] // 'none';
}

# The relay of location /kc on a server.
sub register_at {
    my ($h) = @_;
    my $r = rq(POST => $h->url("$EP/register/kc"), $J->encode({ redirect_uris => [ $CB ], client_name => 'Fleet test' }),
               'Content-Type' => 'application/json');
    return ($r, doc_of($r)->{client_id});
}
sub authorize_url {
    my ($h, $client, $state) = @_;
    return $h->url("$EP/authorize/kc?" . form(client_id => $client, code_challenge => $CHALLENGE, code_challenge_method => 'S256',
                                              redirect_uri => $CB, response_type => 'code', scope => 'openid mcp:tools',
                                              state => $state // 'fleet-state'));
}
sub login_cookie { my ($c) = grep { /^mcp_auth_[0-9a-f]{8}_login_/ } $_[0]->header('Set-Cookie'); ($c // '') =~ /^([^;]+)/ ? $1 : '' }
# Authorize at $h, then the IdP: returns the authorize response, the IdP's
# answer and the login cookie; the IdP's Location is the callback URL.
sub to_callback {
    my ($h, $client, $state) = @_;
    my $auth = rq(GET => authorize_url($h, $client, $state));
    my $idp = rq(GET => $auth->header('Location') // $h->url('/no-location'));
    return ($auth, $idp, login_cookie($auth));
}
sub redeem {
    my ($h, $client, $code) = @_;
    return rq(POST => $h->url("$EP/token/kc"), form(grant_type => 'authorization_code', code => $code, redirect_uri => $CB,
                                                   client_id => $client, code_verifier => $VERIFIER),
              'Content-Type' => 'application/x-www-form-urlencoded');
}
# The same URL on another server (a callback URL names the server it came from).
sub on_server { my ($h, $url) = @_; $url =~ s{^http://[^/]+}{'http://127.0.0.1:' . $h->port}e; $url }

my $ua = LWP::UserAgent->new(keep_alive => 0, timeout => 60);
sub get_with { my ($url, $tok) = @_; $ua->get($url, defined $tok ? (Authorization => "Bearer $tok") : ())->code }

# --- tokens, key sets, redis, servers ---------------------------------------------------
my ($good, $rotated, $unknown) = mint_many(
    { key => 'rsa1', header => { alg => 'RS256', kid => 'i4a' }, payload => i4_claims(sub => 'ann') },
    { key => 'rsa2', header => { alg => 'RS256', kid => 'i4b' }, payload => i4_claims(sub => 'ben') },
    { key => 'rsa2', header => { alg => 'RS256', kid => 'fleet-none' }, payload => i4_claims(sub => 'nobody') });
reset_set('fleet', 'file i4-good.json');
reset_set('fleetrot', 'file i4-good.json');

my $redis = PrivateRedis->new($REDIS_PORT);
ok t_cmp($redis->start ? 'answers' : 'no answer', 'answers', "private redis on port $REDIS_PORT");

my $idp5 = port('idp5');
my $MPM = "StartServers $SERVER_LIMIT\nServerLimit $SERVER_LIMIT\nThreadsPerChild 10\nMaxRequestWorkers "
        . 10 * $SERVER_LIMIT . "\nMinSpareThreads 5\nMaxSpareThreads " . 10 * $SERVER_LIMIT;
# Each server: /mcp on key set "fleet", /rot on "fleetrot" (part c), /kc a
# keycloak-mode relay (parts b, d); MCPAuthRelayKey as given.
sub fleet_server {
    my ($key_file) = @_;
    my $h = MCPInstance->new(mpm => 'event', mpm_conf => $MPM, modules => [ 'socache_redis' ],
        server => "MCPAuthCache redis:127.0.0.1:$REDIS_PORT\nMCPAuthRelayKey \"$key_file\"\n"
                . "<Location /rot>\n    AuthType MCP\n    MCPAuthIssuer " . i4_iss() . "\n"
                . '    MCPAuthJWKSURI ' . url('i4idp', '/idp/fleetrot') . "\n    MCPAuthAudience urn:i4\n"
                . "    Require valid-user\n</Location>\n"
                . "<Location /kc>\n    AuthType MCP\n    MCPAuthIssuer http://localhost:$idp5/realms/kc\n"
                . "    MCPAuthProvider keycloak\n    Require valid-user\n</Location>",
        location => 'MCPAuthIssuer ' . i4_iss() . "\n    MCPAuthJWKSURI " . url('i4idp', '/idp/fleet')
                    . "\n    MCPAuthAudience urn:i4");
    open my $fh, '>', "$h->{dir}/www/rot" or die $!;
    print $fh "ok\n";
    close $fh;
    chmod 0644, "$h->{dir}/www/rot";
    return $h;
}
sub write_key {
    my ($file) = @_;
    open my $fh, '>', $file or die "$file: $!";
    print $fh join('', map { sprintf '%02x', int rand 256 } 1 .. 32), "\n";
    close $fh;
    chmod 0600, $file;
    return $file;
}

# A and B share one relay key file (in A's directory); C gets its own.
my $A = fleet_server('%DIR%/relay.key');
write_key("$A->{dir}/relay.key");
my $B = fleet_server("$A->{dir}/relay.key");
$_->start for $A, $B;
ok t_cmp($A->error_log, qr/MCPAUTH0025: .*shared cache redis/, 'server A uses the redis cache');

# --- warm, with redis ------------------------------------------------------------------
ok t_cmp(get_with($A->url('/mcp'), $good), 200, 'A: valid token accepted');
ok t_cmp(get_with($B->url('/mcp'), $good), 200, 'B: valid token accepted');
my ($r, $secs) = concurrent(urls => [ $A->url('/mcp'), $B->url('/mcp') ], tokens => [ ($good) x 20 ], conns => 10);
ok t_cmp(summarize($r), '200 x20', 'A and B, 20 requests on new connections: accepted');
ok t_cmp(fetches('fleet'), 1, 'one fetch for both servers (shared through redis)');

# a login finished while redis answers: its code is redeemed during the outage
my (undef, $client) = register_at($A);
my ($auth, $idp, $cookie) = to_callback($A, $client, 'before-outage');
my $res = rq(GET => $idp->header('Location') // $A->url('/none'), undef, Cookie => $cookie);
my $early_code = qparams($res->header('Location'))->{code};
ok t_cmp($res->code . ' ' . (defined $early_code ? 'code' : 'no code'), '302 code',
         'relay with redis: a login reaches the client with a code');

# --- redis stopped ---------------------------------------------------------------------
my %mark = map { ("$_" => log_size($_)) } $A, $B;
ok t_cmp($redis->stop ? 'stopped' : 'still up', 'stopped', 'redis stopped');
my %asked = (A => 0, B => 0, C => 0);   # requests made during the outage, per server

($r) = concurrent(urls => [ $A->url('/mcp'), $B->url('/mcp') ], tokens => [ ($good) x 20 ], conns => 10);
$asked{A} += 10, $asked{B} += 10;
ok t_cmp(summarize($r), '200 x20', 'redis down: valid tokens still accepted on A and B');
# the status handler looks into the shared cache on every request
($r) = concurrent(urls => [ $A->url('/mcp-auth-status'), $B->url('/mcp-auth-status') ], tokens => [ (undef) x 20 ], conns => 10);
$asked{A} += 10, $asked{B} += 10;
ok t_cmp(summarize($r), '200 x20', 'redis down: the status handler answers on A and B');
# a rotation during the outage
my $before = fetches('fleet');
set_mode('fleet', 'file i4-rot.json');
$res = $ua->get($A->url('/mcp'), Authorization => "Bearer $rotated");
$asked{A}++;
ok t_cmp($res->code, 200, 'redis down, key rotated: the new kid is accepted on A');
ok t_cmp(get_with($B->url('/mcp'), $rotated), 200, 'and on B');
$asked{B}++;
($r) = concurrent(urls => [ $A->url('/mcp'), $B->url('/mcp') ], tokens => [ ($rotated) x 20 ], conns => 10);
$asked{A} += 10, $asked{B} += 10;
ok t_cmp(summarize($r), '200 x20', 'redis down: the new kid on 20 new connections to A and B: accepted');
my $rot_fetches = fetches('fleet') - $before;
t_debug("rotation during the outage: $rot_fetches fetch(es)\n" . fetch_log('fleet'));
ok t_cmp($rot_fetches >= 1 && $rot_fetches <= 2 * $SERVER_LIMIT ? 'per process at most' : "$rot_fetches fetches",
         'per process at most', "rotation during the outage: fetched, at most once per process (got $rot_fetches)");
ok t_cmp(get_with($A->url('/mcp'), $good) . ' ' . get_with($B->url('/mcp'), $good), '200 200', 'the old kid still accepted');
$asked{A}++, $asked{B}++;
# unknown kids (after the rotation: they open each process's refetch window)
($r) = concurrent(urls => [ $A->url('/mcp'), $B->url('/mcp') ], tokens => [ ($unknown) x 10 ], conns => 10);
$asked{A} += 5, $asked{B} += 5;
ok t_cmp(summarize($r), '401 (invalid_token) x10', 'redis down: unknown kids refused (401)');

# a third server started while redis is down: cold, it fetches for itself
my $C = fleet_server('%DIR%/relay.key');
write_key("$C->{dir}/relay.key");
$before = fetches('fleet');
$C->start;
ok t_cmp(get_with($C->url('/mcp'), $good), 200, 'C, started while redis is down: valid token accepted');
$asked{C}++;
ok t_cmp(fetches('fleet') - $before, qr/^[1-9]/, 'C fetched the key set itself');
($r) = concurrent(url => $C->url('/mcp'), tokens => [ ($good, $rotated) x 10 ], conns => 10);
$asked{C} += 20;
ok t_cmp(summarize($r), '200 x20', 'C: 20 requests (old and new kid) on new connections: accepted');
($r) = concurrent(url => $C->url('/mcp-auth-status'), tokens => [ (undef) x 10 ], conns => 5);
$asked{C} += 10;
ok t_cmp(summarize($r), '200 x10', 'C: the status handler answers');
t_debug(sprintf 'C: %d fetch(es) in all', fetches('fleet') - $before);

# the relay while redis is down (b)
my ($reg, $client2) = register_at($A);
$asked{A}++;
ok t_cmp($reg->code . ' ' . (defined $client2 ? 'client id' : 'none'), '201 client id', 'redis down: register works');
($auth, $idp, $cookie) = to_callback($A, $client2, 'during-outage');
$asked{A}++;
my $to = URI->new($auth->header('Location') // '');
ok t_cmp($auth->code . ' ' . $to->path, '302 /realms/kc/auth', 'redis down: authorize redirects to the IdP');
my $callback = $idp->header('Location') // '';
ok t_cmp($callback, qr{^\Q@{[ $A->url("$EP/callback/kc") ]}\E\?}, 'the IdP sends the browser back to the callback');
$res = rq(GET => $callback, undef, Cookie => $cookie);
$asked{A}++;
ok t_cmp(oauth($res), qr/^503 temporarily_unavailable /, 'redis down: the callback answers 503 temporarily_unavailable');
ok t_cmp($res->header('Content-Type') // '', qr{^application/json}, 'as OAuth JSON');
ok t_cmp(scalar(log_lines($A, qr/MCPAUTH0059: relay-state refused/, $mark{"$A"})), qr/^[1-9]/, 'A logs MCPAUTH0059');
$res = redeem($B, $client, $early_code);
$asked{B}++;
ok t_cmp(oauth($res), qr/^503 temporarily_unavailable /,
         'redis down: the token endpoint answers 503 temporarily_unavailable (a code from before the outage, at B)');

# the logs of the outage
my $outage_requests = 0;
for my $s ([ A => $A ], [ B => $B ], [ C => $C ]) {
    my ($name, $h) = @$s;
    my $from = $h == $C ? 0 : $mark{"$h"};
    my @down = log_lines($h, qr/MCPAUTH0057: the shared cache \(redis\) does not answer/, $from);
    t_debug("$name: $asked{$name} requests during the outage; MCPAUTH0057:\n" . join("\n", @down));
    ok t_cmp(once_per_process(@down), 'once per process',
             "$name: MCPAUTH0057 once per process ($asked{$name} requests made, ServerLimit $SERVER_LIMIT)");
    ok t_cmp(scalar(log_lines($h, qr/MCPAUTH0058/, $from)), 0, "$name: no MCPAUTH0058 while redis is down");
    ok t_cmp(scalar(log_lines($h, qr/fetch in progress elsewhere/, 0)), 0, "$name: no 'fetch in progress elsewhere' refusals");
}

# --- redis back ------------------------------------------------------------------------
%mark = map { ("$_" => log_size($_)) } $A, $B, $C;
ok t_cmp($redis->start ? 'answers' : 'no answer', 'answers', "redis started again on port $REDIS_PORT");
my %codes;
my $all_back = poll(30, sub {
    for my $h ($A, $B, $C) {
        $codes{ get_with($h->url('/mcp'), $good) }++;
        $codes{ get_with($h->url('/mcp'), $rotated) }++;
        get_with($h->url('/mcp-auth-status'));
        get_with($h->url('/mcp'), $unknown);
    }
    # each process sees redis back on its own (its client library retries a
    # server it held for dead after a few seconds): wait for every one that
    # saw the outage
    return 3 == grep {
        my $h = $_;
        my %up = map { (pid_of($_) => 1) } log_lines($h, qr/MCPAUTH0058: the shared cache \(redis\) answers again/, $mark{"$h"});
        !grep { !$up{$_} } map { pid_of($_) } log_lines($h, qr/MCPAUTH0057/, 0);
    } $A, $B, $C;
});
ok t_cmp(join(', ', map { "$_ x$codes{$_}" } sort keys %codes), qr/^200 x\d+$/, 'redis back: valid tokens accepted on A, B and C');
for my $s ([ A => $A ], [ B => $B ], [ C => $C ]) {
    t_debug("$s->[0]: $_") for log_lines($s->[1], qr/MCPAUTH005[789]|socache|redis/i, 0);
}
for my $s ([ A => $A ], [ B => $B ], [ C => $C ]) {
    my ($name, $h) = @$s;
    my @up = log_lines($h, qr/MCPAUTH0058: the shared cache \(redis\) answers again/, $mark{"$h"});
    my %down = map { (pid_of($_) => 1) } log_lines($h, qr/MCPAUTH0057/, 0);
    t_debug("$name: MCPAUTH0058:\n" . join("\n", @up));
    ok t_cmp(once_per_process(@up), 'once per process', "$name: MCPAUTH0058 once per process");
    ok t_cmp(join(' ', grep { !$down{$_} } map { pid_of($_) } @up), '', "$name: only processes that saw the outage say so");
}
ok t_cmp(summarize((concurrent(urls => [ map { $_->url('/mcp') } $A, $B, $C ], tokens => [ ($good, $rotated) x 12 ], conns => 12))[0]),
         '200 x24', 'A, B and C: 24 requests on new connections: accepted');

# --- b. the relay with redis back: single use across servers ---------------------------
($auth, $idp, $cookie) = to_callback($A, $client2, 'after-outage');
$callback = $idp->header('Location') // $A->url("$EP/callback/kc?no-callback");
t_debug('authorize: ' . $auth->code . ' ' . ($auth->header('Location') // substr($auth->decoded_content, 0, 300)));
$res = rq(GET => $callback, undef, Cookie => $cookie);
my $fq = qparams($res->header('Location'));
ok t_cmp($res->code . ' ' . ($res->header('Location') // 'no Location') =~ s/\?.*//sr, "302 $CB",
         'redis back: a new login goes through to the client');
ok t_cmp(($fq->{state} // '') . ' ' . (defined $fq->{code} ? 'code' : 'no code'), 'after-outage code', 'with its state and a code');
ok t_cmp(oauth(rq(GET => $callback, undef, Cookie => $cookie)), qr/^400 invalid_request .*finished already/,
         'the same callback URL a second time: refused (single use)');
ok t_cmp(oauth(rq(GET => on_server($B, $callback), undef, Cookie => $cookie)), qr/^400 invalid_request .*finished already/,
         'and at B, which shares redis: refused too');

# the code from before the outage: the 503 did not spend it
$res = redeem($A, $client, $early_code);
ok t_cmp($res->code . ' ' . (doc_of($res)->{access_token} // 'none'), '200 idp5-kc-token',
         'the code refused with 503 during the outage: redeemed at A now');
ok t_cmp(oauth(redeem($B, $client, $early_code)), qr/^400 invalid_grant .*used already/,
         'the same code at B: invalid_grant (used already)');
$res = redeem($B, $client2, $fq->{code});
ok t_cmp($res->code, 200, 'the new login\'s code redeemed at B');
ok t_cmp(oauth(redeem($A, $client2, $fq->{code})), qr/^400 invalid_grant .*used already/,
         'the same code at A: invalid_grant (used already)');
ok t_cmp(oauth(redeem($B, $client2, $fq->{code})), qr/^400 invalid_grant .*used already/,
         'and at B again: invalid_grant');

# --- c. a kid miss waits for the rotation's fetch in flight ----------------------------
ok t_cmp(get_with($A->url('/rot'), $good), 200, 'A /rot: cold key set, valid token accepted');
ok t_cmp(fetches('fleetrot'), 1, 'one fetch: warm');
($r) = concurrent(url => $A->url('/rot'), tokens => [ ($good) x 8 ], conns => 8);
ok t_cmp(summarize($r), '200 x8', 'A /rot: warm on new connections');
ok t_cmp(fetches('fleetrot'), 1, 'still one fetch');
set_mode('fleetrot', 'slow 2 file i4-rot.json');
my $markA = log_size($A);
($r, $secs) = concurrent(url => $A->url('/rot'), tokens => [ ($rotated) x 6 ], conns => 6);
t_debug(sprintf "rotation against a slow IdP: %s in %.2f s\n%s", summarize($r), $secs, fetch_log('fleetrot'));
t_debug("A: $_") for log_lines($A, qr/mcp_auth/, $markA);
ok t_cmp(summarize($r), '200 x6', 'six concurrent requests with the new kid, slow IdP: all 200');
ok t_cmp(fetches('fleetrot') - 1, 1, 'exactly one fetch for the rotation');
ok t_cmp(get_with($B->url('/rot'), $rotated), 200, 'B, which shares redis: the new kid accepted');
ok t_cmp(fetches('fleetrot') - 1, 1, 'without a fetch of its own');

# --- d. relay keys ---------------------------------------------------------------------
my ($idA, $idB, $idC) = map { key_id_of($_) } $A, $B, $C;
t_debug("relay key ids: A $idA, B $idB, C $idC");
ok t_cmp($idA, qr/^[0-9a-f]{8}$/, 'A logs MCPAUTH0060 with its key id');
ok t_cmp($A->error_log, qr/MCPAUTH0060: relay key \Q$A->{dir}\E\/relay\.key, key id $idA/, 'naming its key file');
ok t_cmp($idB, $idA, 'B, with the same key file: the same key id');
ok t_cmp($idC ne 'none' && $idC ne $idA ? 'another id' : $idC, 'another id', 'C, with another key file: another key id');
my $markC = log_size($C);
(undef, my $clientA) = register_at($A);
$res = rq(GET => authorize_url($B, $clientA));
ok t_cmp($res->code, 302, 'a client id registered at A, at B (same key): authorize redirects to the IdP');
$res = rq(GET => authorize_url($C, $clientA));
ok t_cmp(oauth($res), qr/^400 invalid_client /, 'the client id registered at A, at C (another key): 400 invalid_client');
my $foreign = poll(10, sub { my @l = log_lines($C, qr/MCPAUTH0061/, $markC); @l ? \@l : undef });
my ($line) = @{ $foreign || [] };
ok t_cmp($line // 'no MCPAUTH0061', qr/MCPAUTH0061: a value sealed under relay key id $idA arrived, this host's is $idC/,
         'C logs MCPAUTH0061 naming A\'s key id and its own');
ok t_cmp(scalar(log_lines($A, qr/MCPAUTH0061/, 0)) + scalar(log_lines($B, qr/MCPAUTH0061/, 0)), 0,
         'A and B (same key) never saw a foreign value');

# --- the end ---------------------------------------------------------------------------
for my $s ([ A => $A ], [ B => $B ], [ C => $C ]) {
    my ($name, $h) = @$s;
    my @bad = log_lines($h, qr/\[(crit|alert|emerg)\]|Segmentation|exit signal/, 0);
    t_debug("$name: $_") for @bad;
    ok t_cmp(scalar @bad, 0, "$name: no crashes or critical errors in its log");
}
$_->stop for $A, $B, $C;
ok t_cmp(scalar(grep { $_->pid && kill 0, $_->pid } $A, $B, $C), 0, 'servers stopped');
ok t_cmp($redis->stop ? 'stopped' : 'running', 'stopped', 'redis stopped');
