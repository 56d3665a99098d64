# DPoP (RFC 9449) at the resource, as a client sees it: the metadata and
# challenges that offer it, DPoP-bound tokens taken only with a proof of
# their key made for this request (table-driven), proofs single use across
# the server's processes, server nonces, CORS for browser clients, the
# counter of sender refusals. Config: t/conf/issue18.conf.in (vhost i18:
# /dpop allowed, /dpopreq required, /dpopoff off, /dpopnonce nonces and
# CORS, /dpopshort MCPAuthDPoPProofLifetime 5, /dpopfwd behind a proxy).
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test;
use Apache::TestUtil;
use HTTP::Request ();
use HTTP::Response ();
use JSON::PP ();
use LWP::UserAgent ();
use Digest::SHA ();
use MIME::Base64 ();
use POSIX ();
use MCPTest;
use MintToken;
use DPoPTest;

my $P   = port('i18');
my $IDP = port('i18idp');
my $J   = JSON::PP->new->canonical;
sub at { url('i18', shift) }

# What a 401 says in its challenges (see challenge_summary).
my $PROOF        = 'Bearer; DPoP invalid_dpop_proof';   # the proof refused
my $DPOP_TOKEN   = 'Bearer; DPoP invalid_token';        # the token, presented as DPoP
my $BEARER_TOKEN = 'Bearer invalid_token; DPoP';        # the token, presented as Bearer
# a proxy in front of /dpopfwd (MCPAuthTrustForwarded On) that the client reached
my @FORWARDED = ('X-Forwarded-Host' => 'mcp.example', 'X-Forwarded-Proto' => 'https');

# --- tokens -----------------------------------------------------------------------------
# client1's public JWK and RFC 7638 thumbprint, from a proof's header
my ($probe) = mint_many(proof_spec('x', at('/dpop')));
my $CLIENT1_JWK = $J->decode(MIME::Base64::decode_base64url((split /\./, $probe)[0]))->{jwk};
my $CLIENT1_JKT = b64u(Digest::SHA::sha256($J->encode({ map { $_ => $CLIENT1_JWK->{$_} } qw(crv kty x y) })));

my %tok;
@tok{qw(c1 c1b ed plain cnfjwk cnfboth x5t badsig)} = mint_many(
    token_spec(sub => 'alice', -bind => 'client1'),
    token_spec(sub => 'alice2', -bind => 'client1'),
    token_spec(sub => 'edna', -bind => 'ed25519'),
    token_spec(sub => 'bob'),
    token_spec(sub => 'carol', cnf => { jwk => $CLIENT1_JWK }),
    token_spec(sub => 'dave', cnf => { jkt => $CLIENT1_JKT, 'x5t#S256' => b64u('x' x 32) }),
    token_spec(sub => 'erin', cnf => { 'x5t#S256' => b64u('x' x 32) }),
    token_spec(sub => 'mallory', -bind => 'client1'),
);
$tok{badsig} =~ s/(.)$/$1 eq 'A' ? 'Q' : 'A'/e;
my %sub_of = (c1 => 'alice', ed => 'edna', plain => 'bob');

# --- the table ----------------------------------------------------------------------------
# [ name, token, proof overrides (HASH; ARRAY: one DPoP header each; CODE:
#   the header's text; undef: no DPoP header), status, for a 401 "CHALLENGES:
#   words of the error_description" (see challenge_summary), options: path
#   (default /dpop), method, scheme (default DPoP), suffix (after the token),
#   headers ]
my $now = time;
my @cases = (
    # accepted
    [ 'ES256 proof by the bound key', 'c1', {}, 200 ],
    [ 'EdDSA proof by the bound Ed25519 key', 'ed', { -key => 'ed25519' }, 200 ],
    [ 'POST with htm POST', 'c1', { htm => 'POST' }, 200, undef, method => 'POST' ],
    [ 'query in the request URL, htu without it', 'c1', {}, 200, undef, path => '/dpop?tool=x&y=1' ],
    [ 'htu host in upper case', 'c1', { htu => "http://LOCALHOST:$P/dpop" }, 200 ],
    [ 'htu scheme in upper case', 'c1', { htu => "HTTP://localhost:$P/dpop" }, 200 ],
    [ 'htu ~ for %7E in the request path', 'c1', { htu => "http://localhost:$P/dpop/~alice" }, 200, undef,
      path => '/dpop/%7Ealice' ],
    [ 'behind a proxy: htu its URL with the default port :443', 'c1', { htu => 'https://MCP.example:443/dpopfwd' },
      200, undef, path => '/dpopfwd', headers => \@FORWARDED ],
    [ 'behind a proxy: htu its URL', 'c1', { htu => 'https://mcp.example/dpopfwd' }, 200, undef,
      path => '/dpopfwd', headers => \@FORWARDED ],
    [ 'iat 30 s ahead (within MCPAuthClockSkew 60)', 'c1', { iat => $now + 30 }, 200 ],
    [ 'iat 90 s old (lifetime 60 + skew 60)', 'c1', { iat => $now - 90 }, 200 ],
    [ 'MCPAuthDPoPProofLifetime 5: a fresh proof', 'c1', {}, 200, undef, path => '/dpopshort' ],
    [ 'a bearer token where DPoP is allowed', 'plain', undef, 200, undef, scheme => 'Bearer' ],
    [ 'DPoP required: bound token with its proof', 'c1', {}, 200, undef, path => '/dpopreq' ],
    [ 'DPoP off: a bearer token', 'plain', undef, 200, undef, path => '/dpopoff', scheme => 'Bearer' ],

    # refused: the proof
    [ 'no DPoP header', 'c1', undef, 401, "$PROOF: proof missing" ],
    [ 'two DPoP headers', 'c1', [ {}, {} ], 401, "$PROOF: more than one DPoP proof" ],
    [ 'htm POST for a GET', 'c1', { htm => 'POST' }, 401, "$PROOF: htm does not match" ],
    [ 'htm get (methods are case-sensitive)', 'c1', { htm => 'get' }, 401, "$PROOF: htm does not match" ],
    [ 'htu another path', 'c1', { htu => at('/dpopreq') }, 401, "$PROOF: htu does not match" ],
    [ 'htu a sub-path of the request', 'c1', { htu => at('/dpop/x') }, 401, "$PROOF: htu does not match" ],
    [ 'htu another port', 'c1', { htu => "http://localhost:$IDP/dpop" }, 401, "$PROOF: htu does not match" ],
    [ 'htu another host (127.0.0.1)', 'c1', { htu => "http://127.0.0.1:$P/dpop" }, 401,
      "$PROOF: htu does not match" ],
    [ 'htu https', 'c1', { htu => "https://localhost:$P/dpop" }, 401, "$PROOF: htu does not match" ],
    [ 'htu :80 (not this port)', 'c1', { htu => 'http://localhost:80/dpop' }, 401, "$PROOF: htu does not match" ],
    [ 'no htu', 'c1', { htu => undef }, 401, "$PROOF: htu does not match" ],
    [ 'behind a proxy: htu the gateway\'s own URL', 'c1', { htu => at('/dpopfwd') }, 401,
      "$PROOF: htu does not match", path => '/dpopfwd', headers => \@FORWARDED ],
    [ 'iat 10 minutes old', 'c1', { iat => $now - 600 }, 401, "$PROOF: too old" ],
    [ 'iat 120 s ahead (beyond the 60 s skew)', 'c1', { iat => $now + 120 }, 401, "$PROOF: in the future" ],
    [ 'no iat', 'c1', { iat => undef }, 401, "$PROOF: iat missing" ],
    [ 'MCPAuthDPoPProofLifetime 5: iat 90 s old', 'c1', { iat => $now - 90 }, 401, "$PROOF: too old",
      path => '/dpopshort' ],
    [ 'ath of another token', 'c1', { ath => ath_of($tok{c1b}) }, 401, "$PROOF: ath does not match" ],
    [ 'no ath', 'c1', { ath => undef }, 401, "$PROOF: ath does not match" ],
    [ 'no jti', 'c1', { jti => undef }, 401, "$PROOF: jti missing" ],
    [ 'proof by client2 for a token bound to client1', 'c1', { -key => 'client2' }, 401,
      "$PROOF: not the key the token is bound to" ],
    [ 'jwk of client1, signed by client2', 'c1', { -key => 'client2', -jwk => 'client1' }, 401,
      "$PROOF: signature verification failed" ],
    [ 'jwk with the private key', 'c1', { -private => 1 }, 401, "$PROOF: private key" ],
    [ 'typ JWT', 'c1', { -typ => 'JWT' }, 401, "$PROOF: typ is not dpop+jwt" ],
    [ 'no typ', 'c1', { -typ => undef }, 401, "$PROOF: typ is not dpop+jwt" ],
    [ 'alg none with an ES256 signature', 'c1', { -alg => 'none', -sign_alg => 'ES256' }, 401,
      "$PROOF: algorithm not allowed" ],
    [ 'HS256 with the published oct key', 'c1', { -key => 'oct', -alg => 'HS256', -jwk => 'client1' }, 401,
      "$PROOF: algorithm not allowed" ],
    [ 'proof over 8 KiB', 'c1', { pad => 'x' x 9000 }, 401, "$PROOF: too large" ],
    [ 'the access token as its own proof', 'c1', sub { $tok{c1} }, 401, "$PROOF: typ is not dpop+jwt" ],

    # refused: the token
    [ 'bound token as Bearer (RFC 9449 §7.2)', 'c1', undef, 401, "$BEARER_TOKEN: presented as a bearer token",
      scheme => 'Bearer' ],
    [ 'bound token as Bearer, its proof beside it', 'c1', {}, 401, "$BEARER_TOKEN: presented as a bearer token",
      scheme => 'Bearer' ],
    [ 'unbound token as DPoP, with a good proof', 'plain', {}, 401, "$DPOP_TOKEN: not bound to a key" ],
    [ 'cnf.jwk (a confirmation not checked here)', 'cnfjwk', {}, 401, "$DPOP_TOKEN: cannot check" ],
    [ 'cnf.jwk as Bearer', 'cnfjwk', undef, 401, "$BEARER_TOKEN: cannot check", scheme => 'Bearer' ],
    [ 'cnf with both jkt and x5t#S256', 'cnfboth', {}, 401, "$DPOP_TOKEN: cannot check" ],
    [ 'cnf.x5t#S256 as DPoP', 'x5t', {}, 401, "$DPOP_TOKEN: not bound to a key" ],
    [ 'bad token signature, presented as DPoP', 'badsig', {}, 401, "$DPOP_TOKEN: signature verification failed" ],
    [ 'DPoP required: a bearer token', 'plain', undef, 401, 'DPoP invalid_token: DPoP-bound tokens only',
      path => '/dpopreq', scheme => 'Bearer' ],
    [ 'DPoP required: bound token as Bearer', 'c1', undef, 401, 'DPoP invalid_token: DPoP-bound tokens only',
      path => '/dpopreq', scheme => 'Bearer' ],
    [ 'DPoP off: "Authorization: DPoP" is no credential', 'c1', {}, 401, 'Bearer', path => '/dpopoff' ],

    # refused: the presentation (400), the error in the scheme the client used
    [ 'DPoP scheme, data after the token', 'c1', {}, 400,
      'Bearer; DPoP invalid_request: unexpected data after the token', suffix => ' x' ],
    [ 'DPoP scheme, a character outside b64token', 'c1', {}, 400,
      'Bearer; DPoP invalid_request: characters outside the b64token syntax', suffix => '%' ],
    [ 'DPoP scheme, two Authorization headers (joined with a comma)', 'c1', {}, 400,
      'Bearer; DPoP invalid_request: unexpected data after the token', suffix => ', DPoP x' ],
    [ 'Bearer scheme, data after the token', 'plain', undef, 400,
      'Bearer invalid_request; DPoP: unexpected data after the token', scheme => 'Bearer', suffix => ' x' ],
    [ 'DPoP off: bound token as Bearer', 'c1', undef, 401, 'Bearer invalid_token: presented as a bearer token',
      path => '/dpopoff', scheme => 'Bearer' ],
);

# Mint every proof in one node run; a case's proofs become DPoP header texts.
my @specs;
for my $c (@cases) {
    my ($token, $proof, %o) = ($c->[1], $c->[2], @$c[5 .. $#$c]);
    (my $path = $o{path} // '/dpop') =~ s/\?.*//s;
    push @specs, map { proof_spec($tok{$token}, at($path), %$_) } ref $proof eq 'HASH' ? $proof
                                                                 : ref $proof eq 'ARRAY' ? @$proof : ();
}
my @minted = mint_many(@specs);
for my $c (@cases) {
    my $proof = $c->[2];
    $c->[2] = ref $proof eq 'HASH' ? [ shift @minted ] : ref $proof eq 'ARRAY' ? [ splice @minted, 0, @$proof ]
            : ref $proof eq 'CODE' ? [ $proof->() ] : [];
}
die "minting mismatch\n" if @minted;

plan tests => 1 + 3 * @cases + 14 + 8 + 13 + 2 + 3;

# the thumbprint computed here is the cnf.jkt mint.mjs binds tokens to
ok t_cmp($J->decode(MIME::Base64::decode_base64url((split /\./, $tok{c1})[1]))->{cnf}{jkt}, $CLIENT1_JKT,
         'RFC 7638 thumbprint of client1: Perl and mint.mjs agree');

# One request of a client: Authorization "$scheme $token", one DPoP field per proof.
# A POST carries an MCP request.
sub send_with {
    my ($token, $proofs, %o) = @_;
    my $method = $o{method} // 'GET';
    my $r = HTTP::Request->new($method => at($o{path} // '/dpop'));
    $r->header(Authorization => ($o{scheme} // 'DPoP') . " $token" . ($o{suffix} // ''));
    $r->push_header(DPoP => $_) for @$proofs;
    my @headers = @{ $o{headers} || [] };
    $r->push_header(splice @headers, 0, 2) while @headers;
    if ($method eq 'POST') {
        $r->header('Content-Type' => 'application/json');
        $r->content('{"jsonrpc":"2.0","id":1,"method":"tools/list"}');
    }
    return LWP::UserAgent->new(max_redirect => 0, timeout => 30, keep_alive => 0)->request($r);
}

# What the client saw: the backend's answer (as whom, and whether a
# credential reached it), or the challenges.
sub seen {
    my $res = shift;
    my $echo = echo_of($res);
    return challenge_summary($res) unless $echo;
    my $h = $echo->{headers};
    return sprintf 'backend as %s; Authorization %s, DPoP %s', $h->{'x-remote-user'} // '(nobody)',
                   exists $h->{authorization} ? 'forwarded' : 'removed', exists $h->{dpop} ? 'forwarded' : 'removed';
}

# --- protected resource metadata ---------------------------------------------------------------
{
    my %prm = map { $_ => $J->decode(req(GET => 'i18', "/.well-known/oauth-protected-resource$_")->content) }
              qw(/dpop /dpopreq /dpopoff);
    my $listed = $prm{'/dpop'}{dpop_signing_alg_values_supported};
    ok t_cmp(ref $listed, 'ARRAY', '/dpop metadata: dpop_signing_alg_values_supported is a list');
    my %algs = map { $_ => 1 } @{ $listed || [] };
    yes $algs{ES256} && $algs{EdDSA}, '/dpop metadata: ES256 and EdDSA among the proof algs';
    ok t_cmp(join(' ', grep { /^(HS|none)/i } sort keys %algs), '', '/dpop metadata: no HS* and no none');
    ok t_cmp($J->encode($prm{'/dpop'}{dpop_bound_access_tokens_required}), 'false',
             '/dpop metadata: dpop_bound_access_tokens_required false');
    ok t_cmp($J->encode($prm{'/dpopreq'}{dpop_bound_access_tokens_required}), 'true',
             '/dpopreq metadata: dpop_bound_access_tokens_required true');
    ok t_cmp($J->encode($prm{'/dpopreq'}{dpop_signing_alg_values_supported}), $J->encode($listed),
             '/dpopreq metadata: the same proof algs');
    ok t_cmp($J->encode($prm{'/dpopreq'}{bearer_methods_supported}) . ' ' . $J->encode($prm{'/dpop'}{bearer_methods_supported}),
             '[] ["header"]', '/dpopreq metadata: no bearer method (RFC 9728 §2: []); /dpop: the header');
    yes !exists $prm{'/dpopoff'}{dpop_signing_alg_values_supported}, '/dpopoff metadata: no proof algs';
    yes !exists $prm{'/dpopoff'}{dpop_bound_access_tokens_required},
        '/dpopoff metadata: no dpop_bound_access_tokens_required';
    ok t_cmp($prm{'/dpopoff'}{resource}, at('/dpopoff'), '/dpopoff metadata: still the resource');

    # challenges without a token (RFC 9449 §7.1): Bearer first, DPoP with the algs
    my $ALGS = join ' ', @{ $listed || [] };
    my @c = challenge_list(req(GET => 'i18', '/dpop'));
    ok t_cmp(join(' ', map { $_->[0] } @c), 'Bearer DPoP', '/dpop without a token: a Bearer, then a DPoP challenge');
    ok t_cmp($J->encode($c[1] && $c[1][1]),
             $J->encode({ resource_metadata => at('/.well-known/oauth-protected-resource/dpop'), algs => $ALGS }),
             '/dpop without a token: DPoP resource_metadata and algs (those of the metadata), no error');
    ok t_cmp(challenge_summary(req(GET => 'i18', '/dpopreq')), 'DPoP',
             '/dpopreq without a token: a DPoP challenge only');
    ok t_cmp(challenge_summary(req(GET => 'i18', '/dpopoff')), 'Bearer',
             '/dpopoff without a token: a Bearer challenge only');
}

# --- the table, run -------------------------------------------------------------------------
for my $c (@cases) {
    my ($name, $token, $proofs, $status, $challenges, %o) = @$c;
    my $hits = echo_hits();
    my $res = send_with($tok{$token}, $proofs, %o);
    ok t_cmp($res->code, $status, "$name: status");
    if ($status == 200) {
        ok t_cmp(seen($res), "backend as $sub_of{$token}; Authorization removed, DPoP removed",
                 "$name: the backend sees the user, and neither Authorization nor DPoP");
        ok t_cmp(echo_hits(), $hits + 1, "$name: backend reached once");
    }
    else {
        my ($want, $why) = split /: /, $challenges, 2;
        my ($desc) = map { $_->[1]{error_description} // () } challenge_list($res);
        ok t_cmp(join(': ', seen($res), $desc // ()), defined $why ? qr/^\Q$want\E: .*\Q$why\E/ : $want,
                 "$name: challenges");
        ok t_cmp(echo_hits(), $hits, "$name: backend not reached");
    }
}

# --- replay ----------------------------------------------------------------------------------
{
    my ($proof, $proof2) = mint_many(proof_spec($tok{c1}, at('/dpop')),
                                     proof_spec($tok{c1}, at('/dpop'), htm => 'POST'));
    ok t_cmp(send_with($tok{c1}, [$proof])->code, 200, 'a proof: accepted once');
    my $res = send_with($tok{c1}, [$proof]);
    ok t_cmp($res->code . ' ' . challenge_summary($res), "401 $PROOF", 'the same proof again: replay refused');
    # a proof refused for another reason (here: htm) is not spent
    $res = send_with($tok{c1}, [$proof2]);
    ok t_cmp($res->code, 401, 'a POST proof on a GET: refused');
    ok t_cmp(send_with($tok{c1}, [$proof2], method => 'POST')->code, 200,
             'the same proof on the POST it was made for: accepted');

    # two clients that happen to pick the same jti do not spend each other's proofs
    my $jti = "shared-$$-" . time;
    my ($tok2) = mint_many(token_spec(sub => 'zoe', -bind => 'client2'));
    my ($p1, $p2) = mint_many(proof_spec($tok{c1}, at('/dpop'), jti => $jti),
                              proof_spec($tok2, at('/dpop'), jti => $jti, -key => 'client2'));
    ok t_cmp(send_with($tok{c1}, [$p1])->code, 200, "client1's proof with jti $jti: accepted");
    ok t_cmp(send_with($tok2, [$p2])->code, 200, "client2's proof with the same jti: accepted");

    # the same proof from many processes at once: exactly one gets through
    my $N = 12;
    my ($fresh) = mint_many(proof_spec($tok{c1}, at('/dpop')));
    my $hits = echo_hits();
    my $mark = error_log_size();
    my @codes = parallel($N, sub { send_with($tok{c1}, [$fresh]) });
    my %n;
    $n{$_}++ for @codes;
    ok t_cmp(join(', ', map { "$n{$_} x $_" } sort keys %n), sprintf('1 x 200, %d x 401 %s', $N - 1, $PROOF),
             "one proof sent by $N clients at once: one accepted, the others refused as replayed");
    ok t_cmp(echo_hits(), $hits + 1, 'the backend reached once');
    my %pids = map { $_ => 1 } error_log_since($mark, qr/(?:[\s\S]*?DPoP proof replayed){@{[ $N - 1 ]}}/, 10)
                                =~ /\[pid (\d+)[^\n]*DPoP proof replayed/g;
    t_debug('replays refused by ' . scalar(keys %pids) . ' process(es): ' . join(' ', sort keys %pids));
}

# Anonymous requests write to the shared cache (introspected tokens, their
# in-flight markers): a flood of them must not push out the record of a
# used proof, or the proof would pass again.
{
    my ($proof) = mint_many(proof_spec($tok{c1}, at('/dpop')));
    ok t_cmp(send_with($tok{c1}, [$proof])->code, 200, 'flood: a proof used once');
    my ($clients, $each) = (8, 400);
    my @seen = parallel($clients, sub {
        my $ua = LWP::UserAgent->new(timeout => 30);
        my %n;
        for (1 .. $each) {
            my $random = join '', map { sprintf '%04x', int rand 65536 } 1 .. 8;
            $n{ $ua->get(at('/introflood'), Authorization => "Bearer $random")->code }++;
        }
        # parallel() reports a response's code: 200 when every token was
        # introspected and refused
        HTTP::Response->new(join(',', keys %n) eq '401' ? 200 : 500);
    });
    ok t_cmp(join(' ', @seen), join(' ', ('200') x $clients), "flood: every random token introspected and refused (401)");
    ok t_cmp(send_with($tok{c1}, [$proof])->code . ' ' . challenge_summary(send_with($tok{c1}, [$proof])),
             qr/^401 /, "after @{[ $clients * $each ]} anonymous introspected tokens: the used proof is still refused");
}

# $n clients, each in its own process, send $make->() at the same moment;
# returns what each saw: "CODE" or "CODE CHALLENGES".
sub parallel {
    my ($n, $make) = @_;
    pipe(my $gate_r, my $gate_w) or die "pipe: $!";
    my @kids;
    for my $i (1 .. $n) {
        pipe(my $from, my $to) or die "pipe: $!";
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            close $gate_w;
            close $from;
            my $line = eval {
                <$gate_r>;   # the parent closes the gate: every client goes
                my $res = $make->();
                $res->code == 200 ? '200' : $res->code . ' ' . challenge_summary($res);
            } // "client error: $@";
            print $to "$line\n";
            close $to;
            POSIX::_exit(0);
        }
        close $to;
        push @kids, [ $pid, $from ];
    }
    close $gate_r;
    close $gate_w;
    my @seen;
    for my $k (@kids) {
        my $fh = $k->[1];
        my $line = <$fh> // "client died\n";
        chomp $line;
        push @seen, $line;
        waitpid $k->[0], 0;
    }
    return @seen;
}

# --- nonces (RFC 9449 §8) --------------------------------------------------------------------
{
    my $u = at('/dpopnonce');
    my ($first, $made_up) = mint_many(proof_spec($tok{c1}, $u), proof_spec($tok{c1}, $u, nonce => 'bm90LWEtbm9uY2U'));
    my $res = send_with($tok{c1}, [$first], path => '/dpopnonce');
    ok t_cmp($res->code . ' ' . challenge_summary($res), '401 Bearer; DPoP use_dpop_nonce',
             'a proof without a nonce: 401 use_dpop_nonce in the DPoP challenge');
    my $nonce = $res->header('DPoP-Nonce') // '';
    ok t_cmp($nonce, qr/^[A-Za-z0-9_.~+\/=-]{16,}$/, 'with a DPoP-Nonce header');
    ok t_cmp(send_with($tok{c1}, [$first], path => '/dpopnonce')->code, 401,
             'the same proof again: still 401 (it was never accepted)');

    my ($with, $again) = mint_many(map { proof_spec($tok{c1}, $u, nonce => $nonce) } 1 .. 2);
    ok t_cmp(send_with($tok{c1}, [$with], path => '/dpopnonce')->code, 200, 'a new proof with that nonce: 200');
    ok t_cmp(send_with($tok{c1}, [$again], path => '/dpopnonce')->code, 200, 'another new proof with the same nonce: 200');
    $res = send_with($tok{c1}, [$with], path => '/dpopnonce');
    ok t_cmp($res->code . ' ' . challenge_summary($res), "401 $PROOF", 'the accepted proof replayed: invalid_dpop_proof');

    $res = send_with($tok{c1}, [$made_up], path => '/dpopnonce');
    ok t_cmp($res->code . ' ' . challenge_summary($res), '401 Bearer; DPoP use_dpop_nonce',
             'a made-up nonce: use_dpop_nonce');
    my ($retry) = mint_many(proof_spec($tok{c1}, $u, nonce => $res->header('DPoP-Nonce') // ''));
    ok t_cmp(send_with($tok{c1}, [$retry], path => '/dpopnonce')->code, 200,
             'a new proof with the DPoP-Nonce of that answer: 200');

    # a nonce of /dpopnonce where no nonce is asked for: ignored
    my ($elsewhere) = mint_many(proof_spec($tok{c1}, at('/dpop'), nonce => $nonce));
    ok t_cmp(send_with($tok{c1}, [$elsewhere])->code, 200, '/dpop: a proof with a nonce is fine where none is asked for');

    # CORS (MCPAuthCORSOrigins https://app.example): a browser client can send DPoP and read DPoP-Nonce
    my ($cors) = mint_many(proof_spec($tok{c1}, $u));
    $res = send_with($tok{c1}, [$cors], path => '/dpopnonce', headers => [ Origin => 'https://app.example' ]);
    ok t_cmp($res->code . ' ' . ($res->header('Access-Control-Allow-Origin') // 'no origin allowed'), '401 https://app.example',
             'CORS: the use_dpop_nonce answer allows the origin');
    my %exposed = map { lc $_ => 1 } split /\s*,\s*/, $res->header('Access-Control-Expose-Headers') // '';
    yes $exposed{'dpop-nonce'} && $exposed{'www-authenticate'}, 'CORS: WWW-Authenticate and DPoP-Nonce exposed';
    $res = req(OPTIONS => 'i18', '/dpopnonce', Origin => 'https://app.example',
               'Access-Control-Request-Method' => 'POST', 'Access-Control-Request-Headers' => 'authorization, content-type, dpop');
    my %allowed = map { lc $_ => 1 } split /\s*,\s*/, $res->header('Access-Control-Allow-Headers') // '';
    ok t_cmp($res->code, 204, 'CORS preflight: 204');
    yes $allowed{dpop} && $allowed{authorization}, 'CORS preflight: Authorization and DPoP allowed';
}

# --- counters (the status page of vhost i4: counters are the server's) --------------------------
sub tokens_count { my $d = eval { $J->decode(req(GET => 'i4', '/mcp-auth-status')->content) }; ($d && $d->{tokens}) || {} }
{
    my $before = tokens_count();
    my $res = send_with($tok{c1}, [], scheme => 'Bearer');
    my $after = tokens_count();
    ok t_cmp(($after->{rejected}{sender} // -1) - ($before->{rejected}{sender} // 0), 1,
             'status: a bound token as Bearer counts as a sender refusal');
    ok t_cmp(($after->{accepted} // -1) - ($before->{accepted} // 0), 0, 'status: and not as accepted');
}

