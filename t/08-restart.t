# Graceful restart and restart: the server keeps answering correctly and no
# child crashes (shared cache and mutex are re-created with the config).
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test;
use Apache::TestUtil;
use Time::HiRes ();
use JSON::PP ();
use MCPTest;
use MintToken;
use I3Test ();

plan tests => 3 + 2 * 8 + 1;

my ($good, $bad, $i16) = mint_many(
    { key => 'rsa1', header => { alg => 'RS256', kid => 'rsa1' }, payload => std_claims(sub => 'rita', exp => time + 3600) },
    { key => 'rsa1', header => { alg => 'RS256', kid => 'rsa1' }, payload => std_claims(iss => 'http://evil.example/') },
    { key => 'rsa1', header => { alg => 'RS256', kid => 'rsa1' },
      payload => MintToken::claims(-iss => url('i16idp', '/realms/test'), -aud => 'urn:i16', sub => 'rita') },
);

# An MCP session (2025 era) handed out before the reloads: its id is sealed
# to rita with the relay key, which outlives them.
my $call = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{}}}';
sub on_session {
    my ($body, @session) = @_;
    return I3Test::http(POST => 'i16', '/sess', body => $body, ctype => 'application/json',
                        headers => [ Authorization => "Bearer $i16", Accept => 'application/json, text/event-stream',
                                     @session ]);
}
my $session = on_session('{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25",'
                         . '"capabilities":{},"clientInfo":{"name":"t08","version":"1"}}}')->header('Mcp-Session-Id');
ok t_cmp(defined $session ? 'a session' : 'none', 'a session', 'a session handed out before the reloads');
my $log0 = error_log_size();

sub pid {
    open my $fh, '<', Apache::Test::vars('t_logs') . '/httpd.pid' or return;
    my $p = <$fh>;
    chomp $p if defined $p;
    return $p;
}

my $pid = pid();
ok t_cmp($pid // '', qr/^\d+$/, 'server pid known');
ok t_cmp(req(GET => 'mcp', '/mcp', Authorization => "Bearer $good")->code, 200, 'valid token before');

for my $sig (qw(USR1 HUP)) {
    my $mark = error_log_size();
    kill $sig, $pid;
    # the module logs MCPAUTH0025 from post_config of the new generation
    my $seen = error_log_since($mark, qr/MCPAUTH0025/, 15);
    # give the new generation a moment to take over the listeners
    Time::HiRes::sleep(1);
    ok t_cmp($seen, qr/MCPAUTH0025/, "$sig: configuration reloaded");
    my $code = 0;
    for (1 .. 50) {
        $code = req(GET => 'mcp', '/mcp', Authorization => "Bearer $good")->code;
        last if $code == 200;
        Time::HiRes::sleep(0.2);
    }
    ok t_cmp($code, 200, "$sig: valid token accepted after reload");
    my $res = req(GET => 'mcp', '/mcp', Authorization => "Bearer $good");
    ok t_cmp((echo_of($res) || { headers => {} })->{headers}{'x-remote-user'}, 'rita', "$sig: identity forwarded");
    my $n200 = 0;
    $n200 += req(GET => 'mcp', '/mcp', Authorization => "Bearer $good")->code == 200 for 1 .. 10;
    ok t_cmp($n200, 10, "$sig: 10 more requests all accepted");
    ok t_cmp(req(GET => 'mcp', '/mcp', Authorization => "Bearer $bad")->code, 401, "$sig: invalid token refused");
    ok t_cmp(req(GET => 'mcp', '/.well-known/oauth-protected-resource/mcp')->code, 200, "$sig: metadata served");
    ok t_cmp(pid() // '', $pid, "$sig: same parent process");
    ok t_cmp(is_echo(on_session($call, 'Mcp-Session-Id' => $session // 'none')) ? 'forwarded' : 'refused', 'forwarded',
             "$sig: the session handed out before still opens for its user");
}

my $log = error_log_since($log0);
my @crash = $log =~ /^.*(?:Segmentation fault|exit signal|AH00052|AH00060|MCPAUTH002[0-46]).*$/mg;
# shown even without -verbose, so a failure in CI says what it saw
diag("error log lines that count as a crash:\n" . join("\n", @crash)) if @crash;
ok t_cmp(join("\n", @crash), '', 'no crashed child, no cache/mutex error in the log');
