# Issue 16: MCP's two eras (2025-x with sessions, 2026-07-28 stateless with
# mirrored headers) at the gateway, as clients notice them: request charsets
# and member names a server may read otherwise, requests read without rules
# (MCPAuthReadRequests), internal redirects into a location with rules,
# header/body agreement and each era's denials, subscriptions/listen, cache
# hints of filtered answers, and sessions bound to the user they were handed
# to (MCPAuthSessionBinding). Config: t/conf/issue16.conf.in.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test;
use Apache::TestUtil;
use IO::Socket::INET ();
use JSON::PP ();
use MIME::Base64 ();
use MCPTest;
use MintToken;
use I3Test;

my $J   = JSON::PP->new->utf8->canonical;
my $ISS = url('i16idp', '/realms/test');
my $V   = '2026-07-28';                          # the first modern version
my $META = 'io.modelcontextprotocol/protocolVersion';
my $RUN = sprintf('%d-%d', $$, time);             # session ids unique to this run

# tokens: what each caller is
my @subs = qw(alice bob root);
my %token;
@token{@subs} = mint_many(map {
    { key => 'rsa1', header => { alg => 'RS256', kid => 'rsa1' },
      payload => MintToken::claims(-iss => $ISS, -aud => 'urn:i16', sub => $_) }
} @subs);

# directories of the redirect cases (a <Directory> applies to what exists)
for my $d ('i16rw', 'i16di') {
    my $dir = fixtures_dir() . "/$d";
    mkdir $dir;
    chmod 0755, $dir;
    open my $fh, '>', "$dir/x" or die "$dir/x: $!";
    close $fh;
}

# --- messages ----------------------------------------------------------------------------
# msg(METHOD, PARAMS, ID, [CLAIM]): a JSON-RPC request, UTF-8; CLAIM is the
# protocol version in params._meta (a modern request's own claim)
sub msg {
    my ($method, $params, $id, $claim) = @_;
    my %p = %{ $params // {} };
    $p{_meta} = { $META => $claim } if defined $claim;
    return $J->encode({ jsonrpc => '2.0', id => $id // 1, method => $method, params => \%p });
}
sub tool   { msg('tools/call', { name => $_[0], arguments => {} }, $_[1], $_[2]) }
sub mtool  { tool($_[0], $_[1], $V) }
# the headers a 2026-07-28 client sends along: version, method, name
sub mhdr {
    my ($method, $name) = @_;
    return ('MCP-Protocol-Version' => $V, 'Mcp-Method' => $method, defined $name ? ('Mcp-Name' => $name) : ());
}
sub sentinel { '=?base64?' . MIME::Base64::encode_base64($_[0], '') . '?=' }

# post(PATH, BODY, [WHO], HEADER => VALUE ...); Content-Type application/json unless given
sub post {
    my ($path, $body, $as, @headers) = @_;
    my @h = ('Content-Type' => 'application/json', Accept => 'application/json, text/event-stream', @headers);
    my ($ctype, @rest);
    while (my ($k, $v) = splice @h, 0, 2) {
        if (lc $k eq 'content-type') { $ctype = $v } else { push @rest, $k => $v }
    }
    return I3Test::http(POST => 'i16', $path, body => $body, ctype => $ctype,
                        headers => [ ($as ? (Authorization => "Bearer $token{$as}") : ()), @rest ]);
}
# a refusal in full: STATUS, and the error's code and id (as JSON), for a single answer
sub refusal {
    my $r = shift;
    return 'backend' if is_echo($r);
    my $d = rpc_of($r);
    return $r->code . ' ' . (ref $d eq 'HASH' && ref $d->{error} eq 'HASH'
                             ? "rpc $d->{error}{code} id " . JSON::PP->new->allow_nonref->encode($d->{id})
                             : 'other: ' . substr($r->content, 0, 200));
}
# a denial's error as JSON (code, message, data), with its id
sub error_of {
    my $r = shift;
    return 'backend' if is_echo($r);
    my $d = rpc_of($r);
    return $r->code . ' ' . (ref $d eq 'HASH' ? $J->encode({ id => $d->{id}, error => $d->{error} }) : $r->content);
}
sub audit { my $e = echo_of(shift); $e ? $e->{headers}{'x-audit'} // '(none)' : 'not forwarded' }
# OUTCOME, and whether the backend was reached (hit log), for a request
sub judged {
    my $send = shift;
    my $hits = echo_hits();
    my $r = $send->();
    return (rpc_outcome($r), echo_hits() - $hits, $r);
}

plan tests => 163;

# --- 1. charsets and member names ---------------------------------------------------------
{
    # allowed charsets: read, judged (a denied tool is denied, not 415)
    for my $ct ('application/json; charset=utf-8', 'application/json;charset=UTF-8',
                'application/json; charset="utf-8"', 'Application/JSON; Charset=Utf-8') {
        ok t_cmp(rpc_outcome(post('/rules', tool('admin_delete'), 'alice', 'Content-Type' => $ct)), '200 rpc -32602',
                 "Content-Type: $ct: read and judged");
    }
    # the review's attack: UTF-7 spells admin_delete so that a UTF-8 reader sees another name
    my ($o, $hits) = judged(sub { post('/rules', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"+AGE-dmin_delete","arguments":{}}}',
                                       'alice', 'Content-Type' => 'application/json; charset=utf-7') });
    ok t_cmp("$o $hits", '415 rpc -32600 0', 'charset=utf-7 "+AGE-dmin_delete" under an admin_* deny: 415, not forwarded');
    ($o, $hits) = judged(sub { post('/closed', '{"jsonrpc":"2.0","id":1,"method":"tools/+AGM-all","params":{"name":"anything"}}',
                                    'alice', 'Content-Type' => 'application/json; charset=utf-7') });
    ok t_cmp("$o $hits", '415 rpc -32600 0', 'a UTF-7 method "tools/+AGM-all" under MCPAuthDefault deny: 415, not forwarded');
    ($o, $hits) = judged(sub { post('/rules', msg('tools/+AGw-ist', {}), 'alice', 'Content-Type' => 'application/json; charset=utf-7') });
    ok t_cmp("$o $hits", '415 rpc -32600 0', 'a UTF-7 tools/list: 415, not forwarded');
    my $d = rpc_of(post('/rules', tool('echo'), 'alice', 'Content-Type' => 'application/json; charset=utf-7'));
    ok t_cmp(ref $d eq 'HASH' ? $J->encode([ $d->{jsonrpc}, $d->{id} ]) : 'not JSON', '["2.0",null]',
             'the 415 body is a JSON-RPC error to no id');
    for my $ct ('application/json; charset=utf-16', 'application/json; charset=utf-16le',
                'application/json; charset=iso-8859-1', 'application/json; charset=us-ascii',
                'application/json; charset=utf-8; charset=utf-8', 'application/json; charset=utf-8; charset=utf-7',
                'application/json; charset', 'application/json; charset="utf-8', 'application/json; =utf-8') {
        ($o, $hits) = judged(sub { post('/rules', tool('echo'), 'alice', 'Content-Type' => $ct) });
        ok t_cmp("$o $hits", '415 rpc -32600 0', "Content-Type: $ct: 415, not forwarded");
    }
    # in a location without rules too: the body is read there as well
    ($o, $hits) = judged(sub { post('/norules', tool('echo'), 'alice', 'Content-Type' => 'application/json; charset=utf-7') });
    ok t_cmp("$o $hits", '415 rpc -32600 0', 'no rules: charset=utf-7 is 415 too');

    ($o, $hits) = judged(sub { post('/rules', "\xEF\xBB\xBF" . tool('echo'), 'alice') });
    ok t_cmp("$o $hits", '400 rpc -32700 0', 'a body with a UTF-8 BOM: 400, not forwarded');

    # names a Go server matches without case: a second reading of the message
    my @fold = (
        [ 'message-level "Method"', '{"jsonrpc":"2.0","id":1,"method":"tools/list","Method":"tools/call","params":{"name":"admin_delete"}}' ],
        [ '"Method" alone',          '{"jsonrpc":"2.0","id":1,"Method":"tools/call","params":{"name":"admin_delete"}}' ],
        [ '"ID" next to "id"',       '{"jsonrpc":"2.0","id":1,"ID":2,"method":"tools/call","params":{"name":"echo"}}' ],
        [ '"Params" alone',          '{"jsonrpc":"2.0","id":1,"method":"tools/call","Params":{"name":"admin_delete"}}' ],
        [ '"JSONRPC" next to "jsonrpc"', '{"jsonrpc":"2.0","JSONRPC":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}' ],
        [ '"Result" in an answer',   '{"jsonrpc":"2.0","id":1,"result":{},"Result":{"x":1}}' ],
        [ '"Error" in an answer',    '{"jsonrpc":"2.0","id":1,"result":{},"Error":{"code":1,"message":"x"}}' ],
        [ '"NAME" in params',        '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","NAME":"admin_delete"}}' ],
        [ '"URI" in params',         '{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///tmp/x","URI":"file:///etc/passwd"}}' ],
        [ '"Arguments" in params',   '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{},"Arguments":{"a":1}}}' ],
        [ '"_META" in params',       '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","_META":{}}}' ],
        [ '"param\\u017F" (long s, folds to s)', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"},"param\u017F":{"name":"admin_delete"}}' ],
        [ '"paramſ" in UTF-8',       qq({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"},"param\xC5\xBF":{"name":"admin_delete"}}) ],
    );
    for my $f (@fold) {
        ($o, $hits) = judged(sub { post('/rules', $f->[1], 'alice') });
        ok t_cmp("$o $hits", '400 rpc -32700 0', "a member name differing from the protocol's only in case, $f->[0]: 400");
    }
    ($o, $hits) = judged(sub { post('/norules', $fold[7][1], 'alice') });
    ok t_cmp("$o $hits", '400 rpc -32700 0', 'no rules: "NAME" next to "name" is 400 too');
    ($o, $hits) = judged(sub { post('/rules', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"Name":"a","name":"b","URI":"c","uri":"d"}}}', 'alice') });
    ok t_cmp("$o $hits", 'backend 1', 'such names inside arguments are the tool\'s business: forwarded');
}

# --- 2. reading without rules ---------------------------------------------------------------
{
    my ($o, $hits, $r) = judged(sub { post('/norules', tool('admin_x'), 'alice') });
    ok t_cmp($r->code =~ /^40[13]$/ && $hits == 0 ? 'refused' : "$o $hits", 'refused',
             'no rules, Require expr on MCP_TOOL: admin_x by alice is refused (401/403), not forwarded');
    ($o, $hits, $r) = judged(sub { post('/norules', tool('echo', 3), 'alice') });
    ok t_cmp("$o $hits", 'backend 1', 'echo by alice: forwarded');
    ok t_cmp(audit($r), qr/^tools\/call\|echo\|/, 'MCP_METHOD and MCP_TOOL set without rules');
    ok t_cmp(echo_of($r) ? echo_of($r)->{body} : '', tool('echo', 3), 'the body reaches the backend byte for byte');
    ($o, $hits) = judged(sub { post('/norules', tool('admin_x'), 'root') });
    ok t_cmp("$o $hits", 'backend 1', 'root may call admin_x');
    ($o, $hits, $r) = judged(sub { post('/norules', '[' . tool('echo', 1) . ',' . tool('admin_x', 2) . ']', 'alice') });
    ok t_cmp($r->code =~ /^40[13]$/ && $hits == 0 ? 'refused' : "$o $hits", 'refused',
             'a batch echo,admin_x by alice: refused (MCP_TOOL joined with ",")');
    ($o, $hits) = judged(sub { post('/norules', tool('echo'), 'alice', 'Content-Type' => 'text/plain') });
    ok t_cmp("$o $hits", '415 rpc -32600 0', 'no rules: JSON sent as text/plain is 415, never forwarded');
    ok t_cmp(post('/norules', tool('echo'), undef)->code, 401, 'no rules, no token: 401 as ever');

    # MCP_PROTOCOL_VERSION: the claim, else the header, else initialize's
    $r = post('/norules', msg('initialize', { protocolVersion => '2025-11-25', capabilities => {},
                                              clientInfo => { name => 't', version => '1' } }), 'alice');
    ok t_cmp((split /\|/, audit($r), -1)[3] // audit($r), '2025-11-25', 'MCP_PROTOCOL_VERSION from initialize\'s params.protocolVersion');
    $r = post('/norules', tool('echo'), 'alice', 'MCP-Protocol-Version' => '2025-06-18');
    ok t_cmp((split /\|/, audit($r), -1)[3] // audit($r), '2025-06-18', 'MCP_PROTOCOL_VERSION from the MCP-Protocol-Version header');
    $r = post('/norules', mtool('echo'), 'alice', mhdr('tools/call', 'echo'));
    ok t_cmp((split /\|/, audit($r), -1)[3] // audit($r), $V, 'MCP_PROTOCOL_VERSION of a modern request: its claim');

    # MCPAuthReadRequests Off: nothing read, nothing set, anything passes
    my $junk = '{"not json';
    $r = post('/noread', $junk, 'alice', 'Content-Type' => 'text/plain');
    ok t_cmp(is_echo($r) ? echo_of($r)->{body} . ' ' . audit($r) : rpc_outcome($r), "$junk (null)|(null)|(null)|(null)",
             'MCPAuthReadRequests Off: the body is not read, no variables are set');
    # a rule with MCPAuthReadRequests Off is a startup error: t/07-configtest.t
}

# --- 3. internal redirects into a location with rules ---------------------------------------
{
    my $names = sub {
        my $r = shift;
        my $d = rpc_of($r);
        return ref $d eq 'HASH' && ref $d->{result} eq 'HASH'
            ? join(',', map { $_->{name} } @{ $d->{result}{tools} // [] }) : rpc_outcome($r);
    };
    # a per-directory RewriteRule [PT] maps the POST into /rules
    my ($o, $hits, $r) = judged(sub { post('/rw/x', tool('admin_delete', 'rw-1'), 'alice') });
    ok t_cmp(error_of($r), '200 {"error":{"code":-32602,"message":"Unknown tool: admin_delete"},"id":"rw-1"}',
             'a per-directory RewriteRule into /rules: admin_* denied there');
    ok t_cmp($hits, 0, 'and not forwarded');
    ($o, $hits, $r) = judged(sub { post('/rw/x', tool('echo', 'rw-2'), 'alice') });
    ok t_cmp("$o $hits", 'backend 1', 'an allowed tool through the rewrite: forwarded');
    ok t_cmp(echo_of($r) ? echo_of($r)->{body} : '', tool('echo', 'rw-2'), 'with its body byte for byte');
    ($o, $hits, $r) = judged(sub { post('/rw/x', tool('echo'), undef) });
    ok t_cmp($r->code . " $hits", '401 0', 'the rewrite without a token: 401');
    ok t_cmp($names->(post('/rw/l', msg('tools/list', {}, 'rw-l'), 'alice')), 'echo',
             'a tools/list rewritten into a location with tool rules: filtered');

    # ErrorDocument: the GET it makes into a list location is filtered
    $r = post('/e404/nothing-here', msg('tools/list', {}), 'alice');
    ok t_cmp($names->($r), 'echo', 'a POST whose ErrorDocument is a location with rules: the list answering its GET is filtered');
    $r = I3Test::http(GET => 'i16', '/e404/nothing-here', headers => [ Authorization => "Bearer $token{alice}" ]);
    ok t_cmp($names->($r), 'echo', 'the same for a GET');
    $r = I3Test::http(GET => 'i16', '/e404/nothing-here');
    ok t_cmp($r->content =~ /admin_delete|"tools"/ ? $r->code . ' ' . $r->content : 'no list',
             'no list', 'an ErrorDocument into it without a token: not answered with the list');

    # DirectoryIndex /rules: mod_dir's fast redirect of a POST to the directory
    ($o, $hits, $r) = judged(sub { post('/di/', tool('admin_delete', 'di-1'), 'alice') });
    ok t_cmp(error_of($r), '200 {"error":{"code":-32602,"message":"Unknown tool: admin_delete"},"id":"di-1"}',
             'DirectoryIndex /rules: admin_* denied there');
    ok t_cmp($hits, 0, 'and not forwarded');
    ($o, $hits, $r) = judged(sub { post('/di/', tool('echo', 'di-2'), 'alice') });
    ok t_cmp($o . ' ' . (echo_of($r) ? echo_of($r)->{body} eq tool('echo', 'di-2') ? 'same body' : 'other body' : ''),
             'backend same body', 'an allowed tool through DirectoryIndex: forwarded with its body');
    ($o, $hits, $r) = judged(sub { post('/di/', tool('echo'), undef) });
    ok t_cmp($r->code . " $hits", '401 0', 'DirectoryIndex without a token: 401');
}

# --- 4. two eras: headers and bodies agree -------------------------------------------------
{
    my ($o, $hits, $r) = judged(sub { post('/rules', mtool('echo', 'm-1'), 'alice', mhdr('tools/call', 'echo')) });
    ok t_cmp("$o $hits", 'backend 1', 'a modern request with every header: forwarded');
    ok t_cmp(echo_of($r) ? echo_of($r)->{body} : '', mtool('echo', 'm-1'), 'byte for byte');

    my @bad = (
        [ 'no MCP-Protocol-Version header', mtool('echo', 'b-1'), [ 'Mcp-Method' => 'tools/call', 'Mcp-Name' => 'echo' ], '"b-1"' ],
        [ 'no Mcp-Method', mtool('echo', 'b-2'), [ 'MCP-Protocol-Version' => $V, 'Mcp-Name' => 'echo' ], '"b-2"' ],
        [ 'a header version other than the claim', mtool('echo', 'b-3'),
          [ 'MCP-Protocol-Version' => '2025-11-25', 'Mcp-Method' => 'tools/call', 'Mcp-Name' => 'echo' ], '"b-3"' ],
        [ 'a later header version than the claim', mtool('echo', 7),
          [ 'MCP-Protocol-Version' => '2026-12-01', 'Mcp-Method' => 'tools/call', 'Mcp-Name' => 'echo' ], '7' ],
        [ 'an Mcp-Method other than the method', mtool('echo', 'b-4'), [ mhdr('tools/list') ], '"b-4"' ],
        [ 'no Mcp-Name on tools/call', mtool('echo', 'b-5'), [ mhdr('tools/call') ], '"b-5"' ],
        [ 'no Mcp-Name on prompts/get', msg('prompts/get', { name => 'greet' }, 'b-6', $V), [ mhdr('prompts/get') ], '"b-6"' ],
        [ 'no Mcp-Name on resources/read', msg('resources/read', { uri => 'file:///tmp/x' }, 'b-7', $V), [ mhdr('resources/read') ], '"b-7"' ],
        [ 'an Mcp-Name other than params.name', mtool('admin_delete', 'b-8'), [ mhdr('tools/call', 'echo') ], '"b-8"' ],
        [ 'an Mcp-Name other than params.uri', msg('resources/read', { uri => 'file:///etc/passwd' }, 'b-9', $V),
          [ mhdr('resources/read', 'file:///tmp/x') ], '"b-9"' ],
        [ 'an invalid =?base64?...?= sentinel', mtool('echo', 'b-10'), [ mhdr('tools/call', '=?base64?ZWNo*b?=') ], '"b-10"' ],
        [ 'modern by the header alone (no claim), no Mcp-Method', tool('echo', 'b-11'),
          [ 'MCP-Protocol-Version' => $V, 'Mcp-Name' => 'echo' ], '"b-11"' ],
        [ 'modern by the header alone, no Mcp-Name', tool('echo', 'b-12'), [ mhdr('tools/call') ], '"b-12"' ],
        [ 'a later claimed version, its header missing', tool('echo', 'b-13', '2027-01-01'),
          [ 'Mcp-Method' => 'tools/call', 'Mcp-Name' => 'echo' ], '"b-13"' ],
    );
    for my $b (@bad) {
        ($o, $hits, $r) = judged(sub { post('/rules', $b->[1], 'alice', @{ $b->[2] }) });
        ok t_cmp(refusal($r) . " hits $hits", "400 rpc -32020 id $b->[3] hits 0", "modern, $b->[0]: 400 -32020 to its id, not forwarded");
    }
    ($o, $hits, $r) = judged(sub { post('/norules', mtool('echo', 'b-14'), 'alice', 'MCP-Protocol-Version' => $V, 'Mcp-Name' => 'echo') });
    ok t_cmp(refusal($r) . " hits $hits", '400 rpc -32020 id "b-14" hits 0', 'no rules: a modern request without Mcp-Method is 400 too');
    ($o, $hits) = judged(sub { post('/rules', tool('echo', 'l-1', '2025-11-25'), 'alice') });
    ok t_cmp("$o $hits", 'backend 1', 'a claim of 2025-11-25 is legacy: no headers needed');
    ($o, $hits) = judged(sub { post('/rules', tool('echo', 'l-2'), 'alice', 'MCP-Protocol-Version' => '2025-11-25') });
    ok t_cmp("$o $hits", 'backend 1', 'the header 2025-11-25 is legacy: no Mcp-Method needed');

    # Mcp-Name sentinels: decoded, then judged like any name
    my $cafe = "caf\xC3\xA9_lookup";      # UTF-8 bytes
    my $body = qq({"jsonrpc":"2.0","id":"c-1","method":"tools/call","params":{"name":"$cafe","arguments":{},"_meta":{"$META":"$V"}}});
    ($o, $hits, $r) = judged(sub { post('/rules', $body, 'alice', mhdr('tools/call', '=?base64?Y2Fmw6lfbG9va3Vw?=')) });
    ok t_cmp("$o $hits", 'backend 1', 'Mcp-Name =?base64?Y2Fmw6lfbG9va3Vw?= with the body name café_lookup: forwarded');
    ok t_cmp(echo_of($r) ? echo_of($r)->{body} : '', $body, 'byte for byte');
    my $cafe_secret = "caf\xC3\xA9_secret";
    ($o, $hits, $r) = judged(sub { post('/rules', qq({"jsonrpc":"2.0","id":"c-2","method":"tools/call","params":{"name":"$cafe_secret","_meta":{"$META":"$V"}}}),
                                        'alice', mhdr('tools/call', sentinel($cafe_secret))) });
    ok t_cmp(error_of($r) . " hits $hits", qq(200 {"error":{"code":-32602,"message":"Tool $cafe_secret not found"},"id":"c-2"} hits 0),
             'a sentinel name a rule denies ("*_secret"): denied like any name');
    my $uri_ok = "file:///tmp/caf\xC3\xA9.txt";
    ($o, $hits) = judged(sub { post('/rules', qq({"jsonrpc":"2.0","id":"c-3","method":"resources/read","params":{"uri":"$uri_ok","_meta":{"$META":"$V"}}}),
                                    'alice', mhdr('resources/read', sentinel($uri_ok))) });
    ok t_cmp("$o $hits", 'backend 1', 'a non-ASCII resource URI as a sentinel, allowed: forwarded');
    my $uri_no = "file:///etc/caf\xC3\xA9.txt";
    ($o, $hits, $r) = judged(sub { post('/rules', qq({"jsonrpc":"2.0","id":"c-4","method":"resources/read","params":{"uri":"$uri_no","_meta":{"$META":"$V"}}}),
                                        'alice', mhdr('resources/read', sentinel($uri_no))) });
    ok t_cmp(error_of($r) . " hits $hits",
             qq(200 {"error":{"code":-32602,"data":{"uri":"$uri_no"},"message":"Resource not found: $uri_no"},"id":"c-4"} hits 0),
             'a non-ASCII resource URI as a sentinel, denied (file:///etc/*): denied like any URI');
    # legacy requests carrying the headers: the same agreement, the sentinel decoded
    ($o, $hits) = judged(sub { post('/rules', qq({"jsonrpc":"2.0","id":"c-5","method":"tools/call","params":{"name":"$cafe"}}),
                                    'alice', 'Mcp-Method' => 'tools/call', 'Mcp-Name' => '=?base64?Y2Fmw6lfbG9va3Vw?=') });
    ok t_cmp("$o $hits", 'backend 1', 'legacy: a sentinel Mcp-Name that decodes to the body\'s name: forwarded');
    ($o, $hits, $r) = judged(sub { post('/rules', tool('admin_delete', 'c-6'), 'alice', 'Mcp-Name' => '=?base64?Y2Fmw6lfbG9va3Vw?=') });
    ok t_cmp(refusal($r) . " hits $hits", '400 rpc -32020 id "c-6" hits 0', 'legacy: a sentinel Mcp-Name that decodes to another name: 400 -32020 to its id');
    ($o, $hits, $r) = judged(sub { post('/rules', tool('echo', 'c-7'), 'alice', 'Mcp-Method' => 'tools/list') });
    ok t_cmp(refusal($r) . " hits $hits", '400 rpc -32020 id "c-7" hits 0', 'legacy: an Mcp-Method other than the body\'s: 400 -32020 to its id');
    ($o, $hits, $r) = judged(sub { post('/rules', tool('echo', 'c-8'), 'alice', 'Mcp-Name' => 'admin_delete') });
    ok t_cmp(refusal($r) . " hits $hits", '400 rpc -32020 id "c-8" hits 0', 'legacy: an Mcp-Name other than the body\'s: 400 -32020 to its id');

    # batches are of the 2025-03-26 era only
    ($o, $hits) = judged(sub { post('/rules', '[' . tool('echo', 1) . ',' . mtool('echo', 2) . ']', 'alice') });
    ok t_cmp("$o $hits", '400 rpc -32600 0', 'a batch with an element claiming 2026-07-28: 400 -32600');
    ($o, $hits) = judged(sub { post('/rules', '[' . tool('echo', 1) . ',' . tool('echo', 2) . ']', 'alice', 'MCP-Protocol-Version' => $V) });
    ok t_cmp("$o $hits", '400 rpc -32600 0', 'a batch under MCP-Protocol-Version 2026-07-28: 400 -32600');
    ($o, $hits) = judged(sub { post('/rules', '[' . tool('echo', 1) . ',' . tool('echo', 2) . ']', 'alice') });
    ok t_cmp("$o $hits", 'backend 1', 'a legacy batch: forwarded');
}

# --- 4. each era's denials -------------------------------------------------------------------
{
    my @cases = (
        [ 'legacy tool', tool('admin_delete', 'd-1'), [], '{"error":{"code":-32602,"message":"Unknown tool: admin_delete"},"id":"d-1"}' ],
        [ 'legacy prompt', msg('prompts/get', { name => 'secret_plan' }, 'd-2'), [],
          '{"error":{"code":-32602,"message":"Unknown prompt: secret_plan"},"id":"d-2"}' ],
        [ 'legacy resource', msg('resources/read', { uri => 'file:///etc/passwd' }, 'd-3'), [],
          '{"error":{"code":-32002,"message":"Resource not found"},"id":"d-3"}' ],
        [ 'modern tool', mtool('admin_delete', 'd-4'), [ mhdr('tools/call', 'admin_delete') ],
          '{"error":{"code":-32602,"message":"Tool admin_delete not found"},"id":"d-4"}' ],
        [ 'modern prompt', msg('prompts/get', { name => 'secret_plan' }, 'd-5', $V), [ mhdr('prompts/get', 'secret_plan') ],
          '{"error":{"code":-32602,"message":"Prompt secret_plan not found"},"id":"d-5"}' ],
        [ 'modern resource', msg('resources/read', { uri => 'file:///etc/passwd' }, 'd-6', $V), [ mhdr('resources/read', 'file:///etc/passwd') ],
          '{"error":{"code":-32602,"data":{"uri":"file:///etc/passwd"},"message":"Resource not found: file:///etc/passwd"},"id":"d-6"}' ],
        [ 'modern by the header alone (tool)', tool('admin_delete', 'd-7'), [ mhdr('tools/call', 'admin_delete') ],
          '{"error":{"code":-32602,"message":"Tool admin_delete not found"},"id":"d-7"}' ],
        [ 'modern, a later version (tool)', tool('admin_delete', 'd-8', '2027-01-01'),
          [ 'MCP-Protocol-Version' => '2027-01-01', 'Mcp-Method' => 'tools/call', 'Mcp-Name' => 'admin_delete' ],
          '{"error":{"code":-32602,"message":"Tool admin_delete not found"},"id":"d-8"}' ],
        [ 'modern, a numeric id', mtool('admin_delete', 42), [ mhdr('tools/call', 'admin_delete') ],
          '{"error":{"code":-32602,"message":"Tool admin_delete not found"},"id":42}' ],
    );
    for my $c (@cases) {
        my ($o, $hits, $r) = judged(sub { post('/rules', $c->[1], 'alice', @{ $c->[2] }) });
        ok t_cmp(error_of($r) . " hits $hits", "200 $c->[3] hits 0", "denied, $c->[0]: the era's answer, HTTP 200, not forwarded");
    }

    # subscriptions/listen: every URI judged by the resource rules
    my $listen = sub {
        my ($id, $claim, @uris) = @_;
        return msg('subscriptions/listen', { notifications => { resourceSubscriptions => \@uris, toolsListChanged => JSON::PP::true,
                                                                promptsListChanged => JSON::PP::true } }, $id, $claim);
    };
    my @lh = ('MCP-Protocol-Version' => $V, 'Mcp-Method' => 'subscriptions/listen');
    my ($o, $hits, $r) = judged(sub { post('/rules', $listen->('s-1', $V, 'file:///tmp/a', 'file:///etc/passwd'), 'alice', @lh) });
    ok t_cmp(error_of($r) . " hits $hits",
             '200 {"error":{"code":-32602,"data":{"uri":"file:///etc/passwd"},"message":"Resource not found: file:///etc/passwd"},"id":"s-1"} hits 0',
             'subscriptions/listen with one denied URI: the modern resource denial, naming it, not forwarded');
    ($o, $hits, $r) = judged(sub { post('/rules', $listen->('s-2', $V, 'file:///tmp/a', 'file:///tmp/b'), 'alice', @lh) });
    ok t_cmp("$o $hits", 'backend 1', 'subscriptions/listen with allowed URIs: forwarded');
    ok t_cmp(echo_of($r) ? echo_of($r)->{body} : '', $listen->('s-2', $V, 'file:///tmp/a', 'file:///tmp/b'),
             'unchanged (list-changed flags untouched)');
    ok t_cmp(audit($r), qr/^subscriptions\/listen\|file:\/\/\/tmp\/a,file:\/\/\/tmp\/b\|/, 'MCP_TOOL lists the URIs');
    ($o, $hits, $r) = judged(sub { post('/rules', $listen->('s-3', $V, 'FILE:///etc/shadow'), 'alice', @lh) });
    ok t_cmp(rpc_outcome($r) . " hits $hits", '200 rpc -32602 hits 0', 'subscriptions/listen: another spelling of a denied URI, denied');
    ($o, $hits, $r) = judged(sub { post('/rules', $listen->('s-4', undef, 'file:///etc/passwd'), 'alice') });
    ok t_cmp(error_of($r) . " hits $hits", '200 {"error":{"code":-32002,"message":"Resource not found"},"id":"s-4"} hits 0',
             'subscriptions/listen of the legacy era: the legacy resource denial');
}

# --- 4. cache hints of answers the rules filter ------------------------------------------------
{
    my $raw = sub {    # the backend's own answer, straight from it
        my ($mode, $body) = @_;
        return I3Test::http(POST => 'i16idp', "/cgi/mcp-eras/$mode", body => $body, ctype => 'application/json')->content;
    };
    my $result = sub { my $d = rpc_of(shift); ref $d eq 'HASH' && ref $d->{result} eq 'HASH' ? $d->{result} : {} };
    my $hints = sub {
        my $res = shift;
        return join ' ', map { exists $res->{$_} ? "$_=$res->{$_}" : "no $_" } qw(cacheScope ttlMs);
    };
    my $entries = sub { my ($res, $m, $k) = @_; join ',', map { $_->{$k} } @{ $res->{$m} // [] } };

    my $res = $result->(post('/cache-json', msg('tools/list', {}, 't-1'), 'alice'));
    ok t_cmp($entries->($res, 'tools', 'name') . ' ' . $hints->($res), 'echo cacheScope=private ttlMs=60000',
             'a filtered tools list with cacheScope "public": passed on "private", ttlMs unchanged');
    $res = $result->(post('/cache-json', msg('tools/list', { cursor => 'both+clean' }, 't-2'), 'alice'));
    ok t_cmp($entries->($res, 'tools', 'name') . ' ' . $hints->($res), 'echo cacheScope=private ttlMs=60000',
             'a tools list nothing was taken from: "private" all the same');
    $res = $result->(post('/cache-json', msg('tools/list', { cursor => 'ttl' }, 't-3'), 'alice'));
    ok t_cmp($hints->($res), 'cacheScope=private ttlMs=60000', 'a list with ttlMs only: cacheScope "private" added');
    $res = $result->(post('/cache-json', msg('tools/list', { cursor => 'scope' }, 't-4'), 'alice'));
    ok t_cmp($hints->($res), 'cacheScope=private no ttlMs', 'a list with cacheScope only: "private", no ttlMs made up');
    $res = $result->(post('/cache-json', msg('tools/list', { cursor => 'none' }, 't-5'), 'alice'));
    ok t_cmp($entries->($res, 'tools', 'name') . ' ' . $hints->($res), 'echo no cacheScope no ttlMs', 'a list without hints: none added');
    $res = $result->(post('/cache-json', msg('resources/list', {}, 't-6'), 'alice'));
    ok t_cmp($entries->($res, 'resources', 'uri') . ' ' . $hints->($res), 'file:///tmp/notes cacheScope=private ttlMs=60000',
             'resources/list with resource rules: "private"');
    $res = $result->(post('/cache-json', msg('resources/templates/list', { cursor => 'ttl+clean' }, 't-7'), 'alice'));
    ok t_cmp($entries->($res, 'resourceTemplates', 'uriTemplate') . ' ' . $hints->($res), 'file:///tmp/{n} cacheScope=private ttlMs=60000',
             'resources/templates/list (ttlMs only, nothing taken): "private" added');
    $res = $result->(post('/cache-json', msg('resources/read', { uri => 'file:///tmp/notes' }, 't-8'), 'alice'));
    ok t_cmp($entries->($res, 'contents', 'uri') . ' ' . $hints->($res), 'file:///tmp/notes cacheScope=private ttlMs=60000',
             'a resources/read result where resource rules exist: "private"');
    $res = $result->(post('/cache-json', msg('resources/read', { uri => 'file:///tmp/notes' }, 't-9', $V), 'alice',
                          mhdr('resources/read', 'file:///tmp/notes')));
    ok t_cmp($hints->($res), 'cacheScope=private ttlMs=60000', 'the same for a modern resources/read');
    my $pl = msg('prompts/list', {}, 't-10');
    my $r = post('/cache-json', $pl, 'alice');
    ok t_cmp($r->content, $raw->('json', $pl), 'prompts/list where no prompt rule exists: byte for byte (cacheScope "public" kept)');

    # only tool rules: reads and other lists are not the rules' business
    my $rd = msg('resources/read', { uri => 'file:///tmp/notes' }, 't-11');
    ok t_cmp(post('/cache-tools', $rd, 'alice')->content, $raw->('json', $rd),
             'resources/read where no resource rule exists: byte for byte');
    my $rl = msg('resources/list', {}, 't-12');
    ok t_cmp(post('/cache-tools', $rl, 'alice')->content, $raw->('json', $rl),
             'resources/list where no resource rule exists: byte for byte');
    $res = $result->(post('/cache-tools', msg('tools/list', { cursor => 'both+clean' }, 't-13'), 'alice'));
    ok t_cmp($hints->($res), 'cacheScope=private ttlMs=60000', 'tools/list there: "private"');

    # MCPAuthDefault deny: every kind
    $res = $result->(post('/cache-deny', msg('prompts/list', {}, 't-14'), 'alice'));
    ok t_cmp($entries->($res, 'prompts', 'name') . ' ' . $hints->($res), 'greet cacheScope=private ttlMs=60000',
             'MCPAuthDefault deny: a prompts list is "private"');
    $res = $result->(post('/cache-deny', msg('resources/templates/list', { cursor => 'both' }, 't-15'), 'alice'));
    ok t_cmp($entries->($res, 'resourceTemplates', 'uriTemplate') . ' ' . $hints->($res), ' cacheScope=private ttlMs=60000',
             'MCPAuthDefault deny: resource templates too (all taken)');

    # a batch of lists
    my $d = rpc_of(post('/cache-json', '[' . msg('tools/list', {}, 1) . ',' . msg('prompts/list', {}, 2) . ']', 'alice'));
    ok t_cmp(ref $d eq 'ARRAY' ? join(' / ', map { $hints->($_->{result} // {}) } @$d) : 'not a batch',
             'cacheScope=private ttlMs=60000 / cacheScope=public ttlMs=60000',
             'a batch: the tools list "private", the prompts list (no prompt rules) "public"');

    # SSE
    my $events = sub {
        my $r = shift;
        my %by;
        for my $ev (split /\r?\n\r?\n/, $r->content) {
            my $data = join "\n", map { /^data: ?(.*)$/ ? $1 : () } split /\r?\n/, $ev;
            my $m = eval { $J->decode($data) } or next;
            $by{ $m->{id} } = $m->{result} if ref $m eq 'HASH' && defined $m->{id};
        }
        return \%by;
    };
    $r = post('/cache-sse', msg('tools/list', {}, 'e-1'), 'alice');
    $res = $events->($r)->{'e-1'} // {};
    ok t_cmp(($r->header('Content-Type') // '') . ' ' . $entries->($res, 'tools', 'name') . ' ' . $hints->($res),
             qr{^text/event-stream.* echo cacheScope=private ttlMs=60000$}, 'SSE: a filtered tools list is "private"');
    $res = $events->(post('/cache-sse', msg('tools/list', { cursor => 'ttl+clean' }, 'e-2'), 'alice'))->{'e-2'} // {};
    ok t_cmp($hints->($res), 'cacheScope=private ttlMs=60000', 'SSE: ttlMs only, nothing taken: "private" added');
    $res = $events->(post('/cache-sse', msg('tools/list', { cursor => 'none' }, 'e-3'), 'alice'))->{'e-3'} // {};
    ok t_cmp($entries->($res, 'tools', 'name') . ' ' . $hints->($res), 'echo no cacheScope no ttlMs', 'SSE: no hints, none added');
    $res = $events->(post('/cache-sse', msg('resources/read', { uri => 'file:///tmp/notes' }, 'e-4'), 'alice'))->{'e-4'} // {};
    ok t_cmp($hints->($res), 'cacheScope=private ttlMs=60000', 'SSE: a resources/read result is "private"');
    $pl = msg('prompts/list', {}, 'e-5');
    ok t_cmp(post('/cache-sse', $pl, 'alice')->content, $raw->('sse', $pl), 'SSE: a prompts list (no prompt rules): byte for byte');
}

# --- 5. sessions bound to users; MCP_SESSION for legacy requests only ---------------------
{
    my $init = msg('initialize', { protocolVersion => '2025-11-25', capabilities => {},
                                   clientInfo => { name => 't17', version => '1' } }, 0);
    my $r = post('/sess', $init, 'alice');
    my $sid = $r->header('Mcp-Session-Id');
    ok t_cmp(defined $sid ? 'a session' : $r->code . ' ' . $r->content, 'a session', 'initialize: the server hands out an Mcp-Session-Id');
    $sid //= 'none';
    my $use = sub {
        my ($method, $as, $id, $path) = @_;
        my $hits = echo_hits();
        my $res = $method eq 'POST'
            ? post($path // '/sess', tool('echo', 'u-1'), $as, 'Mcp-Session-Id' => $id)
            : I3Test::http($method => 'i16', $path // '/sess',
                           headers => [ ($as ? (Authorization => "Bearer $token{$as}") : ()), 'Mcp-Session-Id' => $id,
                                        Accept => 'text/event-stream' ]);
        my $d = rpc_of($res);
        my $what = is_echo($res) ? 'backend'
                 : $res->code . ' ' . (ref $d eq 'HASH' && ref $d->{error} eq 'HASH' ? "rpc $d->{error}{code} $d->{error}{message}" : 'other');
        return "$what hits " . (echo_hits() - $hits);
    };
    ok t_cmp($use->('POST', 'alice', $sid), 'backend hits 1', 'the same subject, POST: forwarded');
    ok t_cmp($use->('GET', 'alice', $sid), 'backend hits 1', 'the same subject, GET: forwarded');

    # the client holds the server's id sealed to it; the server gets its own id back
    $r = post('/sess', tool('echo', 'u-2'), 'alice', 'Mcp-Session-Id' => $sid);
    my $server_id = is_echo($r) ? echo_of($r)->{headers}{'mcp-session-id'} // '(none)' : rpc_outcome($r);
    ok t_cmp($server_id =~ /^s-\d/ && $server_id ne $sid ? 'the server\'s own id' : "$server_id (client holds $sid)",
             'the server\'s own id', 'the backend gets its own session id, not the one the client holds');
    ok t_cmp((split /\|/, audit($r), -1)[2] // audit($r), $server_id, 'MCP_SESSION: the server\'s id, for a legacy request');
    $r = post('/sess', mtool('echo'), 'alice', mhdr('tools/call', 'echo'), 'Mcp-Session-Id' => $sid);
    ok t_cmp(is_echo($r) ? (split /\|/, audit($r), -1)[2] : rpc_outcome($r), '(null)', 'none for a modern request, whatever it carries');

    ok t_cmp($use->('POST', 'bob', $sid), '404 rpc -32001 Session not found hits 0', 'another subject, POST: 404 Session not found, not forwarded');
    ok t_cmp($use->('GET', 'bob', $sid), '404 rpc -32001 Session not found hits 0', 'another subject, GET: 404');
    ok t_cmp($use->('DELETE', 'bob', $sid), '404 rpc -32001 Session not found hits 0', 'another subject, DELETE: 404');
    ok t_cmp($use->('POST', undef, $sid), '404 rpc -32001 Session not found hits 0', 'anonymous: 404');
    ok t_cmp($use->('POST', 'bob', $server_id), '404 rpc -32001 Session not found hits 0',
             'the server\'s own id, leaked from its logs: 404 for anyone');
    my $r404 = post('/sess', tool('echo'), 'bob', 'Mcp-Session-Id' => $sid);
    my $d404 = rpc_of($r404);
    ok t_cmp(($r404->header('Content-Type') // '') =~ m{^application/json} && ref $d404 eq 'HASH'
             ? JSON::PP->new->canonical->allow_nonref->encode([ $d404->{jsonrpc}, $d404->{id} ]) : $r404->code . ' ' . $r404->content,
             '["2.0",null]', 'the 404 is a JSON-RPC error (application/json, no id)');
    ok t_cmp($use->('DELETE', 'alice', $sid), 'backend hits 1', 'the same subject, DELETE: forwarded');

    # an id the gateway never handed out opens for no one (no first-come binding to win)
    my $unseen = "unseen-$RUN";
    ok t_cmp($use->('POST', 'bob', $unseen), '404 rpc -32001 Session not found hits 0', 'an id never handed out: 404');
    ok t_cmp($use->('POST', 'alice', $unseen), '404 rpc -32001 Session not found hits 0', 'for anyone');
    # an anonymous session is the anonymous caller's
    $r = post('/sess', $init, undef);
    my $anon = $r->header('Mcp-Session-Id') // 'none';
    ok t_cmp($use->('POST', undef, $anon), 'backend hits 1', 'a session handed out anonymously: anonymous may use it');
    ok t_cmp($use->('POST', 'alice', $anon), '404 rpc -32001 Session not found hits 0', 'a signed-in caller may not');

    # MCPAuthSessionBinding Off: any user may use any session
    $r = post('/sess-off', $init, 'alice');
    my $off = $r->header('Mcp-Session-Id') // 'none';
    ok t_cmp($use->('POST', 'bob', $off, '/sess-off'), 'backend hits 1', 'MCPAuthSessionBinding Off: another subject is forwarded');
}

# --- 6. what the outside review tried ---------------------------------------------------------
{
    my $read = sub { msg('resources/read', { uri => $_[0] }, $_[1]) };
    # hosts a WHATWG parser maps by UTS #46 (to localhost, then nothing) are not judged by spelling
    for my $uri ("file://\x{ff4c}\x{ff4f}\x{ff43}\x{ff41}\x{ff4c}\x{ff48}\x{ff4f}\x{ff53}\x{ff54}/etc/shadow",
                 "file://local\x{ad}host/etc/shadow", "file://local\x{200b}host/etc/shadow",
                 'file://%EF%BD%8Cocalhost/etc/shadow', 'file://local%C2%ADhost/etc/shadow') {
        my ($o, $hits) = judged(sub { post('/rules', $read->($uri, 'h-1'), 'alice') });
        (my $shown = $uri) =~ s/([^\x20-\x7e])/sprintf('\\x{%x}', ord $1)/ge;
        ok t_cmp("$o $hits", '200 rpc -32002 0', "a host mapped by UTS #46 ($shown): denied, not forwarded");
    }
    my ($o, $hits) = judged(sub { post('/rules', $read->('docs://caf%C3%A9/menu', 'h-2'), 'alice') });
    ok t_cmp("$o $hits", '200 rpc -32002 0', 'a rule naming café holds against caf%C3%A9');
    ($o, $hits) = judged(sub { post('/rules', $read->('file:///tmp/caf%C3%A9', 'h-3'), 'alice') });
    ok t_cmp("$o $hits", 'backend 1', 'an escaped name no rule denies: forwarded');

    # an IPv6 host has one spelling to a server's URL parser
    for my $uri ('http://[0::1]/admin', 'HTTP://[0:0:0:0:0:0:0:1]:80/admin', 'http://[::0:1]/admin') {
        ($o, $hits) = judged(sub { post('/rules', $read->($uri, 'v6'), 'alice') });
        ok t_cmp("$o $hits", '200 rpc -32002 0', "a rule on http://[::1]/* holds against $uri");
    }
    # completion/complete names the prompt or resource template it completes
    ($o, $hits) = judged(sub { post('/rules', msg('completion/complete', { ref => { type => 'ref/prompt', name => 'secret_plan' },
                                                                           argument => { name => 'a', value => '' } }, 'c-1'), 'alice') });
    ok t_cmp("$o $hits", '200 rpc -32602 0', 'completion/complete of a denied prompt: refused as an unknown prompt');
    ($o, $hits) = judged(sub { post('/rules', msg('completion/complete', { ref => { type => 'ref/resource', uri => 'file:///etc/{f}' },
                                                                           argument => { name => 'f', value => '' } }, 'c-2'), 'alice') });
    ok t_cmp("$o $hits", '200 rpc -32602 0', 'completion/complete of a denied resource template: refused');
    ($o, $hits) = judged(sub { post('/rules', msg('completion/complete', { ref => { type => 'ref/prompt', name => 'greet' },
                                                                           argument => { name => 'a', value => '' } }, 'c-3'), 'alice') });
    ok t_cmp("$o $hits", 'backend 1', 'completion/complete of an allowed prompt: forwarded');

    # only a POST carries an MCP request
    for my $method ('post', 'PUT', 'PATCH', 'HEAD') {
        my $res = I3Test::raw_http('i16', "$method /norules HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                                   . "Authorization: Bearer $token{alice}\r\nContent-Type: application/json\r\n"
                                   . 'Content-Length: ' . length(tool('admin_x')) . "\r\n\r\n" . tool('admin_x'));
        my ($status) = $res =~ m{^HTTP/1\.1 (\d+)};
        ok t_cmp(($status // 'none') . ($res =~ /X-Echo-Backend/ ? ' backend' : ''), '400',
                 "a body sent with $method: refused, never forwarded unread");
    }

    # a body cut short is unreadable (400), not too large (413)
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => port('i16'), Proto => 'tcp', Timeout => 30);
    my $part = substr(tool('echo'), 0, 20);
    print $s "POST /rules HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAuthorization: Bearer $token{alice}\r\n"
           . "Content-Type: application/json\r\nContent-Length: 200\r\n\r\n$part";
    $s->shutdown(1);
    my $res = do { local $/; <$s> } // '';
    my ($status) = $res =~ m{^HTTP/1\.1 (\d+)};
    ok t_cmp($status // 'none', '400', 'a body cut short: 400');

    ($o, $hits) = judged(sub { post('/rules', tool('echo', 'u8'), 'alice', 'Content-Type' => 'application/json; charset=utf8') });
    ok t_cmp("$o $hits", 'backend 1', 'charset=utf8 (what servers read as UTF-8): judged and forwarded');
}

