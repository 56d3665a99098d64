# Token hardening beyond t/02-tokens.t, table-driven. Hostile tokens are
# validly signed wherever possible, so that only the check under test can
# refuse them. Location /h uses jwks-i3.json (see t/lib/mint.mjs), /h-typ
# narrows typ to at+jwt, /h-kl uses a counted JWKS (t/cgi-bin/jwks/i3kl).
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test;
use Apache::TestUtil;
use JSON::PP ();
use Math::BigInt ();
use MCPTest;
use MintToken;
use I3Test;

my $JSON = JSON::PP->new->canonical->allow_nonref;
my $n = 0;

# --- spec builders ---------------------------------------------------------------------
sub claims_ { i3_claims(sub => 'h' . ++$n, @_) }
sub H { my ($alg, $kid, %x) = @_; { alg => $alg, (defined $kid ? (kid => $kid) : ()), %x } }
sub S { my ($key, $hdr, %c) = @_; { key => $key, header => $hdr, payload => claims_(%c) } }
sub rs { S('rsa1', H('RS256', 'rsa1'), @_) }

# Payload JSON text: the accepted claims, with members given as raw JSON text
# (undef: member removed), plus -extra text appended inside the object.
sub praw {
    my %raw = @_;
    my $extra = delete $raw{-extra};
    my $c = claims_();
    my %m = map { $_ => $JSON->encode($c->{$_}) } keys %$c;
    $m{$_} = $raw{$_} for keys %raw;
    my $t = '{' . join(',', map { qq("$_":$m{$_}) } grep { defined $m{$_} } sort keys %m);
    $t .= ",$extra" if defined $extra;
    return "$t}";
}
sub rsraw { { key => 'rsa1', header => H('RS256', 'rsa1'), payload_raw => praw(@_) } }
# Header JSON text given exactly.
sub hraw { my ($text, %c) = @_; { key => 'rsa1', sign_alg => 'RS256', header_raw => $text, payload => claims_(%c) } }

# --- base64url surgery: exact segment text that is then signed -------------------------
my $B64 = join '', 'A' .. 'Z', 'a' .. 'z', '0' .. '9', '-', '_';
sub set_trailing_bit {          # a non-zero unused bit in the last character
    my $s = shift;
    die "no unused bits\n" unless length($s) % 4;
    substr($s, -1) = substr($B64, index($B64, substr($s, -1)) | 1, 1);
    return $s;
}
sub with_padding { my $s = shift; $s . ('=' x ((4 - length($s) % 4) % 4)) }
# A JSON text (built by $make from a filler length) whose base64url has the property.
sub tune {
    my ($make, $want) = @_;
    for my $k (0 .. 64) {
        my $t = $make->($k);
        return $t if $want->(b64u($t));
    }
    die "tune: nothing found\n";
}
my $hdr_plain = '{"alg":"RS256","kid":"rsa1"}';
sub hdr_filler { my $k = shift; qq({"alg":"RS256","kid":"rsa1","x":") . ('?' x $k) . '~"}' }
sub pay_filler { my $k = shift; praw(x => $JSON->encode(('?' x $k) . '~')) }
my $has_unused = sub { length($_[0]) % 4 != 0 };
my $has_urlchar = sub { $_[0] =~ /[-_]/ };
sub seg_spec {                   # sign exactly these segment texts
    my ($h64, $p64, %o) = @_;
    return { key => 'rsa1', sign_alg => 'RS256', header_b64 => $h64, payload_b64 => $p64, %o };
}
my $h_unused = tune(\&hdr_filler, $has_unused);
my $p_unused = tune(\&pay_filler, $has_unused);
my $h_url    = tune(\&hdr_filler, $has_urlchar);
my $p_url    = tune(\&pay_filler, $has_urlchar);
sub std_alphabet { (my $s = shift) =~ tr{-_}{+/}; $s }

# --- signature surgery ---------------------------------------------------------------
sub sig_bytes { unb64u(sig_of($_[0])) }
sub with_sig  { my ($t, $bytes) = @_; substr($t, 0, rindex($t, '.') + 1) . b64u($bytes) }
# An Ed25519 signature R || S with S + L in place of S: the same signature
# under a non-canonical S (RFC 8032 §5.1.7 requires S < L).
my $ED25519_L = Math::BigInt->new(2)->bpow(252)->badd('27742317777372353535851937790883648493');
sub ed25519_s_plus_l {
    my $t = shift;
    my $sig = sig_bytes($t);
    my $s = Math::BigInt->from_hex(unpack('H*', scalar reverse substr($sig, 32)))->badd($ED25519_L);
    my $hex = substr($s->as_hex, 2);
    return with_sig($t, substr($sig, 0, 32) . reverse pack('H*', ('0' x (64 - length $hex)) . $hex));
}

# --- size: exact token lengths -----------------------------------------------------
# RS256 with a 2048-bit key: 342 signature characters.
sub sized {
    my $total = shift;
    my $want = $total - length(b64u($hdr_plain)) - 2 - 342;
    my $base = length praw(pad => '""');
    my $k0 = int($want * 3 / 4) - $base;
    for my $k ($k0 - 4 .. $k0 + 4) {
        my $p = praw(pad => $JSON->encode('p' x $k));
        return { key => 'rsa1', header_raw => $hdr_plain, sign_alg => 'RS256', payload_raw => $p }
            if length(b64u($p)) == $want;
    }
    die "sized: no payload gives $total characters\n";
}

# --- nesting -------------------------------------------------------------------------
# {"...","d":[[...[1]...]]}: $k arrays, the innermost value at depth $k + 2
# (the payload object is depth 1).
sub nested_arrays { my $k = shift; ('[' x $k) . '1' . (']' x $k) }
sub nested_objects { my $k = shift; ('{"a":' x $k) . '1' . ('}' x $k) }

# --- attacker material ----------------------------------------------------------------
my $FX = fixtures_dir();
my $evil_jwk = do { local $/; open my $fh, '<', "$FX/www/evil.jwk.json" or die "evil.jwk.json: $!"; $JSON->decode(<$fh>) };
my $evil_x5c = do {
    my $der = `openssl req -x509 -new -key '$FX/keys/evil.pem' -subj /CN=evil -days 2 -outform DER 2>/dev/null`;
    length $der ? MIME::Base64::encode_base64($der, '') : 'MIIBbogus';
};
my $jku = url('i3idp', '/cgi/jwks/i3evil');
sub evil { my ($hdr, %c) = @_; { key => 'evil', header => $hdr, payload => claims_(%c) } }

my $long_kid = 'k' x 4096;
my $pwned = "/tmp/mcp-auth-i3-pwned-$$";

# checks
my $OK = { status => 200 };
my $BAD = { status => 401, error => 'invalid_token' };
my $MALFORMED = { status => 400, error => 'invalid_request' };

# [ name, token spec or string, expected (OK/BAD), optional extra case fields ]
my @table = (
    # --- strict base64url (segments signed as sent) ------------------------------------
    [ 'control: segments signed as given', seg_spec(b64u($hdr_plain), b64u(praw())), $OK ],
    # '=' inside the credential is not b64token syntax (RFC 6750 §2.1): 400 already
    [ 'header with = padding', seg_spec(with_padding(b64u($h_unused)), b64u(praw())), $MALFORMED ],
    [ 'payload with = padding', seg_spec(b64u($hdr_plain), with_padding(b64u($p_unused))), $MALFORMED ],
    [ 'header with non-zero trailing bits', seg_spec(set_trailing_bit(b64u($h_unused)), b64u(praw())), $BAD ],
    [ 'payload with non-zero trailing bits', seg_spec(b64u($hdr_plain), set_trailing_bit(b64u($p_unused))), $BAD ],
    [ 'header in the standard alphabet (+/)', seg_spec(std_alphabet(b64u($h_url)), b64u(praw())), $BAD ],
    [ 'payload in the standard alphabet (+/)', seg_spec(b64u($hdr_plain), std_alphabet(b64u($p_url))), $BAD ],
    [ 'empty header segment', seg_spec('', b64u(praw())), $BAD ],
    [ 'empty payload segment', seg_spec(b64u($hdr_plain), ''), $BAD ],
    [ 'signature in the standard alphabet', rs(), $BAD,
      { token_post => sub { my $t = shift; my $s = sig_of($t); $s =~ /[-_]/ ? substr($t, 0, rindex($t, '.') + 1) . std_alphabet($s)
                                                                          : substr($t, 0, -1) . '+' } } ],
    [ 'signature of impossible length (4n+1)', rs(), $BAD, { token_post => sub { $_[0] . 'AAA' } } ],
    [ 'signature with one extra zero-bit character', rs(), $BAD, { token_post => sub { $_[0] . 'A' } } ],
    [ 'RSA signature one byte short', rs(), $BAD, { token_post => sub { with_sig($_[0], substr(sig_bytes($_[0]), 1)) } } ],
    [ 'RSA signature with a leading zero byte', rs(), $BAD, { token_post => sub { with_sig($_[0], "\0" . sig_bytes($_[0])) } } ],

    # --- algorithms and ECDSA ------------------------------------------------------------
    [ 'control: ES256', S('p256', H('ES256', 'ec256')), $OK ],
    [ 'control: ES384', S('p384', H('ES384', 'ec384')), $OK ],
    [ 'control: ES512', S('p521', H('ES512', 'ec521')), $OK ],
    [ 'ES384 with 98-byte zero-padded signature', { %{ S('p384', H('ES384', 'ec384')) }, es_pad => 1 }, $BAD ],
    [ 'ES512 with 134-byte zero-padded signature', { %{ S('p521', H('ES512', 'ec521')) }, es_pad => 1 }, $BAD ],
    [ 'ES256 padded to 96 bytes (the ES384 length)', { %{ S('p256', H('ES256', 'ec256')) }, es_pad => 16 }, $BAD ],
    [ 'ES256 with a DER signature', { %{ S('p256', H('ES256', 'ec256')) }, es_der => 1 }, $BAD ],
    [ 'ES384 over P-256 key, R||S padded to 96 bytes', { %{ S('p256', H('ES384', 'ec256')) }, es_pad => 16 }, $BAD ],
    [ 'ES512 over P-256 key, R||S padded to 132 bytes', { %{ S('p256', H('ES512', 'ec256')) }, es_pad => 34 }, $BAD ],
    [ 'ES256 signature all zero', S('p256', H('ES256', 'ec256')), $BAD, { token_post => sub { with_sig($_[0], "\0" x 64) } } ],
    [ 'ES256 signature truncated to 63 bytes', S('p256', H('ES256', 'ec256')), $BAD,
      { token_post => sub { with_sig($_[0], substr(sig_bytes($_[0]), 0, 63)) } } ],
    [ 'ES512 signature truncated to 130 bytes', S('p521', H('ES512', 'ec521')), $BAD,
      { token_post => sub { with_sig($_[0], substr(sig_bytes($_[0]), 0, 130)) } } ],
    [ 'P-256 JWK declaring alg ES384 (dropped), ES256 token', S('p256', H('ES256', 'ec256-alg-es384')), $BAD ],
    [ 'P-256 JWK declaring alg RS256 (dropped), ES256 token', S('p256', H('ES256', 'ec256-alg-rs256')), $BAD ],
    [ 'ES256 alg with an RSA kid', S('p256', H('ES256', 'rsa1')), $BAD ],
    [ 'alg in lower case (rs256)', { %{ S('rsa1', H('rs256', 'rsa1')) }, sign_alg => 'RS256' }, $BAD ],
    [ 'alg with a trailing space', { %{ S('rsa1', H('RS256 ', 'rsa1')) }, sign_alg => 'RS256' }, $BAD ],
    [ 'alg as an array', { %{ S('rsa1', H(['RS256'], 'rsa1')) }, sign_alg => 'RS256' }, $BAD ],
    [ 'alg missing', hraw('{"kid":"rsa1"}'), $BAD ],
    [ 'alg EdDSA', { %{ S('rsa1', H('EdDSA', 'rsa1')) }, sign_alg => 'RS256' }, $BAD ],
    [ 'RS256 with the 1024-bit key', S('rsa1024', H('RS256', 'rsa-small')), $BAD ],
    [ 'PS256 with the 1024-bit key', S('rsa1024', H('PS256', 'rsa-small')), $BAD ],
    [ 'RS256 with the 1024-bit key, no kid', S('rsa1024', H('RS256', undef)), $BAD ],

    # --- EdDSA and OKP keys (RFC 8037); the hostile JWKs carry ed1's own x ---------------
    [ 'control: EdDSA', S('ed25519', H('EdDSA', 'ed1')), $OK ],
    [ 'control: Ed25519 (RFC 9864)', S('ed25519', H('Ed25519', 'ed1')), $OK ],
    [ 'control: EdDSA with the key pinned to EdDSA', S('ed25519', H('EdDSA', 'ed1-alg-eddsa')), $OK ],
    [ 'Ed25519 with the key pinned to EdDSA', S('ed25519', H('Ed25519', 'ed1-alg-eddsa')), $BAD ],
    [ 'EdDSA signature cut to 63 bytes', S('ed25519', H('EdDSA', 'ed1')), $BAD,
      { token_post => sub { with_sig($_[0], substr(sig_bytes($_[0]), 0, 63)) } } ],
    [ 'EdDSA signature with a 65th (zero) byte', S('ed25519', H('EdDSA', 'ed1')), $BAD,
      { token_post => sub { with_sig($_[0], sig_bytes($_[0]) . "\0") } } ],
    [ 'EdDSA signature with a leading zero byte', S('ed25519', H('EdDSA', 'ed1')), $BAD,
      { token_post => sub { with_sig($_[0], "\0" . sig_bytes($_[0])) } } ],
    [ 'EdDSA signature all zero', S('ed25519', H('EdDSA', 'ed1')), $BAD, { token_post => sub { with_sig($_[0], "\0" x 64) } } ],
    [ 'EdDSA signature with S + L (malleated)', S('ed25519', H('EdDSA', 'ed1')), $BAD, { token_post => \&ed25519_s_plus_l } ],
    [ 'EdDSA signature of another payload', S('ed25519', H('EdDSA', 'ed1')), $BAD,
      { token_post => sub { with_sig($_[0], sig_bytes(mint(%{ S('ed25519', H('EdDSA', 'ed1')) }))) } } ],
    [ 'EdDSA alg with an RSA kid', S('ed25519', H('EdDSA', 'rsa1')), $BAD ],
    [ 'EdDSA alg with a P-256 kid', S('ed25519', H('EdDSA', 'ec256')), $BAD ],
    [ 'ES256 (64-byte signature too) with the Ed25519 kid', S('p256', H('ES256', 'ed1')), $BAD ],
    [ 'RS256 with the Ed25519 kid', S('rsa1', H('RS256', 'ed1')), $BAD ],
    [ 'HS256 with the Ed25519 public key as secret', S('ed25519x', H('HS256', 'ed1')), $BAD ],
    [ 'EdDSA by an Ed448 key (Ed448 JWK skipped)', S('ed448', H('EdDSA', 'ed448')), $BAD ],
    [ 'alg Ed448', S('ed448', H('Ed448', 'ed448')), $BAD ],
    [ 'EdDSA by the X25519 JWK (skipped)', S('ed25519', H('EdDSA', 'x25519')), $BAD ],
    [ 'OKP JWK with crv X25519 and the Ed25519 x', S('ed25519', H('EdDSA', 'ed1-as-x25519')), $BAD ],
    [ 'OKP JWK with crv Ed448 and the Ed25519 x', S('ed25519', H('EdDSA', 'ed1-as-ed448')), $BAD ],
    [ 'OKP JWK without crv', S('ed25519', H('EdDSA', 'ed1-no-crv')), $BAD ],
    [ 'Ed25519 JWK with a 31-byte x', S('ed25519', H('EdDSA', 'ed1-short-x')), $BAD ],
    [ 'Ed25519 JWK published with its private d', S('ed25519', H('EdDSA', 'ed1-with-d')), $BAD ],
    [ 'Ed25519 JWK with use enc', S('ed25519', H('EdDSA', 'ed1-use-enc')), $BAD ],
    [ 'Ed25519 JWK declaring alg ES256 (dropped)', S('ed25519', H('EdDSA', 'ed1-alg-es256')), $BAD ],
    [ 'EC JWK on curve Ed25519', S('ed25519', H('EdDSA', 'ed1-as-ec')), $BAD ],

    # --- crit, b64, enc, cty ---------------------------------------------------------
    [ 'crit empty array', S('rsa1', H('RS256', 'rsa1', crit => [])), $BAD ],
    [ 'crit null', hraw('{"alg":"RS256","kid":"rsa1","crit":null}'), $BAD ],
    [ 'crit ["b64"] with b64 false', S('rsa1', H('RS256', 'rsa1', crit => ['b64'], b64 => JSON::PP::false)), $BAD ],
    [ 'b64 true without crit', S('rsa1', H('RS256', 'rsa1', b64 => JSON::PP::true)), $BAD ],
    [ 'enc in a JWS header', S('rsa1', H('RS256', 'rsa1', enc => 'A256GCM')), $BAD ],
    [ 'cty jwt (lower case)', S('rsa1', H('RS256', 'rsa1', cty => 'jwt')), $BAD ],
    [ 'cty not a string', S('rsa1', H('RS256', 'rsa1', cty => 1)), $BAD ],

    # --- keys never taken from the token -----------------------------------------------
    [ 'embedded jwk (attacker key), no kid', evil(H('RS256', undef, jwk => $evil_jwk)), $BAD ],
    [ 'embedded jwk (attacker key), kid evil', evil(H('RS256', 'evil', jwk => $evil_jwk)), $BAD ],
    [ 'embedded jwk (attacker key), kid rsa1', evil(H('RS256', 'rsa1', jwk => $evil_jwk)), $BAD ],
    [ 'jku to the attacker JWKS, kid evil', evil(H('RS256', 'evil', jku => $jku)), $BAD ],
    [ 'jku to the attacker JWKS, kid rsa1', evil(H('RS256', 'rsa1', jku => $jku)), $BAD ],
    [ 'jku to the attacker JWKS, no kid', evil(H('RS256', undef, jku => $jku)), $BAD ],
    [ 'x5u to the attacker JWKS', evil(H('RS256', 'evil', x5u => $jku)), $BAD ],
    [ 'x5c with the attacker certificate, no kid', evil(H('RS256', undef, x5c => [$evil_x5c])), $BAD ],
    [ 'x5c with the attacker certificate, kid rsa1', evil(H('RS256', 'rsa1', x5c => [$evil_x5c])), $BAD ],
    [ 'attacker key, plain', evil(H('RS256', 'rsa1')), $BAD ],
    [ 'control: genuine token with an (ignored) jku', S('rsa1', H('RS256', 'rsa1', jku => $jku)), $OK ],

    # --- kid matched literally -----------------------------------------------------------
    [ 'kid ../../etc/passwd', S('rsa1', H('RS256', '../../etc/passwd')), $BAD ],
    [ 'kid with SQL', S('rsa1', H('RS256', q{rsa1' OR '1'='1' --})), $BAD ],
    [ 'kid with shell syntax', S('rsa1', H('RS256', "rsa1\$(touch $pwned);`touch $pwned`|touch $pwned")), $BAD,
      { checks => [ [ 'no file created', sub { -e $pwned ? 'created' : 'absent' }, 'absent' ] ] } ],
    [ 'kid of 4 KiB', S('rsa1', H('RS256', $long_kid)), $BAD ],
    [ 'kid with a NUL escape', hraw('{"alg":"RS256","kid":"rsa1\u0000"}'), $BAD ],
    [ 'kid with a trailing space', S('rsa1', H('RS256', 'rsa1 ')), $BAD ],
    [ 'kid percent-encoded', S('rsa1', H('RS256', '%72sa1')), $BAD ],
    [ 'kid glob *', S('rsa1', H('RS256', '*')), $BAD ],
    [ 'kid regex .*', S('rsa1', H('RS256', '.*')), $BAD ],
    [ 'kid empty', S('rsa1', H('RS256', '')), $BAD ],
    [ 'kid as a number', hraw('{"alg":"RS256","kid":1}'), $BAD ],
    [ 'kid as an object', hraw('{"alg":"RS256","kid":{"kid":"rsa1"}}'), $BAD ],
    [ 'kid null', hraw('{"alg":"RS256","kid":null}'), $BAD ],
    [ 'kid with a Cyrillic look-alike', hraw('{"alg":"RS256","kid":"rs\u04301"}'), $BAD ],

    # --- not a JWS ---------------------------------------------------------------------
    [ 'JWE (RSA-OAEP, five segments)', join('.', b64u('{"alg":"RSA-OAEP","enc":"A256GCM"}'), map { b64u("seg$_") } 1 .. 4), $BAD ],
    [ 'JWE (dir, empty key segment)', join('.', b64u('{"alg":"dir","enc":"A128GCM"}'), '', b64u('iv0123456789'), b64u('ct'), b64u('tag0123456789012')), $BAD ],
    [ 'four segments', rs(), $BAD, { token_post => sub { "$_[0].QUFB" } } ],
    [ 'two segments', rs(), $BAD, { token_post => sub { substr($_[0], 0, rindex($_[0], '.')) } } ],
    [ 'six segments', rs(), $BAD, { token_post => sub { "$_[0].QUFB.QUFB.QUFB" } } ],
    [ 'JSON serialisation as the token', '{"payload":"x"}', $MALFORMED ],

    # --- numeric dates -----------------------------------------------------------------
    (map {
        my $claim = $_;
        ([ "$claim as a string", rsraw($claim => '"' . (time + 10) . '"'), $BAD ],
         [ "$claim true", rsraw($claim => 'true'), $BAD ],
         [ "$claim null", rsraw($claim => 'null'), $BAD ],
         [ "$claim as an array", rsraw($claim => '[' . (time + 10) . ']'), $BAD ],
         [ "$claim 1e300", rsraw($claim => '1e300'), $BAD ],
         [ "$claim -1", rsraw($claim => '-1'), $BAD ],
         [ "$claim as an object", rsraw($claim => '{"$date":1}'), $BAD ])
    } qw(exp nbf iat)),
    [ 'exp 1e400 (overflow)', rsraw(exp => '1e400'), $BAD ],
    [ 'control: exp with a fraction', rsraw(exp => (time + 600) . '.5'), $OK ],
    [ 'control: nbf and iat in the past', rs(nbf => time - 10, iat => time - 10), $OK ],

    # --- duplicate member names --------------------------------------------------------
    [ 'duplicate kid in the header', hraw('{"alg":"RS256","kid":"nope","kid":"rsa1"}'), $BAD ],
    [ 'duplicate typ in the header', hraw('{"alg":"RS256","kid":"rsa1","typ":"dpop+jwt","typ":"at+jwt"}'), $BAD ],
    [ 'duplicate exp in the payload', rsraw(-extra => '"exp":' . (time + 600)), $BAD ],
    [ 'duplicate sub in the payload', rsraw(-extra => '"sub":"root"'), $BAD ],
    [ 'duplicate aud in the payload', rsraw(-extra => '"aud":"urn:i3"'), $BAD ],
    [ 'duplicate iss spelled with an escape', rsraw(-extra => '"\u0069ss":"http://evil.example/"'), $BAD ],
    [ 'duplicate member in a nested object', rsraw(realm_access => '{"roles":["user"],"roles":["admin"]}'), $BAD ],

    # --- UTF-8 and JSON text -----------------------------------------------------------
    [ 'invalid UTF-8 byte in a claim', seg_spec(b64u($hdr_plain), b64u(praw(name => qq("a\xffb")))), $BAD ],
    [ 'overlong UTF-8 encoding', seg_spec(b64u($hdr_plain), b64u(praw(name => qq("\xc0\xaf")))), $BAD ],
    [ 'UTF-8 encoded surrogate', seg_spec(b64u($hdr_plain), b64u(praw(name => qq("\xed\xa0\x80")))), $BAD ],
    [ 'lone surrogate escape', rsraw(name => '"\ud800"'), $BAD ],
    [ 'NUL escape in sub', rsraw(sub => '"alice\u0000root"'), $BAD ],
    [ 'invalid UTF-8 in the header', seg_spec(b64u(qq({"alg":"RS256","kid":"rsa1","x":"\xfe"})), b64u(praw())), $BAD ],
    [ 'payload with a UTF-8 BOM', seg_spec(b64u($hdr_plain), b64u("\xef\xbb\xbf" . praw())), $BAD ],
    [ 'payload with trailing garbage', seg_spec(b64u($hdr_plain), b64u(praw() . 'x')), $BAD ],
    [ 'payload is an array', seg_spec(b64u($hdr_plain), b64u('[' . praw() . ']')), $BAD ],
    [ 'header is a string', seg_spec(b64u('"RS256"'), b64u(praw())), $BAD ],
    [ 'control: multibyte UTF-8 in a claim', seg_spec(b64u($hdr_plain), b64u(praw(name => qq("Zo\xc3\xab \xf0\x9f\x98\x80")))), $OK ],

    # --- size ----------------------------------------------------------------------------
    [ 'token of exactly 16384 characters', sized(16384), $OK,
      { checks => [ [ 'length', sub { length $_[2]{token} }, 16384 ] ] } ],
    [ 'token of 16385 characters', sized(16385), $BAD,
      { checks => [ [ 'length', sub { length $_[2]{token} }, 16385 ] ] } ],
    [ 'token of 40 KiB', rs(pad => 'p' x 30000), $BAD ],
    # (a query that long never reaches the module: LimitRequestLine)
    [ 'token of 17 KiB in the query: 414 from httpd', rs(pad => 'p' x 13000), { status => 414, no_challenge => 1 },
      { path => '/m-query?access_token=%T' } ],
    [ 'token of 7 KiB in the query is read', rs(pad => 'p' x 4500), $OK, { path => '/m-query?access_token=%T' } ],
    [ 'token of 17 KiB in a form body', rs(pad => 'p' x 13000), $BAD,
      { path => '/m-body', method => 'POST', body => 'access_token=%T', ctype => 'application/x-www-form-urlencoded' } ],

    # --- nesting -------------------------------------------------------------------------
    [ 'control: realm_access.roles (depth 3)', rs(realm_access => { roles => ['admin'] }), $OK ],
    [ 'control: nesting depth 16 (arrays)', rsraw(d => nested_arrays(14)), $OK ],
    [ 'nesting depth 17 (arrays)', rsraw(d => nested_arrays(15)), $BAD ],
    [ 'nesting depth 17 (objects)', rsraw(d => nested_objects(15)), $BAD ],
    [ 'nesting depth 1000', rsraw(d => nested_arrays(1000)), $BAD ],
    [ 'nesting depth 5000 (beyond the parser limit)', rsraw(d => nested_arrays(4000)), $BAD ],
    [ 'header nesting depth 17', hraw('{"alg":"RS256","kid":"rsa1","x":' . nested_arrays(15) . '}'), $BAD ],

    # --- typ -----------------------------------------------------------------------------
    [ 'control: typ absent', rs(), $OK ],
    [ 'control: typ at+jwt', S('rsa1', H('RS256', 'rsa1', typ => 'at+jwt')), $OK ],
    [ 'control: typ AT+JWT', S('rsa1', H('RS256', 'rsa1', typ => 'AT+JWT')), $OK ],
    [ 'control: typ application/at+jwt', S('rsa1', H('RS256', 'rsa1', typ => 'application/at+jwt')), $OK ],
    [ 'control: typ JWT', S('rsa1', H('RS256', 'rsa1', typ => 'JWT')), $OK ],
    [ 'control: typ jwt', S('rsa1', H('RS256', 'rsa1', typ => 'jwt')), $OK ],
    [ 'typ "at+jwt " (trailing space)', S('rsa1', H('RS256', 'rsa1', typ => 'at+jwt ')), $BAD ],
    [ 'typ empty', S('rsa1', H('RS256', 'rsa1', typ => '')), $BAD ],
    # RFC 7515 §4.1.9: "application/" may be omitted, so this is "JWT"
    [ 'control: typ application/jwt', S('rsa1', H('RS256', 'rsa1', typ => 'application/jwt')), $OK ],
    [ 'typ logout+jwt', S('rsa1', H('RS256', 'rsa1', typ => 'logout+jwt')), $BAD ],
    [ 'typ JOSE', S('rsa1', H('RS256', 'rsa1', typ => 'JOSE')), $BAD ],
    [ 'typ as a number', hraw('{"alg":"RS256","kid":"rsa1","typ":1}'), $BAD ],
    [ 'typ null', hraw('{"alg":"RS256","kid":"rsa1","typ":null}'), $BAD ],
    [ 'typ as an array', S('rsa1', H('RS256', 'rsa1', typ => ['at+jwt'])), $BAD ],
    [ 'h-typ: at+jwt', S('rsa1', H('RS256', 'rsa1', typ => 'at+jwt')), $OK, { path => '/h-typ' } ],
    [ 'h-typ: AT+JWT', S('rsa1', H('RS256', 'rsa1', typ => 'AT+JWT')), $OK, { path => '/h-typ' } ],
    [ 'h-typ: application/at+jwt (RFC 9068 §4)', S('rsa1', H('RS256', 'rsa1', typ => 'application/at+jwt')), $OK, { path => '/h-typ' } ],
    [ 'h-typ: JWT refused', S('rsa1', H('RS256', 'rsa1', typ => 'JWT')), $BAD, { path => '/h-typ' } ],
    [ 'h-typ: typ absent refused', rs(), $BAD, { path => '/h-typ' } ],
    [ 'h-typ: typ at+jwt; refused', S('rsa1', H('RS256', 'rsa1', typ => 'at+jwt;')), $BAD, { path => '/h-typ' } ],

    # --- JWK use / key_ops ----------------------------------------------------------------
    [ 'control: key_ops [verify]', S('rsa2', H('RS256', 'rsa2-ops-verify')), $OK ],
    [ 'key_ops [sign]', S('rsa2', H('RS256', 'rsa2-ops-sign')), $BAD ],
    [ 'key_ops [encrypt, wrapKey]', S('rsa2', H('RS256', 'rsa2-ops-enc')), $BAD ],
    [ 'key_ops []', S('rsa2', H('RS256', 'rsa2-ops-empty')), $BAD ],
    [ 'key_ops as a string', S('rsa2', H('RS256', 'rsa2-ops-string')), $BAD ],
    [ 'use enc', S('rsa2', H('RS256', 'rsa2-use-enc')), $BAD ],
    [ 'use sig with key_ops [encrypt]', S('rsa2', H('RS256', 'rsa2-use-sig-ops-enc')), $BAD ],
    [ 'control: rsa2 without kid finds the verify key', S('rsa2', H('RS256', undef)), $OK ],
);

sub to_case {
    my ($name, $tok, $exp, $x) = @_;
    return { name => $name, path => '/h', token => $tok, %$exp, %{ $x || {} } };
}
my @cases = map { to_case(@$_) } @table;

# --- kid-less tokens at /h-kl: verified against fitting keys, never a fetch ----------------
my @warm = (to_case('h-kl warm-up: token with kid', S('rsa1', H('RS256', 'kl-rsa')), $OK, { path => '/h-kl' }));
my @kidless = map { to_case(@$_[0 .. 2], { path => '/h-kl' }) } (
    [ 'kid-less RS256', S('rsa1', H('RS256', undef)), $OK ],
    [ 'kid-less PS384', S('rsa1', H('PS384', undef)), $OK ],
    [ 'kid-less ES256', S('p256', H('ES256', undef)), $OK ],
    [ 'kid-less, attacker key', evil(H('RS256', undef)), $BAD ],
    [ 'kid-less, key published only for encryption', S('rsa2', H('RS256', undef)), $BAD ],
    [ 'kid-less ES384, no P-384 key in the set', S('p384', H('ES384', undef)), $BAD ],
    [ 'kid-less ES512, no P-521 key in the set', S('p521', H('ES512', undef)), $BAD ],
    [ 'kid-less EdDSA', S('ed25519', H('EdDSA', undef)), $OK ],
    [ 'kid-less EdDSA, another Ed25519 key', S('ed25519b', H('EdDSA', undef)), $BAD ],
    [ 'kid-less RS256, bad signature', S('rsa1', H('RS256', undef)), $BAD ],
);
$kidless[-1]{token_post} = sub { my $t = shift; my $b = sig_bytes($t); substr($b, 10, 1) ^= "\x01"; with_sig($t, $b) };

$_->{checks} ||= [] for @cases, @warm, @kidless;
for my $c (@cases, @warm, @kidless) {
    push @{ $c->{checks} }, user_is($c->{token}{payload}{sub}) if $c->{status} == 200 && ref $c->{token} eq 'HASH' && $c->{token}{payload};
}

plan tests => cases_tests(\@cases) + cases_tests(\@warm) + cases_tests(\@kidless) + 9;

my $log_start = error_log_size();

write_state('i3kl.current', "jwks-i3-kidless.json\n");
write_state('i3kl.hits', '');
write_state('i3evil.current', "jwks-i3-attacker.json\n");
write_state('i3evil.hits', '');
sub hits { scalar(my @l = grep { length } read_lines($_[0])) }

# Controls: the counted fixtures count.
{
    my $res = http(GET => 'i3idp', '/cgi/jwks/i3evil');
    ok t_cmp($res->code . ' ' . hits('i3evil.hits'), '200 1', 'control: the attacker JWKS answers and counts a fetch');
    write_state('i3evil.hits', '');
}

run_cases(\@warm);
ok t_cmp(hits('i3kl.hits'), 1, 'h-kl: one JWKS fetch for the warm-up');
run_cases(\@kidless);
ok t_cmp(hits('i3kl.hits'), 1, 'h-kl: kid-less tokens caused no JWKS fetch');

run_cases(\@cases);
ok t_cmp(hits('i3evil.hits'), 0, 'the jku/x5u URL was never fetched');
ok t_cmp(http(GET => 'i3', '/h', headers => [ Authorization => 'Bearer ' . mint(%{ rs() }) ])->code, 200,
         'server still answers after the hostile tokens');

my $log = error_log_since($log_start);
ok t_cmp(join(' | ', $log =~ /^(.*(?:exit signal|AddressSanitizer|runtime error|Segmentation).*)$/mg), '',
         'no child crash or sanitizer report in the error log');
my @leaked = grep { index($log, sig_of($_)) >= 0 } all_tokens();
ok t_cmp(scalar @leaked, 0, 'no token signature in the error log');
my ($kid_line) = $log =~ /^(.*MCPAUTH0001: .*kid k{100}.*)$/m;
ok t_cmp(length($kid_line // '') > 0 && length($kid_line) < 600 && $kid_line =~ /kid k{128}\.\.\.\)/ ? 1 : 0, 1,
         'a 4 KiB kid is logged cut to 128 characters');
ok t_cmp(scalar(grep { $_->{status} != 200 } @cases, @kidless) >= 80 ? 1 : 0, 1, 'at least 80 hostile cases in this file');
