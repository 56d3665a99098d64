# The audit log (issue 20): the LogFormat of conf-examples/audit-log.conf
# writes one JSON object a line for each request to an AuthType MCP
# location, whatever names a client sends, with who asked, what was called,
# the gateway's decision and why, and the status. Every line is parsed.
# Config: t/conf/issue20.conf.in.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test;
use Apache::TestUtil;
use JSON::PP ();
use MCPTest;
use MintToken;
use I3Test;

my $BODY = JSON::PP->new->utf8->canonical;   # request bodies: UTF-8
my $LINE = JSON::PP->new->canonical;         # what the tests compare
my $ISS  = url('i20idp', '/realms/test');
my $LOGS = Apache::Test::vars('t_logs');
my @FIELDS = qw(time client location subject client_id method tool version decision reason rule status);

# --- callers ----------------------------------------------------------------------------------
my %claims = (
    alice   => { sub => 'alice', client_id => "cli\"ent\\one" },
    admin   => { sub => 'root', client_id => 'admin-cli', scope => 'mcp:tools mcp:admin' },
    unicode => { sub => "o'brien \"jr\" \\ caf\x{e9} \x{1F600}", azp => "azp-\x{4e2d}" },
    expired => { exp => time - 3600, iat => time - 7200 },
    wrongaud => { -aud => 'urn:other' },
);
my @who = sort keys %claims;
my %token;
@token{@who} = mint_many(map {
    my %c = %{ $claims{$_} };
    { key => 'rsa1', header => { alg => 'RS256', kid => 'rsa1' },
      payload => MintToken::claims(-iss => $ISS, -aud => delete $c{-aud} // 'urn:i20', %c) }
} @who);
# the signature of alice's token, one character changed (not the last:
# its spare bits would make it no canonical base64url, "malformed")
($token{badsig} = $token{alice}) =~ s/(.)(.{9})$/($1 eq 'A' ? 'B' : 'A') . $2/e;

my %subject   = (alice => 'alice', admin => 'root', unicode => $claims{unicode}{sub});
my %client_id = (alice => "cli\"ent\\one", admin => 'admin-cli', unicode => "azp-\x{4e2d}");

# the exchange endpoints of t/cgi-bin/introspect: one refuses, one fails
mkdir MintToken::fixtures_dir() . '/state';
write_state('intro-a20no.json', '{"mode":"status 400 invalid_target"}');
write_state('intro-a20down.json', '{"mode":"status 500"}');

# --- requests, and the line each must leave -----------------------------------------------------
my (@expected, @outside);
my $started = time;
# the logs as they were: only what this test adds counts
my %offset = map { ($_ => -s "$LOGS/$_" || 0) } qw(i20_audit_log i20_all_log);

sub call { $BODY->encode({ jsonrpc => '2.0', id => 1, method => 'tools/call', params => { name => $_[0], arguments => {} } }) }

# send(EXPECT, METHOD, PATH, [WHO], body => BYTES, ctype => TYPE, headers => [...])
sub send_mcp {
    my ($want, $method, $path, $as, %o) = @_;
    my @auth = !defined $as ? () : $as =~ /^Bearer / ? (Authorization => $as) : (Authorization => "Bearer $token{$as}");
    my $r = I3Test::http($method => 'i20', $path, ctype => 'application/json', %o,
                         headers => [ @auth, Accept => 'application/json, text/event-stream', @{ $o{headers} || [] } ]);
    my $loc = $path =~ m{^(/[a-z-]+)} ? $1 : $path;
    my $valid = defined $as && exists $subject{$as} && ($want->{decision} eq 'allowed' || $want->{valid});
    push @expected, {
        location => $loc, subject => $valid ? $subject{$as} : undef, client_id => $valid ? $client_id{$as} : undef,
        method => undef, tool => undef, version => undef, rule => undef, status => 0 + $r->code,
        map { $_ eq 'valid' ? () : ($_ => $want->{$_}) } keys %$want,
    };
    return $r;
}

sub allowed { { decision => 'allowed', reason => 'valid_token', @_ } }
sub refused { my $reason = shift; { decision => 'refused', reason => $reason, @_ } }

# names a client may send, each called once by alice and allowed ("*" allow)
my $long = 'L' x 2000;
my $long_utf8 = "\x{e9}" x 400;   # 800 bytes of UTF-8
my %hostile = (
    'a quote'              => 'q"uote',
    'a backslash'          => 'back\\slash\\',
    'a newline'            => "new\nline",
    'CR, tab, form feed'   => "cr\rtab\tff\f",
    'other controls, DEL'  => "ctl\x01\x02\x1b\x1f\x7f",
    'Latin-1 letters'      => "caf\x{e9}_lookup",
    'an emoji'             => "emoji_\x{1F600}",
    'U+2028 and U+2029'    => "sep\x{2028}\x{2029}",
    'markup'               => '</script><b>&amp;',
    'JSON inside'          => '{"tool":"fake","decision":"allowed"}',
    'log format syntax'    => '%{time}M %>s %h \x41 -',
    'a long name'          => $long,
    'a long UTF-8 name'    => $long_utf8,
);
my %cut = ($long => ('L' x 512) . "\x{2026}", $long_utf8 => ("\x{e9}" x 256) . "\x{2026}");
my %seen_code;
for my $what (sort keys %hostile) {
    my $name = $hostile{$what};
    my $r = send_mcp(allowed(method => 'tools/call', tool => $cut{$name} // $name), POST => '/rules', 'alice',
                     body => call($name));
    $seen_code{$what} = $r->code;
}

# allowed otherwise
send_mcp(allowed(method => 'tools/call', tool => 'unicode_caller'), POST => '/rules', 'unicode', body => call('unicode_caller'));
send_mcp(allowed(method => 'tools/call', tool => 'admin_reset'), POST => '/rules', 'admin', body => call('admin_reset'));
send_mcp(allowed(method => 'tools/call,tools/call', tool => 'first,second'), POST => '/rules', 'alice',
         body => $BODY->encode([ map { { jsonrpc => '2.0', id => $_, method => 'tools/call', params => { name => $_ } } } qw(first second) ]));
# the 2026-07-28 era: stateless, its method and name in headers as well as the body
send_mcp(allowed(method => 'tools/call', tool => 'modern_tool', version => '2026-07-28'), POST => '/rules', 'alice',
         body => call('modern_tool'),
         headers => [ 'MCP-Protocol-Version' => '2026-07-28', 'Mcp-Method' => 'tools/call', 'Mcp-Name' => 'modern_tool' ]);
send_mcp(refused('header_mismatch', valid => 1, method => 'tools/call', tool => 'modern_tool', version => '2026-07-28'),
         POST => '/rules', 'alice', body => call('modern_tool'),
         headers => [ 'MCP-Protocol-Version' => '2026-07-28', 'Mcp-Method' => 'tools/call', 'Mcp-Name' => 'other"tool' ]);
# a header a client writes as it likes: quotes, bytes that are not UTF-8
send_mcp(allowed(method => 'tools/call', tool => 'versioned', version => "2025-06-18\"\\\x{fffd}\x{fffd}"),
         POST => '/rules', 'alice', body => call('versioned'), headers => [ 'MCP-Protocol-Version' => "2025-06-18\"\\\xff\xfe" ]);
send_mcp(allowed(), GET => '/rules', 'alice');
send_mcp(allowed(), DELETE => '/rules', 'alice');
send_mcp({ decision => 'allowed', reason => 'preflight' }, OPTIONS => '/rules', undef,
         headers => [ Origin => 'https://app.example', 'Access-Control-Request-Method' => 'POST' ]);
send_mcp({ decision => 'allowed', reason => 'anonymous', method => 'tools/call', tool => 'anon' }, POST => '/anon', undef,
         body => call('anon'));
send_mcp({ decision => 'allowed', reason => 'anonymous', method => 'tools/call', tool => 'anon_expired' },
         POST => '/anon', 'expired', body => call('anon_expired'));

# refused by the token check, before the body is read
send_mcp(refused('no_token'), POST => '/rules', undef, body => call('no_token'));
send_mcp(refused('invalid_request'), POST => '/rules', 'Bearer two tokens', body => call('malformed'));
send_mcp(refused('expired'), POST => '/rules', 'expired', body => call('expired'));
send_mcp(refused('audience'), POST => '/rules', 'wrongaud', body => call('wrongaud'));
send_mcp(refused('bad_signature'), POST => '/rules', 'Bearer ' . $token{badsig}, body => call('badsig'));
send_mcp(refused('no_token'), POST => '/errdoc', undef, body => call('errdoc'));
send_mcp(refused('session', valid => 1), POST => '/sessions', 'alice', body => call('session'),
         headers => [ 'Mcp-Session-Id' => 'made-up-session' ]);

# refused by what the request asks
send_mcp(refused('rule', valid => 1, method => 'tools/call', tool => 'secret_plans', rule => 'MCPAuthToolRule secret_* deny'),
         POST => '/rules', 'alice', body => call('secret_plans'));
send_mcp(refused('insufficient_scope', valid => 1, method => 'tools/call', tool => 'admin_reset',
                 rule => 'MCPAuthToolRule admin_* scope mcp:admin'),
         POST => '/rules', 'alice', body => call('admin_reset'));
send_mcp(refused('require', valid => 1, method => 'tools/call', tool => 'refused_by_expr'), POST => '/rules', 'alice',
         body => call('refused_by_expr'));
send_mcp(refused('insufficient_scope', valid => 1, method => 'tools/call', tool => 'scoped', rule => 'Require mcp-scope mcp:admin'),
         POST => '/scope', 'alice', body => call('scoped'));
send_mcp(refused('require', valid => 1, method => 'tools/call', tool => 'claimed', rule => 'Require mcp-claim groups ops'),
         POST => '/claim', 'alice', body => call('claimed'));
send_mcp(refused('invalid_mcp_request', valid => 1), POST => '/rules', 'alice',
         body => '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"nul\u0000byte"}}');
send_mcp(refused('invalid_mcp_request', valid => 1), POST => '/rules', 'alice',
         body => "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"bad\xff\xfename\"}}");
send_mcp(refused('invalid_mcp_request', valid => 1), POST => '/rules', 'alice', body => call('typed'), ctype => 'text/plain');
send_mcp(refused('exchange_refused', valid => 1, method => 'tools/call', tool => 'traded'), POST => '/exchange-no', 'alice',
         body => call('traded'));
send_mcp(refused('exchange_unavailable', valid => 1, method => 'tools/call', tool => 'traded'), POST => '/exchange-down', 'alice',
         body => call('traded'));

# outside any AuthType MCP location: never in the audit log
for my $r ([ GET => '/plain' ], [ POST => '/plain', body => call("q\"\n\x{1F600}") ],
           [ GET => '/.well-known/oauth-protected-resource/rules' ]) {
    my ($method, $path, %o) = @$r;
    I3Test::http($method => 'i20', $path, ctype => 'application/json', %o);
    push @outside, $path;
}

# --- the logs ---------------------------------------------------------------------------------
sub log_lines {
    open my $fh, '<:raw', "$LOGS/$_[0]" or return ();
    seek $fh, $offset{ $_[0] }, 0;
    my @l = <$fh>;
    return @l;
}

# lines are written once the answer is out: wait for all of them, then for
# a last request's, which comes after any line a request too many had left
poll(30, sub { log_lines('i20_audit_log') >= @expected });
send_mcp(allowed(method => 'tools/call', tool => 'last'), POST => '/rules', 'alice', body => call('last'));
poll(30, sub { grep { /"tool":"last"/ } log_lines('i20_audit_log') });
my @lines = log_lines('i20_audit_log');

plan tests => 13 + keys %hostile;

ok t_cmp(scalar(@lines), scalar(@expected), 'one line for each request to an MCP location, none for the others');
ok t_cmp(join(',', grep { !/\A[\x20-\x7e]*\n\z/ } @lines), '', 'every line is printable ASCII, ending in a newline');

my (@parsed, @unparsed);
for my $l (@lines) {
    my $d = eval { JSON::PP->new->decode($l) };
    if (ref $d eq 'HASH') { push @parsed, $d } else { push @unparsed, $l }
}
ok t_cmp(scalar(@unparsed), 0, 'every line parses as one JSON object') or t_debug("unparsed: @unparsed");
ok t_cmp(join(' ', map { join(',', sort keys %$_) } grep { join(',', sort keys %$_) ne join(',', sort @FIELDS) } @parsed), '',
         'with the same fields each: ' . join(', ', @FIELDS));

my $time_re = qr/\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\z/;
ok t_cmp(scalar(grep { ($_->{time} // '') !~ $time_re } @parsed), 0, 'time: UTC to the millisecond (RFC 3339)');
{
    require Time::Local;
    my @off = grep {
        my ($y, $mo, $d, $h, $mi, $s) = $_->{time} =~ /(\d+)/g;
        my $t = Time::Local::timegm($s, $mi, $h, $d, $mo - 1, $y);
        $t < $started - 5 || $t > time + 5;
    } grep { ($_->{time} // '') =~ $time_re } @parsed;
    ok t_cmp(scalar(@off), 0, 'time: when the requests were made');
}
ok t_cmp(join(',', sort { $a cmp $b } keys %{ { map { ($_->{client} // 'null') => 1 } @parsed } }), '127.0.0.1',
         'client: the address the requests came from');
ok t_cmp(scalar(grep { !(defined $_->{status} && !ref $_->{status} && JSON::PP->new->allow_nonref->encode($_->{status}) =~ /\A\d{3}\z/) } @parsed),
         0, 'status: a JSON number');

# each line's fields against what its request must have left (in any order:
# the children write them as each request ends)
my $key = sub { my $h = shift; $LINE->encode({ map { ($_ => $h->{$_}) } grep { $_ ne 'time' && $_ ne 'client' } @FIELDS }) };
my %want;
$want{ $key->($_) }++ for @expected;
for my $d (@parsed) {
    my $k = $key->($d);
    if ($want{$k}) { delete $want{$k} unless --$want{$k} }
    else { $want{"unexpected $k"}++ }
}
ok t_cmp(join("\n", sort keys %want), '', 'each line is what its request must leave: location, caller, call, decision, reason, rule, status');

for my $what (sort keys %hostile) {
    my $name = $hostile{$what};
    my $want = $cut{$name} // $name;
    ok t_cmp(scalar(grep { defined $_->{tool} && $_->{tool} eq $want && $_->{decision} eq 'allowed' } @parsed), 1,
             "a tool name with $what reads back " . ($cut{$name} ? 'cut to 512 bytes, with an ellipsis' : 'exactly')
             . " (answered $seen_code{$what})");
}

ok t_cmp(scalar(grep { ($_->{decision} // '') eq 'refused' && ($_->{reason} // '') eq 'no_token' && $_->{location} eq '/errdoc'
                       && $_->{status} == 401 } @parsed), 1,
         'a refusal answered by an ErrorDocument elsewhere: the refused request\'s line');

# the same items without the condition: every request has a line, the
# others with nothing the gateway decided
{
    my @all = map { scalar eval { JSON::PP->new->decode($_) } } log_lines('i20_all_log');
    ok t_cmp(scalar(grep { ref $_ ne 'HASH' } @all), 0, 'the items outside MCP locations: still one JSON object a line');
    my @none = grep { ref $_ eq 'HASH' && !defined $_->{decision} } @all;
    ok t_cmp($LINE->encode([ map { [ @$_{qw(location subject method tool reason rule)} ] } @none ]),
             $LINE->encode([ map { [ (undef) x 6 ] } @outside ]),
             'there every field the gateway fills is null');
}

# the format tested is the one documented
{
    my $format = sub {
        my ($file, $nick) = @_;
        open my $fh, '<', $file or return "(cannot read $file)";
        my @f = grep { /^\s*LogFormat .* \Q$nick\E$/ } <$fh>;
        s/^\s+|\s+$//g for @f;
        return join("\n", @f);
    };
    my $top = Apache::Test::vars('top_dir');
    my $tested = $format->("$FindBin::Bin/conf/issue20.conf.in", 'mcp_audit');
    my @docs = qw(conf-examples/audit-log.conf conf-examples/tool-policy.conf README.md);
    ok t_cmp(join("\n", map { $format->("$top/$_", 'mcp_audit') } @docs), join("\n", ($tested) x @docs),
             'the LogFormat tested is the one of conf-examples/audit-log.conf, tool-policy.conf and the README');
}
