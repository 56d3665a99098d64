package DPoPTest;
# Sender-constrained tokens for t/32-dpop.t and t/33-mtls.t: access tokens
# of the issue 18 locations (t/conf/issue18.conf.in), DPoP proofs (RFC 9449
# §4.2) as a client makes them, certificate thumbprints (RFC 8705 §3.1),
# and the challenges of a 401 read scheme by scheme.
#
#   my ($tok) = mint_many(token_spec(sub => 'alice', -bind => 'client1'));
#   my ($proof) = mint_many(proof_spec($tok, 'http://localhost:PORT/dpop', htm => 'POST'));
use strict;
use warnings;

use Exporter 'import';
use Digest::SHA ();
use JSON::PP ();
use MIME::Base64 ();
use MCPTest;
use MintToken;

our @EXPORT = qw(b64u ath_of token_spec proof_spec cert_thumbprint challenge_list challenge_summary);

sub b64u { MIME::Base64::encode_base64url($_[0]) }

# RFC 9449 §4.2: ath is the base64url SHA-256 of the access token.
sub ath_of { b64u(Digest::SHA::sha256($_[0])) }

# An access token of the issue 18 locations (RS256, rsa1, aud urn:i18).
# Claims by name (undef drops one); -bind => NAME binds it to NAME's proof
# key (cnf.jkt, mint.mjs computes the thumbprint).
sub token_spec {
    my (%o) = @_;
    my $bind = delete $o{-bind};
    return { key => 'rsa1', header => { alg => 'RS256', kid => 'rsa1', typ => 'at+jwt' },
             payload => MintToken::claims(-iss => 'http://localhost:' . port('i18idp') . '/realms/test',
                                          -aud => 'urn:i18', %o),
             ($bind ? (cnf_jkt_of => $bind) : ()) };
}

my $seq = 0;

# The proof a client makes with client1's key for GET $htu and $token, now
# (a fresh jti each time). Overrides: claims by name (undef drops one);
# -key the signing key (default client1; 'oct' with HS*), -alg (default
# ES256, EdDSA for ed25519), -sign_alg the algorithm it is signed with when
# not -alg, -typ (undef drops it),
# -jwk whose public key the header carries (default the signing key's),
# -private: the signing key's private JWK in the header instead.
sub proof_spec {
    my ($token, $htu, %o) = @_;
    my $key = delete $o{-key} // 'client1';
    my %header = (typ => 'dpop+jwt', alg => delete $o{-alg} // ($key eq 'ed25519' ? 'EdDSA' : 'ES256'));
    if (exists $o{-typ}) {
        my $typ = delete $o{-typ};
        if (defined $typ) { $header{typ} = $typ } else { delete $header{typ} }
    }
    my $jwk = exists $o{-jwk} ? delete $o{-jwk} : $key;
    my $private = delete $o{-private};
    my $sign_alg = delete $o{-sign_alg};
    my %claims = (jti => sprintf('proof-%d-%d-%d', $$, time, ++$seq), htm => 'GET', htu => $htu,
                  iat => time, ath => ath_of($token));
    while (my ($k, $v) = each %o) {
        if (defined $v) { $claims{$k} = $v } else { delete $claims{$k} }
    }
    return { key => $key, header => \%header, payload => \%claims, ($sign_alg ? (sign_alg => $sign_alg) : ()),
             ($private ? (jwk_private_of => $key) : (jwk_of => $jwk)) };
}

# RFC 8705 §3.1: base64url SHA-256 of the DER of the certificate in a PEM file.
sub cert_thumbprint {
    my $file = shift;
    open my $fh, '<', $file or die "$file: $!";
    my $pem = do { local $/; <$fh> };
    my ($body) = $pem =~ /-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----/s
        or die "$file: no certificate\n";
    return b64u(Digest::SHA::sha256(MIME::Base64::decode_base64($body)));
}

# Every challenge of a response's WWW-Authenticate fields, in order:
# [ scheme, { param => value } ] (RFC 9110 §11.6.1, quoted values only).
sub challenge_list {
    my $res = shift;
    my @out;
    for my $h (challenges($res)) {
        while ($h =~ /\G\s*,?\s*([A-Za-z][\w-]*)(?=\s|$)/gc) {
            push @out, [ $1, {} ];
            while ($h =~ /\G\s*,?\s*([A-Za-z_]+)="((?:[^"\\]|\\.)*)"/gc) {
                $out[-1][1]{$1} = $2;
            }
        }
    }
    return @out;
}

# The challenges in brief: "Bearer; DPoP invalid_dpop_proof" (each scheme,
# with its error if it has one).
sub challenge_summary {
    my $res = shift;
    my $text = join '; ', map { join ' ', $_->[0], $_->[1]{error} // () } challenge_list($res);
    return length $text ? $text : 'no challenge';
}

1;
