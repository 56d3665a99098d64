# The status handler (SetHandler mcp-auth-status) and mod_status's
# server-status (?auto lines and HTML section) reflect fetches, kids and the
# token counters. /i4/stat: explicit key set; /i4/disco: discovery.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test;
use Apache::TestUtil;
use HTTP::Date ();
use JSON::PP ();
use LWP::UserAgent ();
use MCPTest;
use MintToken;
use CacheTest;
use MCPInstance;

my @REASONS = qw(no_token invalid_request malformed keys_unavailable unknown_kid bad_signature
                 expired not_yet_valid issuer audience other_claim insufficient_scope);
plan tests => 32 + 2 * @REASONS + 10;

my ($good, $expired, $badsig, $unknown, $wrongaud, $wrongiss, $disco, $dgood) = mint_many(
    { key => 'rsa1', header => { alg => 'RS256', kid => 'i4a' }, payload => i4_claims(sub => 'ann') },
    { key => 'rsa1', header => { alg => 'RS256', kid => 'i4a' }, payload => i4_claims(exp => time - 3600, iat => time - 7200) },
    { key => 'rsa2', header => { alg => 'RS256', kid => 'i4a' }, payload => i4_claims() },
    { key => 'rsa2', header => { alg => 'RS256', kid => 'nosuchkid' }, payload => i4_claims() },
    { key => 'rsa1', header => { alg => 'RS256', kid => 'i4a' }, payload => i4_claims(aud => 'urn:other') },
    { key => 'rsa1', header => { alg => 'RS256', kid => 'i4a' }, payload => i4_claims(iss => 'http://evil.example/') },
    { key => 'rsa1', header => { alg => 'RS256', kid => 'i4a' }, payload => MintToken::claims(-iss => i4_iss('i4disco'), -aud => 'urn:i4') },
    { key => 'rsa1', header => { alg => 'RS256', kid => 'i4a' }, payload => MintToken::claims(-iss => i4_iss('idisco'), -aud => 'urn:i4') },
);

reset_set('stat', 'file i4-good.json');
my $st0 = status_json();
ok t_cmp(ref $st0, 'HASH', 'status handler answers JSON');
ok t_cmp($st0->{cache} // '', 'shmcb', 'cache: shmcb');
ok t_cmp($st0->{pid} // '', qr/^\d+$/, 'pid');
my $e0 = (key_status($st0, 'stat') || {})->{jwks} || {};
ok t_cmp($e0->{fetches} // -1, 0, 'stat key set before any request: 0 fetches');
ok t_cmp($e0->{usable} ? 'usable' : 'unusable', 'unusable', '... and not usable');
my $c0 = $st0->{tokens};

ok t_cmp(bearer('i4', '/i4/stat', $good)->code, 200, 'valid token');
ok t_cmp(bearer('i4', '/i4/stat', undef)->code, 401, 'no token');
ok t_cmp(bearer('i4', '/i4/stat', $expired)->code, 401, 'expired');
ok t_cmp(bearer('i4', '/i4/stat', $badsig)->code, 401, 'bad signature');
ok t_cmp(bearer('i4', '/i4/stat', $unknown)->code, 401, 'unknown kid');
ok t_cmp(bearer('i4', '/i4/stat', $wrongaud)->code, 401, 'wrong audience');
ok t_cmp(bearer('i4', '/i4/stat', $wrongiss)->code, 401, 'wrong issuer');
ok t_cmp(bearer('i4', '/i4/stat', 'abc')->code, 401, 'malformed');
ok t_cmp(fetches('stat'), 2, 'fixture: 2 fetches (first use, unknown kid)');

my $st1 = status_json();
my $c1 = $st1->{tokens};
my %delta = (accepted => 1, no_token => 1, expired => 1, bad_signature => 1, unknown_kid => 1,
             audience => 1, issuer => 1, malformed => 1);
ok t_cmp($c1->{accepted} - $c0->{accepted}, 1, 'tokens.accepted +1');
for my $r (@REASONS) {
    ok t_cmp(($c1->{rejected}{$r} // -1000) - ($c0->{rejected}{$r} // 0), $delta{$r} // 0,
             "tokens.rejected.$r +" . ($delta{$r} // 0));
}
my $j = (key_status($st1, 'stat') || {})->{jwks} || {};
ok t_cmp($j->{url} // '', url('i4idp', '/idp/stat'), 'jwks.url');
ok t_cmp($j->{fetches} // -1, 2, 'jwks.fetches 2 (same as the fixture)');
ok t_cmp($j->{failures} // -1, 0, 'jwks.failures 0');
ok t_cmp($j->{last_fetch_ok} ? 'true' : 'false', 'true', 'jwks.last_fetch_ok');
ok t_cmp(exists $j->{last_error} ? 'present' : 'absent', 'absent', 'no last_error');
ok t_cmp(join(',', @{ $j->{kids} || [] }), 'i4a', 'jwks.kids');
ok t_cmp($j->{stale} ? 'stale' : 'fresh', 'fresh', 'jwks.stale false');
ok t_cmp($j->{usable} ? 'usable' : 'unusable', 'usable', 'jwks.usable');
my ($fa, $nr, $lf) = map { HTTP::Date::str2time($j->{$_} // '') } qw(fetched_at next_refresh last_fetch);
ok t_cmp(defined $fa && abs($fa - time) < 30 ? 'recent' : ($j->{fetched_at} // 'null'), 'recent', 'fetched_at is a recent date');
ok t_cmp(defined $nr && defined $fa ? $nr - $fa : 'null', qr/^(299|300|301)$/, 'next_refresh = fetched_at + max-age 300');
ok t_cmp(defined $lf && abs($lf - time) < 30 ? 'recent' : ($j->{last_fetch} // 'null'), 'recent', 'last_fetch is a recent date');

# server-status?auto: the same counters.
my $auto = auto_status();
my $st2 = status_json();
ok t_cmp($auto->{MCPAuthAccepted} // -1, $st2->{tokens}{accepted}, 'MCPAuthAccepted matches the JSON');
for my $r (@REASONS) {
    ok t_cmp($auto->{"MCPAuthRejected_$r"} // -1, $st2->{tokens}{rejected}{$r}, "MCPAuthRejected_$r matches");
}
my $html = req(GET => 'i4', '/server-status')->decoded_content // '';
ok t_cmp($html, qr{<h2>mod_mcp_auth</h2>}, 'server-status HTML: mod_mcp_auth section');
ok t_cmp($html, qr{/idp/stat</td><td>\[&quot;i4a&quot;\]</td><td>2</td>}, 'HTML row: key set, kids, fetches');

# Discovery, asked over one keep-alive connection (so the same process).
reset_set('i4disco', 'file i4-good.json');
my $ua = LWP::UserAgent->new(keep_alive => 1, timeout => 30);
my $res = $ua->get(url('i4', '/i4/disco'), Authorization => "Bearer $disco");
ok t_cmp($res->code, 200, 'discovery location: valid token');
ok t_cmp(disco_fetches('i4disco') . '/' . fetches('i4disco'), '1/1', 'fixture: 1 discovery fetch, 1 JWKS fetch');
my $s = status_json($ua);
my ($d) = grep { ($_->{issuer} // '') eq i4_iss('i4disco') } @{ $s->{keys} || [] };
ok t_cmp(($d->{discovery} || {})->{url} // '', url('i4idp', '/.well-known/oauth-authorization-server/t/i4disco'),
         'status: discovery url');
ok t_cmp(($d->{discovery} || {})->{fetches} // -1, 1, 'status: discovery fetches 1');
ok t_cmp(($d->{jwks} || {})->{fetches} // -1, 1, 'status: jwks (from discovery) fetches 1');
ok t_cmp(join(',', @{ ($d->{jwks} || {})->{kids} || [] }), 'i4a', 'status: jwks kids');

# Every process reports the discovered key set: a prefork instance, the first
# child held by a keep-alive connection, so the status comes from another.
reset_set('idisco', 'file i4-good.json');
my $h = MCPInstance->new(mpm => 'prefork',
    mpm_conf => "StartServers 3\nMinSpareServers 3\nMaxSpareServers 6\nKeepAliveTimeout 10",
    location => "MCPAuthIssuer " . i4_iss('idisco') . "\n    MCPAuthAudience urn:i4");
$h->start;
my $ka = LWP::UserAgent->new(keep_alive => 1, timeout => 30);
$res = $ka->get($h->url('/mcp'), Authorization => "Bearer $dgood");
ok t_cmp($res->code, 200, 'instance: discovery location accepts');
my $same = eval { JSON::PP->new->decode($ka->get($h->url('/mcp-auth-status'))->decoded_content) } || {};
my ($da) = grep { ($_->{issuer} // '') eq i4_iss('idisco') } @{ $same->{keys} || [] };
ok t_cmp(($da->{jwks} || {})->{fetches} // -1, 1, 'status from the same process: jwks fetches 1');
{
    my $post = $ka->post($h->url('/mcp-auth-status'), Content => '');
    ok t_cmp($post->code . ' Allow: ' . ($post->header('Allow') // '(none)'), qr/^405 Allow: (?=.*\bGET\b)(?!.*POST)/,
             'a POST to the status handler: 405 naming GET');
}
my $other_ua = LWP::UserAgent->new(keep_alive => 0, timeout => 30);
my $other = eval { JSON::PP->new->decode($other_ua->get($h->url('/mcp-auth-status'))->decoded_content) } || {};
my ($db) = grep { ($_->{issuer} // '') eq i4_iss('idisco') } @{ $other->{keys} || [] };
t_debug("status pids: same $same->{pid}, other " . ($other->{pid} // '?'));
t_debug('entry from the other process: ' . JSON::PP->new->canonical->encode($db || {}));
ok t_cmp(($other->{pid} // 0) != ($same->{pid} // 0) ? 'other process' : 'same process', 'other process',
         'second status request served by another child');
ok t_cmp(($db->{discovery} || {})->{fetches} // 'no discovery entry', 1,
         'status from another process: discovery fetches 1');
ok t_cmp(($db->{jwks} || {})->{fetches} // 'no jwks entry', 1,
         'status from another process: jwks fetches 1');
undef $ka;
$h->stop;
ok t_cmp(disco_fetches('idisco') . '/' . fetches('idisco'), '1/1', 'instance: 1 discovery fetch, 1 JWKS fetch');
