# SetHandler mcp-auth-metrics (issue 20): the Prometheus text format, read
# by Debian's promtool and scraped by a real Prometheus server; counters
# checked against the traffic this test sends, shared by every process of
# the host, and kept across a graceful restart. A dedicated prefork
# instance (several processes) in front of the i4 key sets.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test;
use Apache::TestUtil;
use File::Temp ();
use HTTP::Request ();
use JSON::PP ();
use LWP::UserAgent ();
use POSIX ();
use Time::HiRes ();
use MCPTest;
use MintToken;
use CacheTest;
use MCPInstance;

my $PROMTOOL = '/usr/bin/promtool';
my $PROMETHEUS = '/usr/bin/prometheus';
plan tests => 50, need { 'Debian\'s prometheus package (promtool, prometheus)' => -x $PROMTOOL && -x $PROMETHEUS };

my ($good, $expired, $badsig) = mint_many(
    { key => 'rsa1', header => { alg => 'RS256', kid => 'i4a' }, payload => i4_claims(sub => 'evil"sub') },
    { key => 'rsa1', header => { alg => 'RS256', kid => 'i4a' }, payload => i4_claims(exp => time - 3600, iat => time - 7200) },
    { key => 'rsa2', header => { alg => 'RS256', kid => 'i4a' }, payload => i4_claims() },
);

reset_set('metrics', 'file i4-good.json');
my $policy = 'MCPAuthIssuer ' . i4_iss() . "\n    MCPAuthJWKSURI " . url('i4idp', '/idp/metrics')
           . "\n    MCPAuthAudience urn:i4";
my $h = MCPInstance->new(
    mpm => 'prefork', mpm_conf => "StartServers 4\nMinSpareServers 4\nMaxSpareServers 8\nMaxRequestWorkers 16",
    modules => ['authz_host'],
    location => $policy,
    server => <<"EOF");
# hardened as Debian ships httpd: nothing is served unless granted
<Directory />
    Require all denied
</Directory>
<Location /metrics>
    SetHandler mcp-auth-metrics
    Require ip 127.0.0.1
</Location>
<Location /scoped>
    AuthType MCP
    $policy
    Require mcp-scope admin
</Location>
<Location /ruled>
    AuthType MCP
    $policy
    MCPAuthToolRule "delete_*" deny
    Require valid-user
</Location>
<Location /ruled-scoped>
    AuthType MCP
    $policy
    MCPAuthToolRule "delete_*" deny
    Require mcp-scope admin
</Location>
EOF
$h->start;

my $ua = LWP::UserAgent->new(timeout => 30, keep_alive => 0);

sub scrape {
    my $res = $ua->get($h->url('/metrics'));
    return ($res, $res->code == 200 ? $res->decoded_content : '');
}

# { 'name{labels}' => value } of a scrape, labels as written.
sub samples {
    my %v;
    for (split /\n/, shift) {
        next if /^#/ || !/\S/;
        $v{$1} = $2 if /^(\S+(?:\{.*\})?) (\S+)$/;
    }
    return \%v;
}

# The value of one series of /mcp-like locations (server label whatever it is).
sub value {
    my ($s, $name, $location, %labels) = @_;
    my $want = join ',', map { "$_=\"$labels{$_}\"" } sort keys %labels;
    for my $k (keys %$s) {
        next unless $k =~ /^\Q$name\E\{server="[^"]*",location="\Q$location\E"(?:,(.*))?\}$/;
        my $rest = join ',', sort split /,(?=\w+=")/, $1 // '';
        return $s->{$k} if $rest eq $want;
    }
    return undef;
}

sub call {
    my ($path, $token, %o) = @_;
    my $r = HTTP::Request->new(($o{body} ? 'POST' : 'GET') => $h->url($path));
    $r->header(Authorization => "Bearer $token") if defined $token;
    if ($o{body}) {
        $r->header('Content-Type' => 'application/json');
        $r->content($o{body});
    }
    return $ua->request($r);
}

# --- before any traffic --------------------------------------------------------
my ($res0, $text0) = scrape();
ok t_cmp($res0->code, 200, 'the metrics handler answers');
{
    my $post = $ua->post($h->url('/metrics'), Content => '');
    ok t_cmp($post->code . ' Allow: ' . ($post->header('Allow') // '(none)'), qr/^405 Allow: (?=.*\bGET\b)(?!.*POST)/,
             'a POST to the metrics handler: 405 naming GET');
}
ok t_cmp($res0->header('Content-Type') // '', 'text/plain; version=0.0.4; charset=utf-8',
         'text exposition format 0.0.4');
my $s0 = samples($text0);
ok t_cmp(value($s0, 'mcp_auth_token_checks_total', '/mcp', result => 'accepted') // 'missing', 0,
         'a configured location is there with zeros before any request');

# --- known traffic -----------------------------------------------------------
my @codes;
push @codes, call('/mcp', $good)->code for 1 .. 3;
push @codes, call('/mcp', $expired)->code for 1 .. 2;
push @codes, call('/mcp', $badsig)->code;
push @codes, call('/mcp', undef)->code for 1 .. 2;
push @codes, call('/mcp/%22evil%0Alabel', undef)->code;   # a client's path is no label
push @codes, call('/mcp', 'abc')->code;
ok t_cmp("@codes", '200 200 200 401 401 401 401 401 401 401', '/mcp: the answers to the traffic sent');
@codes = map { call('/scoped', $good)->code } 1 .. 2;
ok t_cmp("@codes", '403 403', '/scoped: a valid token without the scope: 403');
my $call = '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"delete_all_secret_tool"}}';
my @ruled = map { call('/ruled', $good, body => $call) } 1 .. 2;
ok t_cmp(join(' ', map { $_->code . (($_->decoded_content // '') =~ /Unknown tool/ ? ' denied' : ' ?') } @ruled),
         '200 denied 200 denied', '/ruled: the rule denies the tool (a JSON-RPC error)');
# a rule denies the call, but Require mcp-scope refuses the request first:
# one refusal, for the scope, and no rule answer sent
ok t_cmp(call('/ruled-scoped', $good, body => $call)->code, 403, '/ruled-scoped: 403 for the scope');

my ($res1, $text1) = scrape();
my $s1 = samples($text1);
t_debug("scrape after the traffic:\n$text1");
my $d = sub {
    my ($name, $loc, %l) = @_;
    my ($a, $b) = (value($s1, $name, $loc, %l), value($s0, $name, $loc, %l) // 0);
    return defined $a ? $a - $b : 'missing';
};
my %token_deltas = (accepted => 3, expired => 2, bad_signature => 1, no_token => 3, malformed => 1, issuer => 0);
for my $r (sort keys %token_deltas) {
    ok t_cmp($d->('mcp_auth_token_checks_total', '/mcp', result => $r), $token_deltas{$r}, "/mcp: token checks $r");
}
for my $r (qw(expired bad_signature no_token malformed)) {
    ok t_cmp($d->('mcp_auth_refusals_total', '/mcp', reason => $r), $token_deltas{$r}, "/mcp: refusals $r");
}
ok t_cmp($d->('mcp_auth_request_duration_seconds_count', '/mcp'), 10,
         '/mcp: the histogram counts every request to the location');
ok t_cmp($d->('mcp_auth_request_duration_seconds_bucket', '/mcp', le => '+Inf'), 10, '/mcp: +Inf bucket too');
my $sum = $d->('mcp_auth_request_duration_seconds_sum', '/mcp');
ok t_cmp($sum > 0 && $sum < 30 ? 'plausible' : $sum, 'plausible', "/mcp: the module's time is summed ($sum s)");
ok t_cmp($d->('mcp_auth_token_checks_total', '/scoped', result => 'accepted'), 2, '/scoped: tokens accepted');
ok t_cmp($d->('mcp_auth_refusals_total', '/scoped', reason => 'insufficient_scope'), 2,
         '/scoped: refusals insufficient_scope');
ok t_cmp($d->('mcp_auth_request_duration_seconds_count', '/scoped'), 2, '/scoped: histogram count');
ok t_cmp($d->('mcp_auth_refusals_total', '/ruled', reason => 'mcp_rule'), 2, '/ruled: refusals mcp_rule');
ok t_cmp($d->('mcp_auth_rule_refusals_total', '/ruled', rule => 'MCPAuthToolRule delete_* deny'), 2,
         '/ruled: refusals by the rule, named as configured');
ok t_cmp($d->('mcp_auth_request_duration_seconds_count', '/ruled'), 2, '/ruled: histogram count');
ok t_cmp(join(' ', map { $d->('mcp_auth_refusals_total', '/ruled-scoped', reason => $_) // 0 } qw(insufficient_scope mcp_rule)),
         '1 0', '/ruled-scoped: counted once, as insufficient_scope, not as the rule whose answer was never sent');
my $fetch_ok = ($s1->{'mcp_auth_fetches_total{kind="jwks",result="ok"}'} // 0)
             - ($s0->{'mcp_auth_fetches_total{kind="jwks",result="ok"}'} // 0);
ok t_cmp($fetch_ok, fetches('metrics'), 'key set fetches: as many as the IdP served');
my $lookups = 0;
$lookups += ($s1->{"mcp_auth_token_cache_lookups_total{result=\"$_\"}"} // 0)
          - ($s0->{"mcp_auth_token_cache_lookups_total{result=\"$_\"}"} // 0) for qw(hit miss);
# every token that met a key set: 3+2+1+1 on /mcp, 2 on /scoped, 2 on /ruled, 1 on /ruled-scoped
ok t_cmp($lookups, 12, 'token cache lookups (hits and misses) of all processes');
ok t_cmp(($s1->{mcp_auth_token_cache_bytes} // 0) > 0 ? 'holds bytes' : 'empty', 'holds bytes',
         'token cache bytes of all processes');
my ($age) = map { $s1->{$_} } grep { /^mcp_auth_key_set_age_seconds\{url="[^"]*\/idp\/metrics"\}$/ } keys %$s1;
ok t_cmp(defined $age && $age >= 0 && $age < 600 ? 'fresh' : $age // 'missing', 'fresh', 'key set age in seconds');
ok t_cmp($text1 =~ /evil|delete_all_secret_tool|alice/ ? 'client value in a label' : 'none', 'none',
         'no path, subject or tool name from a client in any label');
ok t_cmp(scalar(grep { !/^# (HELP|TYPE) / && /\S/ && !/^mcp_auth_\w+(\{.*\})? \S+$/ } split /\n/, $text1), 0,
         'every sample line is an mcp_auth_ metric');

# --- promtool ----------------------------------------------------------------
{
    my $tmp = File::Temp->new(SUFFIX => '.prom');
    print $tmp $text1;
    close $tmp;
    my $out = `$PROMTOOL check metrics < $tmp 2>&1`;
    my $rc = $? >> 8;
    t_debug("promtool: $out");
    ok t_cmp($rc, 0, 'promtool check metrics: success');
    ok t_cmp($out, '', 'promtool check metrics: no lint complaint');
}

# --- shared by every process ---------------------------------------------------
{
    # a keep-alive connection holds one prefork child: the next scrape
    # is answered by another one
    my $ka = LWP::UserAgent->new(timeout => 30, keep_alive => 1);
    my $one = samples($ka->get($h->url('/metrics'))->decoded_content);
    my (undef, $t) = scrape();
    my $two = samples($t);
    my @pids = ($h->access_log =~ m{^(\d+) 200 \d+ /metrics$}mg);
    undef $ka;
    ok t_cmp($pids[-1] != $pids[-2] ? 'two processes' : 'one process', 'two processes',
             "two scrapes answered by two processes ($pids[-2], $pids[-1])");
    my $want = value($s1, 'mcp_auth_token_checks_total', '/mcp', result => 'accepted');
    ok t_cmp(join(' ', map { value($_, 'mcp_auth_token_checks_total', '/mcp', result => 'accepted') // 'missing' } $one, $two),
             "$want $want", 'both show the count of all processes');
}

# --- a graceful restart keeps the counts -------------------------------------------
my $gens = () = $h->error_log =~ /MCPAUTH0025/g;
ok $h->graceful;
my $deadline = time + 60;
while (time < $deadline) {
    my $now = () = $h->error_log =~ /MCPAUTH0025/g;
    last if $now > $gens && $h->listening;
    Time::HiRes::sleep(0.1);
}
ok t_cmp(scalar(() = $h->error_log =~ /MCPAUTH0025/g), $gens + 1, 'a new configuration generation started');
# the old generation's children may still answer: poll until a process
# of the new one does (a pid that served nothing before)
my %old = map { $_ => 1 } ($h->access_log =~ m{^(\d+) }mg);
my ($s2, $new_pid);
while (time < $deadline) {
    my ($r, $t) = scrape();
    my ($pid) = ($h->access_log =~ m{^(\d+) 200 \d+ /metrics\n\z}m);
    if ($r->code == 200 && $pid && !$old{$pid}) {
        ($s2, $new_pid) = (samples($t), $pid);
        last;
    }
    Time::HiRes::sleep(0.1);
}
ok t_cmp($new_pid ? 'new process' : 'none', 'new process', 'a process of the new generation answered a scrape');
$s2 ||= {};
my $kept = 1;
for my $k (grep { /^mcp_auth_(token_checks|refusals|rule_refusals|fetches|request_duration_seconds_count)/ } keys %$s1) {
    $kept = 0, t_debug("after graceful: $k $s1->{$k} -> " . ($s2->{$k} // 'missing'))
        unless defined $s2->{$k} && $s2->{$k} >= $s1->{$k};
}
ok t_cmp($kept, 1, 'after a graceful restart every counter is at least what it was');
ok t_cmp(value($s2, 'mcp_auth_token_checks_total', '/mcp', result => 'accepted'),
         value($s1, 'mcp_auth_token_checks_total', '/mcp', result => 'accepted'), '... and accepted is the same');
ok t_cmp(call('/mcp', $good)->code, 200, 'a request after the restart');
my (undef, $text3) = scrape();
my $s3 = samples($text3);
ok t_cmp(value($s3, 'mcp_auth_token_checks_total', '/mcp', result => 'accepted') - value($s1, 'mcp_auth_token_checks_total', '/mcp', result => 'accepted'),
         1, 'counting goes on in the same series');
ok t_cmp(value($s3, 'mcp_auth_request_duration_seconds_count', '/mcp') - value($s1, 'mcp_auth_request_duration_seconds_count', '/mcp'),
         1, 'the histogram goes on too');

# --- a real Prometheus scrapes it ----------------------------------------------
{
    my $dir = File::Temp->newdir('mcp-prom-XXXXXX', TMPDIR => 1);
    my $port = MCPInstance::free_port();
    my $target = '127.0.0.1:' . $h->port;
    open my $fh, '>', "$dir/prometheus.yml" or die $!;
    print $fh <<"EOF";
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: mcp
    metrics_path: /metrics
    static_configs:
      - targets: ['$target']
EOF
    close $fh;
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        open STDOUT, '>', "$dir/prometheus.log";
        open STDERR, '>&', \*STDOUT;
        exec $PROMETHEUS, "--config.file=$dir/prometheus.yml", "--storage.tsdb.path=$dir/data",
             "--web.listen-address=127.0.0.1:$port"
            or POSIX::_exit(127);
    }
    my $api = LWP::UserAgent->new(timeout => 5, keep_alive => 0);
    my $query = sub {
        my $res = $api->get("http://127.0.0.1:$port/api/v1/query?query=" . shift);
        my $doc = $res->code == 200 ? eval { JSON::PP->new->decode($res->decoded_content) } : undef;
        my $r = $doc && $doc->{data}{result}[0];
        return $r ? $r->{value}[1] : undef;
    };
    my $want = value($s3, 'mcp_auth_token_checks_total', '/mcp', result => 'accepted');
    my ($up, $got);
    my $limit = time + 90;
    while (time < $limit) {
        $up = $query->('up%7Bjob%3D%22mcp%22%7D');
        $got = $query->('mcp_auth_token_checks_total%7Bjob%3D%22mcp%22%2Clocation%3D%22%2Fmcp%22%2Cresult%3D%22accepted%22%7D');
        last if defined $up && $up == 1 && defined $got && $got == $want;
        Time::HiRes::sleep(0.25);
    }
    my $hcount = $query->('sum(mcp_auth_request_duration_seconds_count%7Bjob%3D%22mcp%22%2Clocation%3D%22%2Fruled%22%7D)');
    kill 'TERM', $pid;
    waitpid $pid, 0;
    t_debug('prometheus log: ' . join('', `tail -5 $dir/prometheus.log`)) unless defined $up && $up == 1;
    ok t_cmp($up // 'no answer', 1, 'Prometheus scraped the endpoint: up == 1');
    ok t_cmp($got // 'no answer', $want, 'Prometheus has the accepted count of /mcp the test caused');
    ok t_cmp($hcount // 'no answer', 2, 'Prometheus reads the histogram count of /ruled');
}

$h->stop;

# More locations than the registry holds: they count under (other), and
# the administrator is told at startup.
{
    my $many = join '', map { "<Location /many$_>\n    AuthType MCP\n    $policy\n    Require valid-user\n</Location>\n" } 1 .. 140;
    my $big = MCPInstance->new(mpm => 'prefork', location => $policy, server => $many);
    $big->start;
    ok t_cmp($big->error_log, qr/MCPAUTH0075: \d+ location\(s\) count under location="\(other\)"/,
             'a registry too small for the locations: MCPAUTH0075 at startup');
    $big->stop;
}
