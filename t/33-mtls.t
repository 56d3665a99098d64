# Certificate-bound access tokens (RFC 8705 §3) as a client sees them: a
# token whose cnf.x5t#S256 names a certificate is taken only over TLS with
# that certificate, verified by the server; unbound tokens do not need one;
# DPoP over TLS is unaffected by the certificate. Config: t/conf/issue18.conf.in
# (https vhost tls18, SSLVerifyClient optional, /mtls; the test CA, client1,
# client2 and rogue, a certificate of its own making, from t/TEST.PL).
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test;
use Apache::TestUtil;
use HTTP::Request ();
use LWP::UserAgent ();
use MCPTest;
use MintToken;
use DPoPTest;

my $TLS = fixtures_dir() . '/tls18';
my $MTLS = 'https://localhost:' . port('tls18') . '/mtls';
# a location that asks for the certificate itself (SSLVerifyClient in <Location>)
my $RENEG = 'https://localhost:' . port('tls18r') . '/mtls';
my %x5t = map { $_ => cert_thumbprint("$TLS/$_.pem") } qw(client1 client2 rogue);

my %tok;
@tok{qw(c1 c2 rogue plain jkt)} = mint_many(
    token_spec(sub => 'alice', cnf => { 'x5t#S256' => $x5t{client1} }),
    token_spec(sub => 'bert', cnf => { 'x5t#S256' => $x5t{client2} }),
    token_spec(sub => 'rick', cnf => { 'x5t#S256' => $x5t{rogue} }),
    token_spec(sub => 'bob'),
    token_spec(sub => 'dana', -bind => 'client1'),
);
my ($proof, $http_proof, $proof_x5t) = mint_many(proof_spec($tok{jkt}, $MTLS),
                                                 proof_spec($tok{jkt}, $MTLS =~ s/^https/http/r),
                                                 proof_spec($tok{c1}, $MTLS));

my $INVALID = 'Bearer invalid_token; DPoP';
# mod_ssl ends the handshake of a certificate it cannot verify (TLS 1.3: the
# client learns it on its first read); a server that let it through must
# not count it as verified
my $TLS_OR_401 = qr/^(TLS refused \(AH02039 self-signed certificate\)$|401 \Q$INVALID\E: .*none was verified)/;

# [ name, client certificate (undef: none), token, expected: "backend as SUB",
#   "401 CHALLENGES: words of the error_description", or a pattern;
#   options: url (default /mtls on tls18), scheme (default Bearer), proof ]
my @cases = (
    [ 'token bound to client1, client1\'s certificate', 'client1', 'c1', 'backend as alice' ],
    [ 'token bound to client2, client2\'s certificate', 'client2', 'c2', 'backend as bert' ],
    [ 'unbound token, client1\'s certificate', 'client1', 'plain', 'backend as bob' ],
    [ 'unbound token, no certificate', undef, 'plain', 'backend as bob' ],
    [ 'DPoP over TLS: key-bound token with its proof', 'client1', 'jkt', 'backend as dana',
      scheme => 'DPoP', proof => $proof ],

    [ 'token bound to client1, client2\'s certificate', 'client2', 'c1', "401 $INVALID: another client certificate" ],
    [ 'token bound to client1, no certificate', undef, 'c1', "401 $INVALID: none was verified" ],
    [ 'token bound to client1, the rogue certificate (CN=client1, not from the CA)', 'rogue', 'c1', $TLS_OR_401 ],
    [ 'token bound to the rogue certificate, that certificate', 'rogue', 'rogue', $TLS_OR_401 ],
    [ 'token bound to client1, over plain http', undef, 'c1', "401 $INVALID: without TLS", url => url('i18', '/dpop') ],
    [ 'token bound to client1, presented as DPoP with a proof', 'client1', 'c1',
      "401 Bearer; DPoP invalid_token: not bound to a key", scheme => 'DPoP', proof => $proof_x5t ],
    [ 'DPoP over TLS: key-bound token as Bearer, client1\'s certificate', 'client1', 'jkt',
      "401 $INVALID: presented as a bearer token" ],
    [ 'DPoP over TLS: proof for http:// instead of https://', 'client1', 'jkt',
      '401 Bearer; DPoP invalid_dpop_proof: htu does not match', scheme => 'DPoP', proof => $http_proof ],
    # mod_ssl renegotiates for the location's SSLVerifyClient before the token is judged
    [ 'certificate asked for by the location: token bound to client1, client1\'s certificate', 'client1', 'c1',
      'backend as alice', url => $RENEG, tls12 => 1 ],
    [ 'certificate asked for by the location: token bound to client1, client2\'s certificate', 'client2', 'c1',
      "401 $INVALID: another client certificate", url => $RENEG, tls12 => 1 ],
);

plan tests => 3 + 2 * @cases;

# the thumbprint computed here is openssl's SHA-256 fingerprint of the certificate
my ($fingerprint) = `openssl x509 -noout -fingerprint -sha256 -in $TLS/client1.pem` =~ /=([0-9A-F:]+)/;
ok t_cmp($x5t{client1}, b64u(pack 'H*', ($fingerprint // '') =~ tr/://dr), 'x5t#S256 of client1: openssl agrees');
yes $x5t{client1} ne $x5t{client2} && $x5t{client1} ne $x5t{rogue}, 'each certificate its own thumbprint';

# A client over TLS that trusts the test CA, with $cert's certificate.
sub client {
    my ($cert, $tls12) = @_;
    my %mine = $cert ? (SSL_cert_file => "$TLS/$cert.pem", SSL_key_file => "$TLS/$cert.key") : ();
    # renegotiation is TLS 1.2's way to ask for a certificate mid-connection
    $mine{SSL_version} = 'TLSv1_2' if $tls12;
    return LWP::UserAgent->new(max_redirect => 0, timeout => 30, keep_alive => 0,
                               ssl_opts => { SSL_ca_file => "$TLS/ca.pem", verify_hostname => 1, %mine });
}

# What the client saw: the backend as whom, a refusal with its challenges
# and reason, or a handshake the server ended, with mod_ssl's reason
# (logged after error log offset $mark).
sub seen {
    my ($res, $mark) = @_;
    if (my $echo = echo_of($res)) {
        my $h = $echo->{headers};
        return 'backend as ' . ($h->{'x-remote-user'} // '(nobody)')
             . (exists $h->{authorization} || exists $h->{dpop} ? ' (a credential forwarded)' : '');
    }
    if ($res->code == 500 && ($res->header('Client-Warning') // '') eq 'Internal response'
        && $res->message =~ /closed connection|SSL|alert|certificate/i) {
        my ($why) = error_log_since($mark, qr/AH02039/) =~ /AH02039: Certificate Verification: Error \(\d+\): ([^\n]*)/;
        return 'TLS refused (AH02039 ' . ($why // 'not logged') . ')';
    }
    my ($desc) = map { $_->[1]{error_description} // () } challenge_list($res);
    return join ': ', $res->code . ' ' . challenge_summary($res), $desc // ();
}

ok t_cmp(seen(client('client1')->get($MTLS), error_log_size()), '401 Bearer; DPoP',
         'client1 without a token: 401, the challenges');

for my $c (@cases) {
    my ($name, $cert, $token, $want, %o) = @$c;
    my $hits = echo_hits();
    my $r = HTTP::Request->new(GET => $o{url} // $MTLS);
    $r->header(Authorization => ($o{scheme} // 'Bearer') . " $tok{$token}");
    $r->header(DPoP => $o{proof}) if $o{proof};
    my $mark = error_log_size();
    my $seen = seen(client($cert, $o{tls12})->request($r), $mark);
    my $reached = !ref $want && $want =~ /^backend/;
    ok t_cmp($seen, ref $want ? $want : $want =~ /^401 (.*?): (.*)$/s ? qr/^401 \Q$1\E: .*\Q$2\E/ : $want, $name);
    ok t_cmp(echo_hits(), $hits + $reached, "$name: backend reached " . ($reached ? 'once' : 'never'));
}
