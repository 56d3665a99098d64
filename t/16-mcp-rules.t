# Authorization inside MCP (issue 12), on requests: MCPAuthToolRule,
# MCPAuthPromptRule, MCPAuthResourceRule and MCPAuthDefault in front of the
# echo backend (which answers with the request it got, body included).
# Config: t/conf/issue12.conf.in.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test;
use Apache::TestUtil;
use IO::Compress::Gzip ();
use IO::Select ();
use IO::Socket::INET ();
use JSON::PP ();
use MCPTest;
use MintToken;
use I3Test;

my $J   = JSON::PP->new->canonical;
my $ISS = url('i12idp', '/realms/test');

# tokens: what each caller holds
my %who = (
    tools    => { scope => 'mcp:tools' },
    admin    => { scope => 'mcp:tools repo:admin' },
    engineer => { scope => 'mcp:tools', groups => [ 'engineering', 'ops' ] },
    none     => { scope => 'openid' },
);
my @names = sort keys %who;
my %token;
@token{@names} = mint_many(map {
    { key => 'rsa1', header => { alg => 'RS256', kid => 'rsa1' },
      payload => MintToken::claims(-iss => $ISS, -aud => 'urn:i12', sub => $_, %{ $who{$_} }) }
} @names);

sub call_body {
    my ($method, $params, $id) = @_;
    return $J->encode({ jsonrpc => '2.0', id => $id // 1, method => $method, params => $params });
}
sub tool { call_body('tools/call', { name => $_[0], arguments => {} }, $_[1]) }

# post(PATH, BODY, [WHO], HEADER => VALUE ...)
sub post {
    my ($path, $body, $as, @headers) = @_;
    my %h = ('Content-Type' => 'application/json', Accept => 'application/json, text/event-stream', @headers);
    my $ctype = delete $h{'Content-Type'};
    return I3Test::http(POST => 'i12', $path, body => $body, ctype => $ctype,
                        headers => [ ($as ? (Authorization => "Bearer $token{$as}") : ()), %h ]);
}

plan tests => 64;

# --- what a caller may call -----------------------------------------------------------------
{
    my $body = tool('echo', 7);
    my $r = post('/rules', $body, 'tools');
    ok t_cmp(rpc_outcome($r), 'backend', 'an allowed tool (catch-all rule, scope held): forwarded');
    ok t_cmp(echo_of($r)->{body}, $body, 'the body reaches the backend byte for byte');
    ok t_cmp(echo_of($r)->{headers}{'x-audit'}, 'tools/call echo (null)',
             'MCP_METHOD and MCP_TOOL for the log and the backend (no session yet)');

    $r = post('/rules', tool('delete_repo'), 'tools');
    my %c = %{ challenge($r) // {} };
    ok t_cmp($r->code . ' ' . ($c{error} // '') . ' ' . ($c{scope} // ''), '403 insufficient_scope repo:admin',
             'a tool whose rule needs a scope the token lacks: 403 naming it (step-up)');
    ok t_cmp($c{resource_metadata} // '', qr{/\.well-known/oauth-protected-resource/rules$}, 'with the metadata URL');
    ok t_cmp(rpc_outcome(post('/rules', tool('delete_repo'), 'admin')), 'backend', 'with that scope: forwarded');

    ok t_cmp(rpc_outcome(post('/rules', tool('search_code'), 'engineer')), 'backend', 'a claim rule held (array claim)');
    $r = post('/rules', tool('search_code', 'req-9'), 'tools');
    my $d = rpc_of($r);
    ok t_cmp(rpc_outcome($r), '200 rpc -32602', 'a claim rule not held: a JSON-RPC error, HTTP 200');
    ok t_cmp($J->encode([ $d->{id}, $d->{error}{message} ]), '["req-9","Unknown tool: search_code"]',
             'to the request\'s id, as for a tool the server does not have');
    ok t_cmp($r->header('Content-Type') // '', qr{^application/json}, 'as application/json');
    ok t_cmp(rpc_outcome(post('/rules', tool('secret'), 'admin')), '200 rpc -32602', 'a deny rule: denied to everyone');
    ok t_cmp(rpc_outcome(post('/rules', tool('echo'), 'none')), '403 oauth insufficient_scope', 'the catch-all\'s scope missing: 403');

    ok t_cmp(rpc_outcome(post('/rules', call_body('resources/read', { uri => 'file:///etc/passwd' }), 'tools')),
             '200 rpc -32002', 'a resource rule: Resource not found');
    ok t_cmp(rpc_outcome(post('/rules', call_body('resources/read', { uri => 'file:///tmp/x' }), 'tools')),
             'backend', 'another resource: forwarded');
    ok t_cmp(join(' ', map { rpc_outcome(post('/rules', call_body('resources/read', { uri => $_ }), 'tools')) }
                  'FILE:///etc/passwd', 'file://localhost/etc/passwd', 'file:///tmp/../etc/passwd', 'file:///%65tc/passwd'),
             join(' ', ('200 rpc -32002') x 4), 'other spellings of a denied URI (as servers normalise them): refused');
    ok t_cmp(rpc_outcome(post('/rules', call_body('resources/read', { uri => 'users://U123/profile' }), 'tools')), 'backend',
             'a URI no rule denies in any spelling (a host in upper case, another scheme): forwarded');
    ok t_cmp(rpc_outcome(post('/rules', call_body('prompts/get', { name => 'anything' }), 'none')),
             'backend', 'a prompt rule allow: forwarded');
    ok t_cmp(rpc_outcome(post('/rules', call_body('tools/list', {}), 'none')), 'backend',
             'tools/list is not a call: forwarded (its answer is filtered)');
}

# --- bypass attempts --------------------------------------------------------------------------
{
    my $dup = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","name":"secret"}}';
    ok t_cmp(rpc_outcome(post('/rules', $dup, 'admin')), '400 rpc -32700', 'two names (duplicate keys): 400');
    my $esc = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"secr\u0065t"}}';
    ok t_cmp(rpc_outcome(post('/rules', $esc, 'admin')), '200 rpc -32602', 'a \\u escape in the name: read as the server reads it');
    my $batch = '[' . tool('echo', 1) . ',' . tool('secret', 2) . ']';
    my $r = post('/rules', $batch, 'admin');
    my $d = rpc_of($r);
    ok t_cmp(ref $d eq 'ARRAY' ? join(' ', map { "$_->{id}:$_->{error}{code}" } @$d) : rpc_outcome($r),
             '1:-32600 2:-32602', 'a batch with one denied element: every request answered with an error');
    ok t_cmp(rpc_outcome(post('/rules', '[' . tool('echo', 1) . ',' . tool('delete_x', 2) . ']', 'admin')), 'backend',
             'a batch of allowed calls: forwarded');
    # notifications get no answer (JSON-RPC 2.0 §4.1): 202 and no body, as a server takes one it has no handler for
    my $note = $J->encode({ jsonrpc => '2.0', method => 'tools/call', params => { name => 'secret', arguments => {} } });
    $r = post('/rules', $note, 'admin');
    ok t_cmp(join(' ', $r->code, length($r->content), is_echo($r) ? 'forwarded' : 'held'), '202 0 held',
             'a denied tools/call sent as a notification: 202 without a body, not forwarded');
    $r = post('/rules', "[$note,$note]", 'admin');
    ok t_cmp(join(' ', $r->code, length($r->content), is_echo($r) ? 'forwarded' : 'held'), '202 0 held',
             'a batch of notifications with a denied one: 202 without a body, not forwarded');
    $r = post('/rules', '[' . $note . ',' . tool('echo', 3) . ']', 'admin');
    $d = rpc_of($r);
    ok t_cmp(ref $d eq 'ARRAY' ? join(' ', $r->code, map { "$_->{id}:$_->{error}{code}" } @$d) : rpc_outcome($r),
             '200 3:-32600', 'a batch of a denied notification and a request: only the request answered');
    ok t_cmp(rpc_outcome(post('/rules', '[' . tool('echo', 1) . ',' . tool('delete_x', 2) . ']', 'tools')), '403 oauth insufficient_scope',
             'a batch with a call that needs more scope: 403');
    ok t_cmp(rpc_outcome(post('/rules', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}', 'admin')),
             '400 rpc -32700', 'unparsable JSON: 400');
    ok t_cmp(rpc_outcome(post('/rules', tool('secret'), 'admin', 'Content-Type' => 'text/plain')), '415 rpc -32600',
             'JSON sent as text/plain: 415');
    ok t_cmp(rpc_outcome(post('/rules', tool('secret'), 'admin', 'Content-Type' => 'application/json; charset=utf-8')),
             '200 rpc -32602', 'application/json with a charset: read and judged');
    my $gz;
    IO::Compress::Gzip::gzip(\tool('secret') => \$gz) or die "gzip\n";
    ok t_cmp(rpc_outcome(post('/rules', $gz, 'admin', 'Content-Encoding' => 'gzip')), '415 rpc -32600', 'a gzip body: 415');
    my $big = call_body('tools/call', { name => 'echo', arguments => { pad => 'x' x 3000 } });
    ok t_cmp(rpc_outcome(post('/rules', $big, 'admin')), '413 rpc -32600', 'over MCPAuthMaxRequestBody: 413');
    ok t_cmp(rpc_outcome(post('/rules', tool('secret'), 'admin', 'Mcp-Method' => 'tools/list')), '400 rpc -32020',
             'an Mcp-Method header that disagrees with the body: 400 HeaderMismatch');
    ok t_cmp(rpc_outcome(post('/rules', tool('secret'), 'admin', 'Mcp-Name' => 'echo')), '400 rpc -32020',
             'an Mcp-Name header that disagrees with the body: 400 HeaderMismatch');
    ok t_cmp(rpc_outcome(post('/rules', tool('echo'), 'admin', 'Mcp-Method' => 'tools/call', 'Mcp-Name' => 'echo')),
             'backend', 'headers that agree: forwarded');

    # chunked bodies: no Content-Length to go by
    my $chunk = sub {
        my $body = shift;
        my $req = "POST /rules HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer $token{admin}\r\n"
                . "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
        for (my $i = 0; $i < length $body; $i += 100) {
            my $part = substr($body, $i, 100);
            $req .= sprintf("%x\r\n%s\r\n", length $part, $part);
        }
        return raw_http('i12', $req . "0\r\n\r\n");
    };
    my $small = tool('echo', 5);
    my $res = $chunk->($small);
    ok t_cmp($res =~ /X-Echo-Backend: 1/ && $res =~ /\Q"body":@{[ $J->encode($small) ]}\E/ ? 'forwarded whole' : $res,
             'forwarded whole', 'a chunked body: read, judged and forwarded byte for byte');
    ok t_cmp(($chunk->($big) =~ m{^HTTP/1\.1 (\d+)})[0] // 'none', 413, 'a chunked body over the limit: 413');
    ok t_cmp(($chunk->(tool('secret')) =~ /"code":-32602/) ? 'denied' : 'not denied', 'denied', 'a chunked denied call');
}

# --- the rest of httpd sees what was called ---------------------------------------------------
{
    ok t_cmp(post('/rules', tool('blocked_by_expr'), 'admin')->code, 403,
             'Require expr on reqenv(\'MCP_TOOL\') decides like any Require');
    ok t_cmp(error_log_since(0, qr/MCPAUTH0051: tools\/call secret for admin: denied \(MCPAuthToolRule secret deny\)/, 5),
             qr/MCPAUTH0051/, 'a denial is logged with the user and the rule');
    my $r = post('/rules', tool('echo'), 'tools', 'Mcp-Session-Id' => 'sess-42');
    ok t_cmp(echo_of($r)->{headers}{'x-audit'}, 'tools/call echo sess-42', 'MCP_SESSION too');

    my $refused = sub {
        my $doc = eval { $J->decode(I3Test::http(GET => 'i12', '/mcp-auth-status')->decoded_content) } // {};
        my ($loc) = grep { $_->{location} eq '/rules' } @{ $doc->{mcp_rules} // [] };
        my %by = map { $_->{rule} => $_->{refused} } @{ $loc->{rules} // [] };
        return \%by;
    };
    my $before = $refused->();
    post('/rules', tool('secret'), 'admin');
    post('/rules', tool('delete_it'), 'tools');
    my $after = $refused->();
    ok t_cmp(join(' ', map { ($after->{$_} // 0) - ($before->{$_} // 0) }
                       'MCPAuthToolRule secret deny', 'MCPAuthToolRule delete_* scope repo:admin',
                       'MCPAuthToolRule * scope mcp:tools'),
             '1 1 0', 'the status page counts refusals by rule');
}

# --- list answers lose what the caller may not use ---------------------------------------------
{
    my $names = sub {
        my ($r, $member, $key) = @_;
        my $d = rpc_of($r);
        return join ',', map { $_->{$key} } @{ ($d->{result} // {})->{$member} // [] };
    };
    my $list = call_body('tools/list', {}, 'l1');
    my $r = post('/lists-json', $list, 'tools');
    ok t_cmp($names->($r, 'tools', 'name'), 'echo', 'tools/list (JSON): only what this caller may call');
    ok t_cmp(rpc_of($r)->{result}{nextCursor} . ' ' . rpc_of($r)->{id}, 'page-2 l1', 'nextCursor and the id untouched');
    ok t_cmp($names->(post('/lists-json', $list, 'admin'), 'tools', 'name'), 'echo,delete_repo', 'with repo:admin: delete_repo too');
    ok t_cmp($names->(post('/lists-json', $list, 'engineer'), 'tools', 'name'), 'echo,search_code', 'in engineering: search_code too');
    ok t_cmp($names->(post('/lists-json', call_body('resources/list', {}), 'tools'), 'resources', 'uri'), 'file:///tmp/notes',
             'resources/list: by URI');
    ok t_cmp($names->(post('/lists-json', call_body('resources/templates/list', {}), 'tools'), 'resourceTemplates', 'uriTemplate'),
             'file:///tmp/{name}', 'resources/templates/list: by URI template');
    $r = post('/lists-json', call_body('prompts/list', {}, 'p'), 'tools');
    ok t_cmp($r->decoded_content, '{"id":"p","jsonrpc":"2.0","result":{"prompts":[{"name":"greet"},{"name":"other"}]}}',
             'a list no rule concerns: byte for byte');
    $r = post('/lists-json', '[' . call_body('tools/list', {}, 1) . ',' . call_body('resources/list', {}, 2) . ']', 'tools');
    my $d = rpc_of($r);
    ok t_cmp(ref $d eq 'ARRAY' ? join(' ', map { join ',', map { $_->{uri} // $_->{name} } @{ $_->{result}{tools} // $_->{result}{resources} } } @$d) : 'not a batch',
             'echo file:///tmp/notes', 'a batch of lists: each answer filtered');

    $r = post('/lists-sse', $list, 'tools');
    my $text = $r->decoded_content;
    my @events = split /\r?\n\r?\n/, $text;
    my ($answer) = grep { /"id":"l1"/ } @events;
    my $data = join "\n", map { /^data: ?(.*)$/ ? $1 : () } split /\r?\n/, $answer // '';
    my $sd = eval { $J->decode($data) } // {};
    ok t_cmp(($r->header('Content-Type') // '') . ' ' . join(',', map { $_->{name} } @{ $sd->{result}{tools} // [] }),
             qr{^text/event-stream.* echo$}, 'tools/list over SSE: filtered in the stream');
    ok t_cmp(($answer // '') =~ /^id: ev-1\n(?:.*\n)?event: message/m ? 'fields kept' : $answer // 'no answer', 'fields kept',
             'the event keeps its id and event fields');
    ok t_cmp($text, qr/data: \{"jsonrpc":"2\.0","method":"notifications\/message","params":\{"data":"secret tools ahead"\}\}\r\n\r\n: keep-alive\r\n/,
             'other events pass byte for byte (CRLF and all)');
    $r = I3Test::http(GET => 'i12', '/lists-sse', headers => [ Authorization => "Bearer $token{tools}",
                                                               Accept => 'text/event-stream', 'Last-Event-ID' => 'ev-1' ]);
    my ($replayed) = grep { /earlier-7/ } split /\r?\n\r?\n/, $r->decoded_content;
    ok t_cmp(($replayed // 'none') =~ /secret|delete_repo|search_code/ ? 'unfiltered' : ($replayed // 'none') =~ /"echo"/ ? 'filtered' : 'none',
             'filtered', 'a GET stream replaying a list answer (Last-Event-ID, another id): filtered too');
    $r = post('/lists-text', $list, 'tools');
    ok t_cmp($r->code . ' ' . ($r->decoded_content =~ /secret/ ? 'leaked' : 'not leaked'), '502 not leaked',
             'a list answer that is neither JSON nor SSE: 502, not passed on');
    # streamed: the first filtered event arrives while the server still holds the second
    {
        unlink state_file('lists-go');
        my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => port('i12'), Proto => 'tcp', Timeout => 30);
        print $sock "POST /lists-wait HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer $token{tools}\r\n"
                  . "Content-Type: application/json\r\nAccept: text/event-stream\r\nConnection: close\r\n"
                  . "Content-Length: " . length($list) . "\r\n\r\n$list";
        my $sel = IO::Select->new($sock);
        my ($buf, $first) = ('', '');
        while ($sel->can_read(60)) {
            last unless sysread($sock, my $chunk, 65536);
            $buf .= $chunk;
            if (!$first && $buf =~ /(id: w1\n[^\n]*\n)\n/) {
                $first = $1;
                write_state('lists-go', "go\n");   # now let the server go on
            }
            last if $buf =~ /id: w2\n[^\n]*\n\n/;
        }
        close $sock;
        ok t_cmp(($first =~ /"echo"/ && $first !~ /secret/ ? 'filtered' : 'not filtered') . ' before the rest',
                 'filtered before the rest', 'SSE: a filtered event reaches the client while the stream goes on');
        ok t_cmp(($buf =~ /id: w2\ndata: [^\n]*page-3/ && $buf !~ /secret/) ? 'second filtered' : $buf, 'second filtered',
                 'SSE: and the next one after it');
    }
    $r = post('/lists-utf16', $list, 'tools');
    ok t_cmp($r->code, 502, 'an SSE list answer in another charset than UTF-8: 502, not passed on');
    $r = post('/lists-gzip', $list, 'tools');
    ok t_cmp($r->code . ' ' . ($r->header('Content-Encoding') // 'plain') . ' ' . (rpc_of($r)->{error}{code} // ''),
             '502 plain -32603', 'a compressed list answer is never passed on unfiltered');
}

# --- MCPAuthDefault deny, and a location without rules ----------------------------------------
{
    ok t_cmp(rpc_outcome(post('/closed', tool('echo'), 'none')), 'backend', 'default deny: the allowed tool passes');
    ok t_cmp(rpc_outcome(post('/closed', tool('other'), 'admin')), '200 rpc -32602', 'default deny: any other tool is unknown');
    ok t_cmp(rpc_outcome(post('/closed', call_body('prompts/get', { name => 'p' }), 'admin')), '200 rpc -32602',
             'default deny: prompts too');
    my $status = eval { $J->decode(I3Test::http(GET => 'i12', '/mcp-auth-status')->decoded_content) } // {};
    my ($closed) = grep { $_->{location} eq '/closed' } @{ $status->{mcp_rules} // [] };
    ok t_cmp(join(' ', map { "$_->{rule}=$_->{refused}" } @{ $closed->{rules} // [] }),
             'MCPAuthToolRule echo allow=0 MCPAuthDefault deny=2', 'the status page counts MCPAuthDefault deny too');
    my $junk = '{"not json';
    ok t_cmp(rpc_outcome(post('/open', $junk, 'none')), '400 rpc -32700', 'no rules: the body is still read, and must be JSON');
    my $r = post('/unread', $junk, 'none');
    ok t_cmp(is_echo($r) ? echo_of($r)->{body} : rpc_outcome($r), $junk, 'MCPAuthReadRequests Off: not read, anything passes');
}
