# What the backend receives for an accepted request; streaming.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test;
use Apache::TestUtil;
use IO::Select ();
use IO::Socket::INET ();
use Time::HiRes qw(time);
use MCPTest;
use MintToken;

plan tests => 38;

my ($tok, $tok_noemail, $tok_raw, $tok_sse) = mint_many(
    { key => 'rsa1', header => { alg => 'RS256', kid => 'rsa1' },
      payload => std_claims(sub => 'alice', email => 'alice@example.test') },
    { key => 'p256', header => { alg => 'ES256', kid => 'ec256' },
      payload => std_claims(sub => 'bob') },
    { key => 'rsa1', header => { alg => 'RS256', kid => 'rsa1' },
      payload => std_claims(sub => 'carol') },
    { key => 'rsa1', header => { alg => 'RS256', kid => 'rsa1' },
      payload => std_claims(sub => 'dave') },
);

# --- controls: the instruments can see what the module must remove ---------------------
{
    my $e = echo_of(req(GET => 'idp', '/cgi/echo', Authorization => 'Bearer direct',
                        'X-Remote-User' => 'direct')) || { headers => {} };
    ok t_cmp($e->{headers}{authorization} // '', 'Bearer direct', 'control: echo shows an Authorization it receives');
    # (a leading ':' keeps LWP from turning '_' into '-')
    my $raw = req(GET => 'idp', '/raw-echo', ':X-Remote_User' => 'direct')->decoded_content // '';
    ok t_cmp($raw, qr/^X-Remote_User: direct$/m, 'control: raw echo shows underscore names');
}

# --- identity in, token out ---------------------------------------------------------
{
    my $res = req(GET => 'mcp', '/mcp', Authorization => "Bearer $tok");
    ok t_cmp($res->code, 200, 'valid token: 200');
    my $e = echo_of($res) || { headers => {} };
    yes !exists $e->{headers}{authorization}, 'backend sees no Authorization header';
    ok t_cmp($e->{headers}{'x-remote-user'}, 'alice', 'X-Remote-User = sub');
    ok t_cmp($e->{headers}{'x-remote-email'}, 'alice@example.test', 'X-Remote-Email = email claim');
    yes !grep({ index($_, $tok) >= 0 } values %{ $e->{headers} }), 'the token is in no header the backend sees';
}

# Forged identity headers from the client are replaced or removed.
{
    my $res = req(GET => 'mcp', '/mcp', Authorization => "Bearer $tok",
                  'X-Remote-User' => 'mallory', 'x-remote-user' => 'root');
    my $e = echo_of($res) || { headers => {} };
    ok t_cmp($res->code, 200, 'forged X-Remote-User: still 200');
    ok t_cmp($e->{headers}{'x-remote-user'}, 'alice', 'forged X-Remote-User replaced by sub');
}
{
    my $res = req(GET => 'mcp', '/mcp', Authorization => "Bearer $tok_noemail",
                  'X-Remote-Email' => 'mallory@example.test');
    my $e = echo_of($res) || { headers => {} };
    ok t_cmp($res->code, 200, 'token without email: 200');
    ok t_cmp($e->{headers}{'x-remote-user'}, 'bob', 'X-Remote-User = bob');
    yes !exists $e->{headers}{'x-remote-email'}, 'forged X-Remote-Email removed when the claim is absent';
}

# Raw view (names as forwarded): underscore variants are removed too.
{
    my $res = req(GET => 'mcp', '/mcp-raw', Authorization => "Bearer $tok_raw",
                  ':X-Remote_User' => 'mallory', ':X_Remote_User' => 'eve', ':x-remote-user' => 'trudy',
                  'X-Other' => 'kept');
    ok t_cmp($res->code, 200, 'raw backend: 200');
    my $body = $res->decoded_content // '';
    my @user = $body =~ /^x[-_]remote[-_]user: (.*)$/mgi;
    ok t_cmp(join('|', @user), 'carol', 'only the module-set identity header arrives');
    ok t_cmp($body, qr/^X-Remote-User: carol$/m, 'X-Remote-User: carol');
    yes $body !~ /^Authorization:/mi, 'raw backend: no Authorization';
    ok t_cmp($body, qr/^X-Other: kept$/m, 'unrelated client headers pass');
}

# Without a token, forged identity headers never reach anyone.
{
    my $hits = echo_hits();
    my $res = req(GET => 'mcp', '/mcp', 'X-Remote-User' => 'alice');
    ok t_cmp($res->code, 401, 'forged identity without token: 401');
    ok t_cmp(echo_hits(), $hits, 'backend not reached');
}

# Method, path, query and body pass through unchanged.
{
    my $body = '{"jsonrpc":"2.0","id":1,"method":"tools/list"}';
    my $r = HTTP::Request->new(POST => url('mcp', '/mcp/sub/path?x=1&y=two'));
    $r->header(Authorization => "Bearer $tok");
    $r->header('Content-Type' => 'application/json');
    # (Mcp-Session-Id values are sealed to their user: t/17-mcp-eras.t)
    $r->header('MCP-Protocol-Version' => '2025-06-18');
    $r->content($body);
    my $res = LWP::UserAgent->new(timeout => 30)->request($r);
    ok t_cmp($res->code, 200, 'POST with body: 200');
    my $e = echo_of($res) || { headers => {} };
    ok t_cmp($e->{method}, 'POST', 'method forwarded');
    ok t_cmp($e->{path_info}, '/sub/path', 'sub-path forwarded');
    ok t_cmp($e->{query}, 'x=1&y=two', 'query forwarded');
    ok t_cmp($e->{body}, $body, 'body forwarded');
    ok t_cmp($e->{headers}{'mcp-protocol-version'}, '2025-06-18', 'MCP-Protocol-Version forwarded');
}

# REMOTE_USER is the sub: it shows in the access log.
{
    my $res = req(GET => 'mcp', '/mcp/access-log-probe', Authorization => "Bearer $tok_noemail");
    ok t_cmp($res->code, 200, 'access log probe: 200');
    my $alog = Apache::Test::vars('t_logs') . '/access_log';
    my $line = '';
    for (1 .. 20) {
        open my $fh, '<', $alog or last;
        ($line) = grep { m{/mcp/access-log-probe} } <$fh>;
        last if $line;
        select undef, undef, undef, 0.1;
    }
    ok t_cmp($line // '', qr{^\S+ \S+ bob \[}, 'access log shows the user from sub');
}

# --- SSE streams through unbuffered ----------------------------------------------------
{
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => port('mcp'),
                                     Proto => 'tcp', Timeout => 10);
    ok t_cmp(defined $sock ? 1 : 0, 1, 'connected');
    my $t0 = time;
    print $sock "GET /mcp-sse HTTP/1.1\r\nHost: localhost:" . port('mcp') . "\r\n"
              . "Accept: text/event-stream\r\nAuthorization: Bearer $tok_sse\r\nConnection: close\r\n\r\n";
    my $sel = IO::Select->new($sock);
    my ($buf, $t_first, $t_second) = ('');
    while (time - $t0 < 15) {
        last unless $sel->can_read(15 - (time - $t0));
        my $n = sysread($sock, my $chunk, 65536);
        last unless $n;
        $buf .= $chunk;
        $t_first  //= time if $buf =~ /data: one/;
        $t_second //= time if $buf =~ /data: two/;
        last if $t_second;
    }
    close $sock;
    ok t_cmp($buf, qr{^HTTP/1\.1 200 }, 'SSE: 200');
    ok t_cmp($buf, qr{^Content-Type: text/event-stream}mi, 'SSE: text/event-stream');
    ok t_cmp(defined $t_first ? 1 : 0, 1, 'SSE: first event received');
    ok t_cmp(defined $t_second ? 1 : 0, 1, 'SSE: second event received');
    my $first_after  = defined $t_first ? $t_first - $t0 : 99;
    my $gap          = (defined $t_first && defined $t_second) ? $t_second - $t_first : 0;
    ok t_cmp($first_after < 2 ? 1 : 0, 1,
             sprintf('SSE: first event after %.2f s (< 2 s, not held back)', $first_after));
    ok t_cmp($gap >= 2 ? 1 : 0, 1, sprintf('SSE: second event %.2f s later (>= 2 s)', $gap));
    yes $buf !~ /^X-Remote-User:/mi, 'SSE: no identity header echoed to the client';
}

# One keep-alive connection: authentication does not carry over to the next
# request on it.
{
    my ($ua, @r);
    # a server may close an idle keep-alive connection at any time (LWP then
    # answers an internal 500 of its own): the sequence is tried again on a
    # fresh connection once, never on a real answer of the server's
    for my $try (1 .. 2) {
        $ua = LWP::UserAgent->new(keep_alive => 1, timeout => 30);
        my $get = sub { my $r = HTTP::Request->new(GET => url('mcp', '/mcp')); $r->header(@_) if @_; $ua->request($r) };
        @r = ($get->(Authorization => "Bearer $tok"), $get->(), $get->('X-Remote-User' => 'alice'));
        last unless grep { ($_->header('Client-Warning') // '') eq 'Internal response' } @r;
        diag('keep-alive connection dropped: ' . join(' | ', map { $_->status_line } @r));
    }
    ok t_cmp(join(' ', map { $_->code } @r), '200 401 401', 'same connection: token, then none, then forged identity')
        or diag(join("\n", map { $_->status_line . ' ' . substr($_->content // '', 0, 200) } @r));
    my $conns = $ua->conn_cache ? scalar($ua->conn_cache->get_connections) : 0;
    ok t_cmp($conns, 1, 'the requests shared one connection');
}

# The identity header is set for the backend only: never in the response.
{
    my $res = req(GET => 'mcp', '/mcp', Authorization => "Bearer $tok");
    yes !defined $res->header('X-Remote-User'), 'no X-Remote-User in the response to the client';
}
