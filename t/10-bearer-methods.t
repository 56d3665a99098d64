# MCPAuthBearerMethods: header, form body, query (RFC 6750 §2.1-2.3).
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

my $good = sub { i3_spec(sub => 'alice', email => 'alice@example.test', @_) };
my $bad  = sub { i3_spec(sub => 'alice', exp => time - 3600) };       # expired

my $FORM = 'application/x-www-form-urlencoded';
my $ok_checks = [ user_is('alice'), no_auth(), no_token_at_backend() ];

# A form body over the 64 KiB limit.
my $big = 'f=' . ('x' x (65 * 1024));

my @cases = (
    # --- header only (the default) ---------------------------------------------------
    { name => 'm-hdr: header token', path => '/m-hdr', token => $good->(), status => 200,
      checks => $ok_checks },
    { name => 'm-hdr: query token (method off) is no token', path => '/m-hdr?access_token=%T',
      token => $good->(), status => 401, error => undef },
    { name => 'm-hdr: form-body token (method off) is no token', method => 'POST', path => '/m-hdr',
      body => 'access_token=%T', ctype => $FORM, token => $good->(), status => 401 },
    { name => 'm-hdr: bad token in the query (method off): still no error', path => '/m-hdr?access_token=%T',
      token => $bad->(), status => 401 },
    { name => 'm-hdr: header token and an ignored query token: 200, the query token removed', path => '/m-hdr?access_token=%U&q=1',
      headers => [ Authorization => 'Bearer %T' ], token => $good->(), token2 => $good->(), status => 200,
      checks => [ user_is('alice'), query_is('q=1') ] },

    # --- form body --------------------------------------------------------------------
    { name => 'm-body: token is the whole body', method => 'POST', path => '/m-body', body => 'access_token=%T',
      ctype => $FORM, token => $good->(), status => 200,
      checks => [ @$ok_checks, body_is(''), clen_is(0) ] },
    { name => 'm-body: token in the middle of the form', method => 'POST', path => '/m-body',
      body => 'a=1&access_token=%T&b=two', ctype => $FORM, token => $good->(), status => 200,
      checks => [ @$ok_checks, body_is('a=1&b=two'), clen_is(9) ] },
    { name => 'm-body: token first, charset parameter', method => 'POST', path => '/m-body',
      body => 'access_token=%T&tool=list&q=a%20b', ctype => "$FORM; charset=UTF-8", token => $good->(), status => 200,
      checks => [ @$ok_checks, body_is('tool=list&q=a%20b'), clen_is(17) ] },
    { name => 'm-body: token last', method => 'POST', path => '/m-body',
      body => 'z=%26&access_token=%T', ctype => $FORM, token => $good->(), status => 200,
      checks => [ body_is('z=%26'), clen_is(5) ] },
    { name => 'm-body: PUT with a form body', method => 'PUT', path => '/m-body',
      body => 'k=v&access_token=%T', ctype => $FORM, token => $good->(), status => 200,
      checks => [ user_is('alice'), body_is('k=v'), [ 'method', sub { $_[1]{method} }, 'PUT' ] ] },
    { name => 'm-body: header token, form body without token passes intact', method => 'POST', path => '/m-body',
      body => 'a=1&b=2', ctype => $FORM, token => $good->(), status => 200,
      checks => [ user_is('alice'), body_is('a=1&b=2'), clen_is(7) ] },
    { name => 'm-body: percent-encoded token (dots as %2E)', method => 'POST', path => '/m-body',
      body => 'access_token=%T', ctype => $FORM, token => $good->(), token_post => sub { (my $t = shift) =~ s/\./%2E/g; $t },
      status => 200, checks => [ user_is('alice'), body_is('') ] },
    { name => 'm-body: token in body and header: 400', method => 'POST', path => '/m-body',
      body => 'access_token=%T', ctype => $FORM, headers => [ Authorization => 'Bearer %U' ],
      token => $good->(), token2 => $good->(), status => 400, error => 'invalid_request' },
    { name => 'm-body: same token in body and header: 400', method => 'POST', path => '/m-body',
      body => 'access_token=%T', ctype => $FORM, headers => [ Authorization => 'Bearer %T' ],
      token => $good->(), status => 400, error => 'invalid_request' },
    { name => 'm-body: access_token repeated: 400', method => 'POST', path => '/m-body',
      body => 'access_token=%T&access_token=%T', ctype => $FORM, token => $good->(), status => 400, error => 'invalid_request' },
    { name => 'm-body: access_token repeated, second empty: 400', method => 'POST', path => '/m-body',
      body => 'access_token=%T&x=1&access_token=', ctype => $FORM, token => $good->(), status => 400, error => 'invalid_request' },
    { name => 'm-body: empty access_token: 400', method => 'POST', path => '/m-body',
      body => 'a=1&access_token=', ctype => $FORM, status => 400, error => 'invalid_request' },
    { name => 'm-body: access_token without =: 400', method => 'POST', path => '/m-body',
      body => 'access_token&a=1', ctype => $FORM, status => 400, error => 'invalid_request' },
    { name => 'm-body: access_token with a space inside: 400', method => 'POST', path => '/m-body',
      body => 'access_token=abc+def', ctype => $FORM, status => 400, error => 'invalid_request' },
    { name => 'm-body: bad token in the body: 401 invalid_token', method => 'POST', path => '/m-body',
      body => 'x=1&access_token=%T', ctype => $FORM, token => $bad->(), status => 401, error => 'invalid_token' },
    { name => 'm-body: garbage token in the body: 401 invalid_token', method => 'POST', path => '/m-body',
      body => 'access_token=garbage', ctype => $FORM, status => 401, error => 'invalid_token' },
    { name => 'm-body: JSON body with access_token is not a credential', method => 'POST', path => '/m-body',
      body => '{"access_token":"%T"}', ctype => 'application/json', token => $good->(), status => 401 },
    { name => 'm-body: text/plain body with access_token is not a credential', method => 'POST', path => '/m-body',
      body => 'access_token=%T', ctype => 'text/plain', token => $good->(), status => 401 },
    { name => 'm-body: multipart body with access_token is not a credential', method => 'POST', path => '/m-body',
      body => "--XX\r\nContent-Disposition: form-data; name=\"access_token\"\r\n\r\n%T\r\n--XX--\r\n",
      ctype => 'multipart/form-data; boundary=XX', token => $good->(), status => 401 },
    { name => 'm-body: look-alike content type is not a form', method => 'POST', path => '/m-body',
      body => 'access_token=%T', ctype => "${FORM}x", token => $good->(), status => 401 },
    { name => 'm-body: a form-body token on GET is refused (RFC 6750 §2.2)', method => 'GET', path => '/m-body',
      body => 'access_token=%T', ctype => $FORM, token => $good->(), status => 400, error => 'invalid_request' },
    { name => 'm-body: a %-encoded parameter name is the parameter', method => 'POST', path => '/m-body',
      body => 'access%5Ftoken=%T&n=1', ctype => $FORM, token => $good->(), status => 200,
      checks => [ @$ok_checks, body_is('n=1') ] },
    { name => 'm-body: prefixed parameter name is another name', method => 'POST', path => '/m-body',
      body => 'my_access_token=%T&access_tokens=%T', ctype => $FORM, token => $good->(), status => 401 },
    { name => 'm-body: form over 64 KiB with a header token is refused, never forwarded', method => 'POST',
      path => '/m-body', body => $big, ctype => $FORM, token => $good->(), status => 400, error => 'invalid_request' },

    # --- JSON/plain bodies are never consumed or altered (optional mode, all granted) ---
    { name => 'mode-opt-body: JSON body with access_token passes intact, anonymous', method => 'POST',
      path => '/mode-opt-body', body => '{"jsonrpc":"2.0","access_token":"%T"}', ctype => 'application/json',
      token => $good->(), status => 200,
      checks => [ user_is('(none)'), [ 'body intact', sub { $_[1]{body} eq $_[2]{sent_body} ? 'intact' : $_[1]{body} }, 'intact' ],
                  [ 'Content-Length intact', sub { $_[1]{content_length} == length $_[2]{sent_body} ? 'ok' : $_[1]{content_length} }, 'ok' ] ] },
    { name => 'mode-opt-body: text/plain body with access_token passes intact', method => 'POST',
      path => '/mode-opt-body', body => 'access_token=%T', ctype => 'text/plain',
      token => $good->(), status => 200,
      checks => [ user_is('(none)'), [ 'body intact', sub { $_[1]{body} eq $_[2]{sent_body} ? 'intact' : $_[1]{body} }, 'intact' ] ] },
    { name => 'mode-opt-body: form token accepted and removed', method => 'POST',
      path => '/mode-opt-body', body => 'access_token=%T&n=1', ctype => $FORM, token => $good->(), status => 200,
      checks => [ user_is('alice'), body_is('n=1'), clen_is(3) ] },

    # --- query ---------------------------------------------------------------------
    { name => 'm-query: token is the whole query', path => '/m-query?access_token=%T', token => $good->(), status => 200,
      checks => [ @$ok_checks, query_is(''),
                  [ 'no "?" left in the forwarded URI', sub { $_[1]{uri} =~ /\?/ ? $_[1]{uri} : 'none' }, 'none' ] ] },
    { name => 'm-query: token between other parameters', path => '/m-query?x=1&access_token=%T&y=two%20words',
      token => $good->(), status => 200, checks => [ @$ok_checks, query_is('x=1&y=two%20words') ] },
    { name => 'm-query: sub-path and token', path => '/m-query/tools/call?access_token=%T&z=3',
      token => $good->(), status => 200,
      checks => [ user_is('alice'), query_is('z=3'), [ 'path_info', sub { $_[1]{path_info} }, '/tools/call' ] ] },
    { name => 'm-query: header token, no query token: query untouched', path => '/m-query?a=1&b=2',
      token => $good->(), status => 200, checks => [ user_is('alice'), query_is('a=1&b=2') ] },
    { name => 'm-query: percent-encoded token', path => '/m-query?access_token=%T', token => $good->(),
      token_post => sub { (my $t = shift) =~ s/-/%2D/g; $t =~ s/\./%2E/g; $t }, status => 200, checks => [ user_is('alice') ] },
    { name => 'm-query: access_token repeated: 400', path => '/m-query?access_token=%T&access_token=%T',
      token => $good->(), status => 400, error => 'invalid_request' },
    { name => 'm-query: access_token repeated with another value: 400', path => '/m-query?access_token=%T&access_token=%U',
      token => $good->(), token2 => $good->(), status => 400, error => 'invalid_request' },
    { name => 'm-query: query and header: 400', path => '/m-query?access_token=%T', headers => [ Authorization => 'Bearer %U' ],
      token => $good->(), token2 => $good->(), status => 400, error => 'invalid_request' },
    { name => 'm-query: empty access_token: 400', path => '/m-query?access_token=', status => 400, error => 'invalid_request' },
    { name => 'm-query: bad token: 401 invalid_token', path => '/m-query?access_token=%T', token => $bad->(),
      status => 401, error => 'invalid_token' },
    { name => 'm-query: lookalike names are not the parameter', path => '/m-query?xaccess_token=%T&access_tokens=%T',
      token => $good->(), status => 401 },
    { name => 'm-query: Access_Token is the parameter (some parsers ignore case)', path => '/m-query?Access_Token=%T&q=1',
      token => $good->(), status => 200, checks => [ @$ok_checks, query_is('q=1') ] },
    { name => 'm-query: form-body token (method off) is no token', method => 'POST', path => '/m-query',
      body => 'access_token=%T', ctype => $FORM, token => $good->(), status => 401 },

    # --- all three ----------------------------------------------------------------
    { name => 'm-all: body only', method => 'POST', path => '/m-all?q=1', body => 'access_token=%T&b=1', ctype => $FORM,
      token => $good->(), status => 200, checks => [ user_is('alice'), body_is('b=1'), query_is('q=1') ] },
    { name => 'm-all: query only', method => 'POST', path => '/m-all?access_token=%T&q=1', body => 'b=1', ctype => $FORM,
      token => $good->(), status => 200, checks => [ user_is('alice'), body_is('b=1'), query_is('q=1') ] },
    { name => 'm-all: header only', path => '/m-all', token => $good->(), status => 200, checks => [ user_is('alice') ] },
    { name => 'm-all: query and body: 400', method => 'POST', path => '/m-all?access_token=%T', body => 'access_token=%U',
      ctype => $FORM, token => $good->(), token2 => $good->(), status => 400, error => 'invalid_request' },
    { name => 'm-all: header, query and body: 400', method => 'POST', path => '/m-all?access_token=%T', body => 'access_token=%T',
      ctype => $FORM, headers => [ Authorization => 'Bearer %T' ], token => $good->(), status => 400, error => 'invalid_request' },
    { name => 'm-all: valid header token, bad query token: 400', path => '/m-all?access_token=garbage',
      headers => [ Authorization => 'Bearer %T' ], token => $good->(), status => 400, error => 'invalid_request' },

    # --- header disabled ----------------------------------------------------------
    { name => 'm-qonly: header token (method off) is no token', path => '/m-qonly', token => $good->(), status => 401 },
    { name => 'm-qonly: query token', path => '/m-qonly?access_token=%T', token => $good->(), status => 200,
      checks => [ user_is('alice'), query_is('') ] },
    { name => 'm-qonly: malformed Authorization (method off) is ignored', path => '/m-qonly', headers => [ Authorization => 'Bearer' ],
      status => 401 },
    { name => 'm-bonly: header token (method off) is no token', path => '/m-bonly', token => $good->(), status => 401 },
    { name => 'm-bonly: body token', method => 'POST', path => '/m-bonly', body => 'access_token=%T', ctype => $FORM,
      token => $good->(), status => 200, checks => [ user_is('alice'), body_is('') ] },
);

plan tests => cases_tests(\@cases) + 6 + 6 + 6 + 3;

my $log_start = error_log_size();
run_cases(\@cases);

# --- bearer_methods_supported lists exactly the enabled methods --------------------
my %methods = ('m-hdr' => ['header'], 'm-body' => [qw(header body)], 'm-query' => [qw(header query)],
               'm-all' => [qw(header body query)], 'm-qonly' => ['query'], 'm-bonly' => ['body']);
for my $loc (sort keys %methods) {
    my $d = json_of(http(GET => 'i3', "/.well-known/oauth-protected-resource/$loc"));
    ok t_cmp(join(',', sort @{ $d && $d->{bearer_methods_supported} || [] }), join(',', sort @{ $methods{$loc} }),
             "/$loc: bearer_methods_supported");
}

# --- chunked form body: token removed, backend gets a Content-Length ----------------
{
    my $tok = mint(%{ $good->(sub => 'chunky') });
    my $form = "a=1&access_token=$tok&b=2";
    my $chunked = '';
    for (my $i = 0; $i < length $form; $i += 100) {
        my $part = substr($form, $i, 100);
        $chunked .= sprintf("%x\r\n%s\r\n", length $part, $part);
    }
    $chunked .= "0\r\n\r\n";
    my $hits = echo_hits();
    my $raw = raw_http('i3', "POST /m-body HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                       . "Content-Type: $FORM\r\nTransfer-Encoding: chunked\r\n\r\n$chunked");
    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    $body //= '';
    # the echo answer may itself be chunked
    my ($json) = $body =~ /(\{.*\})/s;
    my $e = eval { JSON::PP->new->decode($json // '') } || { headers => {} };
    ok t_cmp($head // '', qr{^HTTP/1\.1 200 }, 'chunked form body: 200');
    ok t_cmp($e->{headers}{'x-remote-user'} // '', 'chunky', 'chunked form body: user from the body token');
    ok t_cmp($e->{body} // '', 'a=1&b=2', 'chunked form body: rest of the body forwarded');
    ok t_cmp($e->{content_length} // '', 3 + 4, 'chunked form body: Content-Length of the rest');
    ok t_cmp(echo_hits() - $hits, 1, 'chunked form body: one backend hit');
    yes index($raw, sig_of($tok)) < 0, 'chunked form body: token not echoed';
}

# --- 64 KiB form body (the limit) with the token: accepted, rest intact -----------------
{
    my $tok = mint(%{ $good->(sub => 'biggy') });
    my $fixed = "access_token=$tok&f=";
    my $form = $fixed . ('y' x (64 * 1024 - length $fixed));
    my $res = http(POST => 'i3', '/m-body', body => $form, ctype => $FORM);
    my $e = echo_of($res) || { headers => {} };
    ok t_cmp(length $form, 65536, '64 KiB body: exactly at the limit');
    ok t_cmp($res->code, 200, '64 KiB form body with token: 200');
    ok t_cmp($e->{headers}{'x-remote-user'} // '', 'biggy', '64 KiB form body: user');
    ok t_cmp($e->{body_len} // 0, 65536 - length("access_token=$tok&"), '64 KiB form body: rest length');
    ok t_cmp($e->{content_length} // 0, 65536 - length("access_token=$tok&"), '64 KiB form body: Content-Length');
    yes !defined($e->{body}) || $e->{body} eq 'f=' . ('y' x (64 * 1024 - length $fixed)), '64 KiB form body: rest intact';
}

# --- log hygiene: tokens never in the error log -----------------------------------------
{
    my $tok = mint(%{ $good->(sub => 'quiet') });
    my $mark = error_log_size();
    my $res = http(GET => 'i3', "/m-hdr?access_token=$tok");
    ok t_cmp($res->code, 401, 'query token with header-only: 401');
    my $log = error_log_since($mark, qr/MCPAUTH0003/);
    yes index($log, sig_of($tok)) < 0 && index($log, $tok) < 0, 'query token with header-only: not in the error log';
    my $all = error_log_since($log_start);
    my @leaked = grep { index($all, sig_of($_)) >= 0 } all_tokens();
    ok t_cmp(scalar @leaked, 0, 'no token signature of this file in the error log');
}
