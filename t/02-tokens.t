# Token validation, table-driven: what is accepted, what is refused and how.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test;
use Apache::TestUtil;
use JSON::PP ();
use MCPTest;
use MintToken;

my $now = time;
my $iss = issuer();
my $aud = url('mcp', '/mcp');
my $P   = port('idp');
my $exp_ok = $now + 600;

# --- token string surgery -----------------------------------------------------
my $B64 = join '', 'A' .. 'Z', 'a' .. 'z', '0' .. '9', '-', '_';
sub b64val { index($B64, $_[0]) }

sub flip_sig_char {       # change one character in the middle of the signature
    my $t = shift;
    my $i = rindex($t, '.') + int((length($t) - rindex($t, '.')) / 2);
    my $c = substr($t, $i, 1);
    substr($t, $i, 1) = $c eq 'A' ? 'B' : 'A';
    return $t;
}

sub trailing_bits {       # set unused low bits of the last signature character
    my $t = shift;
    my $sig = substr($t, rindex($t, '.') + 1);
    my $rem = length($sig) % 4;
    die "signature length has no unused bits\n" unless $rem;
    my $v = b64val(substr($t, -1));
    substr($t, -1) = substr($B64, $v | 1, 1);
    return $t;
}

sub sig_of { substr($_[0], rindex($_[0], '.') + 1) }

# --- the table --------------------------------------------------------------------
# [ name, spec | token-sub, expected status, expected error (undef = accepted) ]
# Specs are minted in one batch; a CODE entry post-processes a minted spec.
my $n = 0;
sub ok_claims  { std_claims(sub => 'user-' . ++$n, @_) }
sub hdr        { my ($alg, $kid, %x) = @_; { alg => $alg, (defined $kid ? (kid => $kid) : ()), %x } }
sub rs         { { key => 'rsa1', header => hdr('RS256', 'rsa1'), payload => ok_claims(@_) } }

my @cases = (
    # accepted: every algorithm
    [ 'RS256', { key => 'rsa1', header => hdr('RS256', 'rsa1', typ => 'at+jwt'), payload => ok_claims() }, 200 ],
    [ 'RS384', { key => 'rsa1', header => hdr('RS384', 'rsa1'), payload => ok_claims() }, 200 ],
    [ 'RS512', { key => 'rsa1', header => hdr('RS512', 'rsa1'), payload => ok_claims() }, 200 ],
    [ 'PS256', { key => 'rsa1', header => hdr('PS256', 'rsa1'), payload => ok_claims() }, 200 ],
    [ 'PS384', { key => 'rsa1', header => hdr('PS384', 'rsa1'), payload => ok_claims() }, 200 ],
    [ 'PS512', { key => 'rsa1', header => hdr('PS512', 'rsa1'), payload => ok_claims() }, 200 ],
    [ 'ES256', { key => 'p256', header => hdr('ES256', 'ec256'), payload => ok_claims() }, 200 ],
    [ 'ES384', { key => 'p384', header => hdr('ES384', 'ec384'), payload => ok_claims() }, 200 ],
    [ 'ES512', { key => 'p521', header => hdr('ES512', 'ec521'), payload => ok_claims() }, 200 ],
    [ 'EdDSA (Ed25519)', { key => 'ed25519', header => hdr('EdDSA', 'ed1', typ => 'at+jwt'), payload => ok_claims() }, 200 ],
    [ 'Ed25519 (RFC 9864)', { key => 'ed25519', header => hdr('Ed25519', 'ed1'), payload => ok_claims() }, 200 ],
    # accepted: typ variants, pinned key, claims edge cases
    [ 'typ JWT', { key => 'rsa1', header => hdr('RS256', 'rsa1', typ => 'JWT'), payload => ok_claims() }, 200 ],
    [ 'typ application/at+jwt', { key => 'rsa1', header => hdr('RS256', 'rsa1', typ => 'application/at+jwt'), payload => ok_claims() }, 200 ],
    [ 'RS256 with the key pinned to RS256', { key => 'rsa1', header => hdr('RS256', 'rsa1-rs256'), payload => ok_claims() }, 200 ],
    [ 'expired 30 s ago (within 60 s leeway)', rs(exp => $now - 30), 200 ],
    [ 'nbf 30 s ahead (within leeway)', rs(nbf => $now + 30), 200 ],
    [ 'iat 30 s ahead (within leeway)', rs(iat => $now + 30), 200 ],
    [ 'aud array containing ours', rs(aud => [ 'urn:other', $aud ]), 200 ],
    [ 'no iat', rs(iat => undef), 200 ],

    # refused: time claims
    [ 'expired 120 s ago', rs(exp => $now - 120), 401, 'invalid_token' ],
    [ 'nbf 300 s ahead', rs(nbf => $now + 300), 401, 'invalid_token' ],
    [ 'iat 300 s ahead', rs(iat => $now + 300), 401, 'invalid_token' ],
    [ 'missing exp', rs(exp => undef), 401, 'invalid_token' ],
    [ 'exp as a string', rs(exp => '' . ($now + 600)), 401, 'invalid_token' ],
    [ 'nbf as a string', rs(nbf => '' . ($now - 10)), 401, 'invalid_token' ],
    [ 'exp 1e300', { key => 'rsa1', header => hdr('RS256', 'rsa1'), payload_raw =>
        qq({"iss":"$iss","aud":"$aud","sub":"x","exp":1e300}) }, 401, 'invalid_token' ],
    # refused: issuer
    [ 'iss with trailing slash', rs(iss => "$iss/"), 401, 'invalid_token' ],
    [ 'iss in another case', rs(iss => "http://localhost:$P/realms/Test"), 401, 'invalid_token' ],
    [ 'iss as an array', rs(iss => [$iss]), 401, 'invalid_token' ],
    [ 'missing iss', rs(iss => undef), 401, 'invalid_token' ],
    # refused: audience
    [ 'wrong aud', rs(aud => 'http://localhost:1/other'), 401, 'invalid_token' ],
    [ 'aud with trailing slash', rs(aud => "$aud/"), 401, 'invalid_token' ],
    [ 'aud is the origin only', rs(aud => url('mcp', '')), 401, 'invalid_token' ],
    [ 'aud array without ours', rs(aud => [ 'urn:a', 'urn:b' ]), 401, 'invalid_token' ],
    [ 'aud empty array', rs(aud => []), 401, 'invalid_token' ],
    [ 'missing aud', rs(aud => undef), 401, 'invalid_token' ],
    # refused: subject
    [ 'missing sub', rs(sub => undef), 401, 'invalid_token' ],
    [ 'empty sub', rs(sub => ''), 401, 'invalid_token' ],
    # refused: signature and keys
    [ 'bad signature (one character changed)', [ \&flip_sig_char, rs() ], 401, 'invalid_token' ],
    [ 'unknown kid', { key => 'rsa1', header => hdr('RS256', 'no-such-kid'), payload => ok_claims() }, 401, 'invalid_token' ],
    [ 'kid path injection', { key => 'rsa1', header => hdr('RS256', '../../../../dev/null'), payload => ok_claims() }, 401, 'invalid_token' ],
    [ 'alg none, empty signature', { key => 'none', header => hdr('none', 'rsa1'), payload => ok_claims() }, 401, 'invalid_token' ],
    [ 'alg none with an RS256 signature', { key => 'rsa1', sign_alg => 'RS256', header => hdr('none', 'rsa1'), payload => ok_claims() }, 401, 'invalid_token' ],
    [ 'alg None with an RS256 signature', { key => 'rsa1', sign_alg => 'RS256', header => hdr('None', 'rsa1'), payload => ok_claims() }, 401, 'invalid_token' ],
    [ 'HS256 with the oct key from the JWKS', { key => 'oct', header => hdr('HS256', 'oct1'), payload => ok_claims() }, 401, 'invalid_token' ],
    [ 'HS256 with the oct key, no kid', { key => 'oct', header => hdr('HS256', undef), payload => ok_claims() }, 401, 'invalid_token' ],
    [ 'HS256 with the RSA public key as secret', { key => 'rsa1pem', header => hdr('HS256', 'rsa1'), payload => ok_claims() }, 401, 'invalid_token' ],
    [ 'ES256 with a 66-byte zero-padded signature', { key => 'p256', es_pad => 1, header => hdr('ES256', 'ec256'), payload => ok_claims() }, 401, 'invalid_token' ],
    [ 'ES256 made with the P-384 key (kid ec384)', { key => 'p384', header => hdr('ES256', 'ec384'), payload => ok_claims() }, 401, 'invalid_token' ],
    [ 'ES384 made with the P-256 key (kid ec256)', { key => 'p256', header => hdr('ES384', 'ec256'), payload => ok_claims() }, 401, 'invalid_token' ],
    [ 'PS256 with a key pinned to RS256', { key => 'rsa1', header => hdr('PS256', 'rsa1-rs256'), payload => ok_claims() }, 401, 'invalid_token' ],
    [ 'key with use=enc', { key => 'rsa1', header => hdr('RS256', 'rsa1-enc'), payload => ok_claims() }, 401, 'invalid_token' ],
    [ 'RS256 with the 1024-bit key', { key => 'rsa1024', header => hdr('RS256', 'rsa-small'), payload => ok_claims() }, 401, 'invalid_token' ],
    [ 'EdDSA signed with another Ed25519 key', { key => 'ed25519b', header => hdr('EdDSA', 'ed1'), payload => ok_claims() }, 401, 'invalid_token' ],
    [ 'EdDSA, its 64-byte signature with one character changed', [ \&flip_sig_char, { key => 'ed25519', header => hdr('EdDSA', 'ed1'), payload => ok_claims() } ], 401, 'invalid_token' ],
    [ 'EdDSA header naming the RSA key', { key => 'ed25519', header => hdr('EdDSA', 'rsa1'), payload => ok_claims() }, 401, 'invalid_token' ],
    [ 'EdDSA header with an RS256 signature by the named RSA key', { key => 'rsa1', sign_alg => 'RS256', header => hdr('EdDSA', 'rsa1'), payload => ok_claims() }, 401, 'invalid_token' ],
    [ 'RS256 header naming the Ed25519 key', { key => 'rsa1', header => hdr('RS256', 'ed1'), payload => ok_claims() }, 401, 'invalid_token' ],
    [ 'HS256 with the Ed25519 public key as secret', { key => 'ed25519x', header => hdr('HS256', 'ed1'), payload => ok_claims() }, 401, 'invalid_token' ],
    # refused: structure and encoding
    [ 'garbage', 'garbage', 401, 'invalid_token' ],
    [ 'five segments (JWE shape)', [ sub { "$_[0].QUFB.QUFB" }, rs() ], 401, 'invalid_token' ],
    [ 'padding = on the signature', [ sub { "$_[0]==" }, rs() ], 401, 'invalid_token' ],
    [ 'non-zero trailing bits in the signature', [ \&trailing_bits, rs() ], 401, 'invalid_token' ],
    [ 'header not JSON', [ sub { my $t = shift; $t =~ s/^[^.]+/bm90LWpzb24/; $t }, rs() ], 401, 'invalid_token' ],
    [ 'typ dpop+jwt', { key => 'rsa1', header => hdr('RS256', 'rsa1', typ => 'dpop+jwt'), payload => ok_claims() }, 401, 'invalid_token' ],
    [ 'typ secevent+jwt', { key => 'rsa1', header => hdr('RS256', 'rsa1', typ => 'secevent+jwt'), payload => ok_claims() }, 401, 'invalid_token' ],
    [ 'crit present', { key => 'rsa1', header => hdr('RS256', 'rsa1', crit => ['exp'], exp => 1), payload => ok_claims() }, 401, 'invalid_token' ],
    [ 'cty JWT (nested token)', { key => 'rsa1', header => hdr('RS256', 'rsa1', cty => 'JWT'), payload => ok_claims() }, 401, 'invalid_token' ],
    [ 'duplicate iss in the payload (foreign first)', { key => 'rsa1', header => hdr('RS256', 'rsa1'), payload_raw =>
        qq({"iss":"http://evil.example/","iss":"$iss","aud":"$aud","sub":"dup","exp":$exp_ok}) }, 401, 'invalid_token' ],
    [ 'duplicate iss in the payload (ours first)', { key => 'rsa1', header => hdr('RS256', 'rsa1'), payload_raw =>
        qq({"iss":"$iss","aud":"$aud","sub":"dup","exp":$exp_ok,"iss":"http://evil.example/"}) }, 401, 'invalid_token' ],
    [ 'duplicate alg in the header', { key => 'rsa1', sign_alg => 'RS256', header_raw => '{"alg":"none","kid":"rsa1","alg":"RS256"}',
        payload => ok_claims() }, 401, 'invalid_token' ],
    [ 'kid with quote, comma and newline', { key => 'rsa1', header => hdr('RS256', qq{a", error="none\r\nX: y}), payload => ok_claims() }, 401, 'invalid_token' ],
    [ 'sub with CR LF', rs(sub => "alice\r\nX-Injected: 1"), 401, 'invalid_token' ],
    [ 'kid in another case', { key => 'rsa1', header => hdr('RS256', 'RSA1'), payload => ok_claims() }, 401, 'invalid_token' ],
    # size cap: a large token is fine, one over 16 KiB is not
    [ 'large token (about 13 KiB) accepted', rs(pad => 'x' x 9600), 200 ],
    [ 'token over 16 KiB', rs(pad => 'x' x 12600), 401, 'invalid_token' ],
);

# Per-location settings: [ ..., path ]
my $aud_loc = url('mcp', '/mcp-aud');
my $res_loc = url('mcp', '/mcp-res');
push @cases, (
    [ 'MCPAuthAudience: first configured audience', rs(aud => 'api://mcp-aud'), 200, undef, '/mcp-aud' ],
    [ 'MCPAuthAudience: second configured audience', rs(aud => 'urn:example:second'), 200, undef, '/mcp-aud' ],
    [ 'MCPAuthAudience: array with one of them', rs(aud => [ 'urn:x', 'urn:example:second' ]), 200, undef, '/mcp-aud' ],
    [ 'MCPAuthAudience: the location URL is no longer accepted', rs(aud => $aud_loc), 401, 'invalid_token', '/mcp-aud' ],
    [ 'MCPAuthAudience: token of another location', rs(), 401, 'invalid_token', '/mcp-aud' ],
    [ 'MCPAuthResource: aud = the resource', rs(aud => 'https://mcp.example.test/api'), 200, undef, '/mcp-res' ],
    [ 'MCPAuthResource: aud = the location URL', rs(aud => $res_loc), 401, 'invalid_token', '/mcp-res' ],
    [ 'MCPAuthClockSkew 0: valid token', rs(), 200, undef, '/mcp-noskew' ],
    [ 'MCPAuthClockSkew 0: expired 5 s ago', rs(exp => $now - 5), 401, 'invalid_token', '/mcp-noskew' ],
    [ 'MCPAuthClockSkew 0: nbf 30 s ahead', rs(nbf => $now + 30), 401, 'invalid_token', '/mcp-noskew' ],
    [ 'JWKS answers 404: fail closed', rs(), 401, 'invalid_token', '/mcp-nokeys' ],
    [ 'JWKS without a usable key: fail closed', rs(), 401, 'invalid_token', '/mcp-unusable' ],
    [ 'JWKS without a usable key: 1024-bit key still refused', { key => 'rsa1024', header => hdr('RS256', 'rsa-small'), payload => ok_claims() }, 401, 'invalid_token', '/mcp-unusable' ],
    [ 'JWKS without a usable key: oct key still refused', { key => 'oct', header => hdr('HS256', 'oct1'), payload => ok_claims() }, 401, 'invalid_token', '/mcp-unusable' ],
);

# Mint all specs in one node run.
my @specs;
for my $c (@cases) {
    my $s = $c->[1];
    push @specs, ref $s eq 'HASH' ? $s : ref $s eq 'ARRAY' ? $s->[1] : ();
}
my @minted = mint_many(@specs);
for my $c (@cases) {
    my $s = $c->[1];
    if    (ref $s eq 'HASH')  { $c->[1] = shift @minted }
    elsif (ref $s eq 'ARRAY') { $c->[1] = $s->[0]->(shift @minted) }
}
die "minting mismatch\n" if @minted;

plan tests => 4 * @cases + 4;

my $log_start = error_log_size();
my $prm = url('mcp', '/.well-known/oauth-protected-resource/mcp');
my $rejected = 0;

for my $c (@cases) {
    my ($name, $token, $status, $error, $path) = @$c;
    $path //= '/mcp';
    my $hits = echo_hits();
    my $mark = error_log_size();
    my $res = req(GET => 'mcp', $path, Authorization => "Bearer $token");
    ok t_cmp($res->code, $status, "$name: status");
    if ($status == 200) {
        my $echo = echo_of($res);
        my ($sub) = eval { JSON::PP->new->decode(MIME::Base64::decode_base64url((split /\./, $token)[1]))->{sub} };
        ok t_cmp($echo && $echo->{headers}{'x-remote-user'}, $sub, "$name: backend sees X-Remote-User = sub");
        yes $echo && !exists $echo->{headers}{authorization}, "$name: backend sees no Authorization";
        ok t_cmp(error_log_since($mark, qr/MCPAUTH0005/), qr/MCPAUTH0005: accepted token/,
                 "$name: acceptance logged (MCPAUTH0005)");
    }
    else {
        $rejected++;
        my $c = challenge($res);
        ok t_cmp($c && $c->{error}, $error, "$name: error=$error");
        yes !is_echo($res) && echo_hits() == $hits, "$name: backend not reached";
        my $re = qr/\[mcp_auth:info\].*MCPAUTH0001: rejected bearer token for \Q$path\E: /;
        ok t_cmp(error_log_since($mark, $re), $re, "$name: rejection logged at info (MCPAUTH0001)");
    }
}

# Log hygiene: every rejection logged with its tag, no token ever written.
my $log = error_log_since($log_start);
ok t_cmp($log, qr/\[mcp_auth:info\].*MCPAUTH0001: .*token expired/, 'rejections logged with the reason');
ok t_cmp($log, qr/MCPAUTH0001: .*signature algorithm not allowed \(alg none, kid rsa1\)/,
         'a token refused for its header still names the alg and kid it presented');
my @leaked = grep { index($log, $_->[1]) >= 0 } grep { length $_->[1] > 20 } @cases;
ok t_cmp(join(', ', map { $_->[0] } @leaked), '', 'no full token in the error log');
my @sigs = grep { length(sig_of($_->[1])) > 20 && index($log, sig_of($_->[1])) >= 0 } @cases;
ok t_cmp(join(', ', map { $_->[0] } @sigs), '', 'no token signature in the error log');

use MIME::Base64 ();
