# Several tokens on one keep-alive connection: the connection remembers the
# Authorization header it read last (to skip reading the same header again)
# and the cache key of the token it presented last (to skip hashing the
# same token request after request), and that memory must never answer for
# another header or token: each request is judged by its own.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test;
use Apache::TestUtil;
use LWP::UserAgent ();
use HTTP::Request ();
use MCPTest;
use MintToken;

plan tests => 35;

my $now = time;
my ($alice, $bob, $expired) = mint_many(
    { key => 'rsa1', header => { alg => 'RS256', kid => 'rsa1' }, payload => std_claims(sub => 'alice') },
    { key => 'p256', header => { alg => 'ES256', kid => 'ec256' }, payload => std_claims(sub => 'bob') },
    { key => 'rsa1', header => { alg => 'RS256', kid => 'rsa1' },
      payload => std_claims(sub => 'carol', iat => $now - 7200, exp => $now - 3600) },
);
# alice's token with one signature character changed: her claims, no valid signature
my $forged = $alice;
my $i = rindex($forged, '.') + 10;
substr($forged, $i, 1) = substr($forged, $i, 1) eq 'A' ? 'B' : 'A';
# the same length and claims as alice's, signed by the key again: a different token
my ($alice2) = mint_many(
    { key => 'rsa1', header => { alg => 'RS256', kid => 'rsa1' }, payload => std_claims(sub => 'alice', jti => 'second') });

my $ua = LWP::UserAgent->new(max_redirect => 0, timeout => 30, keep_alive => 1);
my $n = 0;

sub on_connection {
    my ($token, $want_status, $want_user, $what) = @_;
    return with_header("Bearer $token", $want_status, $want_user, $what);
}

sub with_header {
    my ($authorization, $want_status, $want_user, $what) = @_;
    my $r = HTTP::Request->new(GET => url('mcp', '/mcp'));
    $r->header(Authorization => $authorization);
    my $res = $ua->request($r);
    $n++;
    ok t_cmp($res->code, $want_status, "$what: status");
    if (defined $want_user) {
        my $e = echo_of($res) || { headers => {} };
        ok t_cmp($e->{headers}{'x-remote-user'} // '', $want_user, "$what: the backend sees $want_user");
    }
    return $res;
}

on_connection($alice, 200, 'alice', 'alice');
on_connection($alice, 200, 'alice', 'alice again');
on_connection($bob, 200, 'bob', 'bob after alice');
on_connection($forged, 401, undef, "alice's token with a changed signature, after alice's own");
on_connection($alice, 200, 'alice', 'alice after the forgery');
on_connection($expired, 401, undef, 'an expired token');
on_connection($alice2, 200, 'alice', "another token of alice's");
on_connection($forged, 401, undef, 'the forgery again');
my $last = on_connection($bob, 200, 'bob', 'bob last');
# LWP counts the responses of a reused connection
ok t_cmp(($last->header('Client-Response-Num') // 1) > 1 ? 1 : 0, 1,
         'the requests shared a keep-alive connection (Client-Response-Num ' . ($last->header('Client-Response-Num') // 'none') . ')');

# Headers that differ from the one before only around the same token are
# each read in full: the ones out of RFC 6750's syntax are refused (400,
# after which httpd closes the connection), the others are the token's.
on_connection($alice, 200, 'alice', 'alice before the variants');
with_header("Bearer $alice x", 400, undef, 'the same token with data after it');
on_connection($alice, 200, 'alice', 'alice before a lower-case scheme');
with_header("bearer  $alice ", 200, 'alice', 'the same token, scheme in lower case, more blanks');
with_header("Bearer $alice", 200, 'alice', 'the same token as first sent');
with_header("Bearer ${alice}%", 400, undef, 'the same token with a character outside b64token');
on_connection($alice, 200, 'alice', 'alice before a second credential');
with_header("Basic Zm9vOmJhcg==, Bearer $alice", 400, undef, 'the same token after another credential');
with_header("Bearer $bob", 200, 'bob', 'bob after the variants');

# A refusal found without a signature check (a signature that is not
# base64url) reads the same at every sighting: it is not remembered as a
# failed check.
my ($dora) = mint_many(
    { key => 'rsa1', header => { alg => 'RS256', kid => 'rsa1' }, payload => std_claims(sub => 'dora') });
for my $n (1 .. 2) {
    my $res = with_header("Bearer ${dora}=", 401, undef, "a signature that is not base64url, sighting $n");
    my ($desc) = ($res->header('WWW-Authenticate') // '') =~ /error_description="([^"]*)"/;
    ok t_cmp($desc // '', 'signature is not base64url', "a signature that is not base64url, sighting $n: why");
}
