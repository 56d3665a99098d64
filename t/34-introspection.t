# Opaque tokens by introspection (RFC 7662), as a client and an administrator
# see them: the fixture endpoint t/cgi-bin/introspect answers per realm from
# a table of tokens this test writes, logs every question it is asked, and
# can be made slow, failing, or strict about the gateway's client. Config:
# t/conf/issue18i.conf.in (vhost i18i, audience urn:i18i; endpoints on
# i18iidp); the client secret and keys come from t/TEST.PL (fixtures/i18i).
#
#  a. an active token reaches the backend with the introspected identity;
#     Require user, mcp-scope and mcp-claim judge introspected claims
#  b. the claims of an answer get a JWT's checks (iss defaulted, aud, exp,
#     nbf, iat, sub; sender binding); each answer asked once
#  c. the shared cache: one question per token, refusals kept briefly, small
#     MCPAuthIntrospectionCache periods ask again after them, 0 asks always
#  d. single flight: parallel requests with one new token, one question
#  e. an endpoint that does not answer, or not properly: 503 with
#     Retry-After and a JSON body, MCPAUTH0065 in the error log, never 200
#  f. the gateway's client: client_secret_basic, private_key_jwt (RS256 with
#     a kid, ES256, EdDSA), a wrong secret or key refused by the endpoint
#  g. MCPAuthTokenFormat auto, jwt, opaque; MCPAuthIntrospection discovery
#  h. no token in the error log (LogLevel debug) or in the shared cache
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test;
use Apache::TestUtil;
use JSON::PP ();
use MIME::Base64 ();
use Time::HiRes qw(time sleep);
use MCPTest;
use MintToken;
use CacheTest qw(concurrent summarize shared_memory_holding);

my $J   = JSON::PP->new->canonical;
my $AUD = 'urn:i18i';
my $FIX = fixtures_dir();
my $SECRET = "p\@ss:w/rd+&=x%";           # fixtures/i18i/secret.txt (t/TEST.PL)

# --- helpers ---------------------------------------------------------------------

sub iss_of { url('i18iidp', "/realms/$_[0]") }

# What realm R's endpoint does (see t/cgi-bin/introspect).
sub realm { my ($realm, %c) = @_; write_state("intro-$realm.json", $J->encode(\%c)) }

# The endpoints' table of tokens and their answers.
my %TABLE;
sub answer { my ($token, $doc) = @_; $TABLE{$token} = $doc; write_state('intro-tokens.json', $J->encode(\%TABLE)) }

# A new opaque token: random, one dot (never three segments), and '+', '/'
# and '=' that its form encoding must keep apart.
my $n = 0;
sub opaque { sprintf('op.%s-%d+%04x%08x/%d==', $_[0] // 't', $$, ++$n, int(rand(2**32)), $n) }

# An active answer (RFC 7662 §2.2) the i18i locations accept, with overrides;
# undef removes a member, $NULL makes it JSON null.
my $NULL = \'null';
sub active {
    my %o = @_;
    my $now = time;
    my %c = (active => JSON::PP::true, sub => 'intro-alice', aud => $AUD, exp => int($now) + 600, iat => int($now),
             scope => 'openid mcp:tools', email => 'alice@example.test', groups => [ 'eng' ],
             client_id => 'mcp-client', token_type => 'Bearer');
    while (my ($k, $v) = each %o) {
        if (!defined $v) { delete $c{$k} }
        elsif (ref $v && $v == $NULL) { $c{$k} = undef }
        else { $c{$k} = $v }
    }
    return \%c;
}
my $INACTIVE = { active => JSON::PP::false };

sub bearer { my ($path, $token, @h) = @_; req(GET => 'i18i', $path, Authorization => "Bearer $token", @h) }

# The questions realm R was asked (JSON lines), those about $token.
sub hits  { map { $J->decode($_) } grep { /\S/ } read_lines("intro-$_[0].hits") }
sub asked { my ($realm, $token) = @_; scalar grep { !defined $token || ($_->{token} // '') eq $token } hits($realm) }
sub asks_of { my ($realm, $token) = @_; grep { ($_->{token} // '') eq $token } hits($realm) }
sub last_request { my $t = join '', read_lines("intro-$_[0]-last.json"); $t ? $J->decode($t) : {} }

# What a client sees: "200 USER" (the echo backend, X-Remote-User or
# "backend"), else the status and the OAuth error (challenge, else JSON body).
sub outcome {
    my $res = shift;
    if (my $e = echo_of($res)) {
        return $res->code . ' ' . ($e->{headers}{'x-remote-user'} // 'backend');
    }
    my $c = challenge($res);
    my $d = eval { $J->decode($res->decoded_content) };
    return $res->code . ' ' . (($c && $c->{error}) || (ref $d eq 'HASH' && $d->{error}) || '-');
}

# Polls $cond every 0.1 s until it holds or $seconds pass; its last value.
sub poll {
    my ($seconds, $cond) = @_;
    my $until = time + $seconds;
    while (1) {
        my $v = $cond->();
        return $v if $v || time >= $until;
        sleep 0.1;
    }
}

# A refusal because the endpoint did not answer properly: what the client
# and the administrator see (4 tests).
sub unavailable_ok {
    my ($name, $res, $log_from, $log_re) = @_;
    ok t_cmp(outcome($res), '503 temporarily_unavailable', "$name: 503 temporarily_unavailable");
    ok t_cmp($res->header('Retry-After') // '(none)', qr/^[1-9]\d*$/, "$name: Retry-After");
    ok t_cmp($res->header('Content-Type') // '(none)', qr{^application/json}, "$name: a JSON body");
    ok t_cmp(error_log_since($log_from, $log_re, 5), $log_re, "$name: the error log says why (MCPAUTH0065)");
}

my @ALL_TOKENS;     # every opaque token sent: none may reach the error log or the cache
sub opaque_token { my $t = opaque(@_); push @ALL_TOKENS, $t; $t }

my $log_start = error_log_size();

# the realms' switches and demands
realm($_) for qw(main disco short nocache);
realm('noint', metadata_without_introspection => 1);
realm('flight', mode => 'slow 2');
realm('slow', mode => 'slow 8');
realm('b500', mode => 'status 500');
realm('b400', mode => 'status 400');
realm('b400c', mode => 'status 400 invalid_client');
realm('bhtml', mode => 'html');
realm('bstr', mode => 'active-string');
realm('basic', basic => "gw-intro.basic:$SECRET");
realm('rsa', jwt => { client => 'gw-rsa', alg => 'RS256', kid => 'k-rsa', pub => "$FIX/i18i/rsa.pub.pem" });
realm('ec', jwt => { client => 'gw-ec', alg => 'ES256', pub => "$FIX/i18i/ec.pub.pem" });
realm('ed', jwt => { client => 'gw-ed', alg => 'EdDSA', pub => "$FIX/i18i/ed.pub.pem" });

# --- the claim checks, table-driven (b) -------------------------------------------
# [ name, answer, expected outcome at /intro ]; each token is sent twice: the
# same outcome, and one question (refusals too, within the 5 s NEGATIVE)
my $now = int(time);
my @claim_cases = (
    [ 'active, no iss (defaulted to the issuer asked)', active(), '200 intro-alice' ],
    [ 'active, iss the issuer', active(iss => iss_of('main')), '200 intro-alice' ],
    [ 'active, aud an array holding ours', active(aud => [ 'urn:other', $AUD ]), '200 intro-alice' ],
    [ 'active, exp 30 s ago (within the 60 s leeway)', active(exp => $now - 30), '200 intro-alice' ],
    [ 'inactive', $INACTIVE, '401 invalid_token' ],
    [ 'inactive, with claims beside', { %{ active() }, active => JSON::PP::false }, '401 invalid_token' ],
    [ 'a token the endpoint does not know', undef, '401 invalid_token' ],
    [ 'active, expired (exp an hour ago)', active(exp => $now - 3600), '401 invalid_token' ],
    [ 'active, no exp', active(exp => undef), '401 invalid_token' ],
    [ 'active, exp a string', active(exp => '' . ($now + 600)), '401 invalid_token' ],
    [ 'active, another aud', active(aud => 'urn:other'), '401 invalid_token' ],
    [ 'active, no aud', active(aud => undef), '401 invalid_token' ],
    [ 'active, another iss', active(iss => iss_of('other')), '401 invalid_token' ],
    [ 'active, iss null', active(iss => $NULL), '401 invalid_token' ],
    [ 'active, no sub', active(sub => undef), '401 invalid_token' ],
    [ 'active, empty sub', active(sub => ''), '401 invalid_token' ],
    [ 'active, nbf 10 minutes ahead', active(nbf => $now + 600), '401 invalid_token' ],
    [ 'active, iat 10 minutes ahead', active(iat => $now + 600), '401 invalid_token' ],
    [ 'active, DPoP-bound (cnf.jkt) presented as Bearer', active(cnf => { jkt => '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I' }),
      '401 invalid_token' ],
    [ 'active, bound by an unknown confirmation method', active(cnf => { 'x5t#S1' => 'abc' }), '401 invalid_token' ],
);

plan tests => 4 * @claim_cases + 116;

# --- a. identity and authorization on introspected claims ------------------------
{
    my $t = opaque_token('alice');
    answer($t, active());
    my $echo0 = echo_hits();
    my $res = bearer('/intro', $t, 'X-Remote-User' => 'mallory');
    ok t_cmp(outcome($res), '200 intro-alice', 'an active opaque token: 200 at the backend, X-Remote-User the introspected sub');
    ok t_cmp((echo_of($res) || {})->{headers}{'x-remote-email'} // '(none)', 'alice@example.test',
             'MCPAuthClaimHeader email: the introspected email');
    ok t_cmp(echo_hits(), $echo0 + 1, 'the backend was reached once');
    ok t_cmp(asked('main', $t), 1, 'the endpoint was asked once');
    my $q = last_request('main');
    ok t_cmp(join(' ', $q->{method} // '', $q->{content_type} // '', $q->{accept} // ''),
             'POST application/x-www-form-urlencoded application/json',
             'the question: a form POST asking for JSON (RFC 7662 §2.1)');
    ok t_cmp(($q->{params}{token} // '(none)') eq $t ? 'the token, intact' : "'$q->{params}{token}'", 'the token, intact',
             "token=: the token with its '+', '/' and '=' form-encoded and decoded back");
    ok t_cmp($q->{params}{token_type_hint} // '(none)', 'access_token', 'token_type_hint=access_token');
    ok t_cmp(join(',', grep { $q->{params}{$_} } qw(client_assertion client_assertion_type client_id))
             . ($q->{authorization} ? ' Authorization' : ''), '', 'no client configured: no client credentials sent');

    # Require user: r->user is the introspected sub
    ok t_cmp(outcome(bearer('/intro-user', $t)), '200 backend', 'Require user intro-alice: the introspected sub is the user');
    my $bob = opaque_token('bob');
    answer($bob, active(sub => 'intro-bob'));
    ok t_cmp(outcome(bearer('/intro-user', $bob)), qr/^40[13] /, 'Require user intro-alice: intro-bob refused');

    # Require mcp-scope, Require mcp-claim
    my $noscope = opaque_token('noscope');
    answer($noscope, active(scope => 'openid'));
    ok t_cmp(outcome(bearer('/intro-scope', $t)), '200 backend', 'Require mcp-scope mcp:tools: granted by the introspected scope');
    $res = bearer('/intro-scope', $noscope);
    ok t_cmp(outcome($res), '403 insufficient_scope', 'the scope missing from the answer: 403 insufficient_scope');
    ok t_cmp((challenge($res) || {})->{scope} // '(none)', 'mcp:tools', 'the challenge names the scope to ask for');
    my $other = opaque_token('other');
    answer($other, active(groups => [ 'ops' ]));
    ok t_cmp(outcome(bearer('/intro-claim', $t)), '200 backend', 'Require mcp-claim groups eng: granted by the introspected groups');
    ok t_cmp(outcome(bearer('/intro-claim', $other)), qr/^40[13] /, 'groups [ops]: refused');
}

# --- b. the claims of an answer ---------------------------------------------------
{
    my @tokens = map { opaque_token('case') } @claim_cases;
    answer($tokens[$_], $claim_cases[$_][1]) for grep { defined $claim_cases[$_][1] } 0 .. $#claim_cases;
    for my $i (0 .. $#claim_cases) {
        my ($name, undef, $want) = @{ $claim_cases[$i] };
        my $echo0 = echo_hits();
        my $first = outcome(bearer('/intro', $tokens[$i]));
        ok t_cmp($first, $want, $name);
        ok t_cmp(echo_hits() - $echo0, $want =~ /^200/ ? 1 : 0, "$name: the backend reached only when accepted");
        ok t_cmp(outcome(bearer('/intro', $tokens[$i])), $want, "$name: the same again");
        ok t_cmp(asked('main', $tokens[$i]), 1, "$name: one question for both requests");
    }
}

# --- c. the shared cache ------------------------------------------------------------
{
    my @t = map { opaque_token('many') } 1 .. 3;
    answer($_, active()) for @t;
    my @got = map { outcome(bearer('/intro', $_)) } @t, @t;
    ok t_cmp(join(' ', map { asked('main', $_) } @t), '1 1 1',
             'three distinct tokens, each sent twice: one question each (' . join(', ', @got) . ')');

    # MCPAuthIntrospectionCache 3 1: an active answer kept 3 s, a refusal 1 s
    my $s = opaque_token('short');
    answer($s, active());
    ok t_cmp(outcome(bearer('/intro-short', $s)), '200 backend', 'MCPAuthIntrospectionCache 3 1: accepted');
    my ($first) = asks_of('short', $s);
    my $again = outcome(bearer('/intro-short', $s));
    my $late = time - $first->{t} > 2.5;
    skip($late ? 'more than 2.5 s passed: the record may be gone' : 0,
         t_cmp("$again, " . asked('short', $s) . ' question', '200 backend, 1 question', 'at once again: from the record, no question'));
    poll(20, sub { bearer('/intro-short', $s); asked('short', $s) >= 2 });
    my @asks = asks_of('short', $s);
    ok t_cmp(scalar @asks >= 2 ? 'asked again' : 'never asked again', 'asked again', 'after the 3 s: asked again');
    ok t_cmp(@asks >= 2 && $asks[1]{t} - $asks[0]{t} >= 2.9 ? 'not before 3 s' : sprintf('after %.2f s', @asks >= 2 ? $asks[1]{t} - $asks[0]{t} : -1),
             'not before 3 s', 'and not before the record expired');

    my $si = opaque_token('shortneg');
    answer($si, $INACTIVE);
    ok t_cmp(outcome(bearer('/intro-short', $si)), '401 invalid_token', 'inactive at /intro-short: 401');
    poll(20, sub { bearer('/intro-short', $si); asked('short', $si) >= 2 });
    @asks = asks_of('short', $si);
    ok t_cmp(@asks >= 2 && $asks[1]{t} - $asks[0]{t} >= 0.9 ? 'asked again after 1 s'
             : @asks >= 2 ? sprintf('asked again after %.2f s', $asks[1]{t} - $asks[0]{t}) : 'never asked again',
             'asked again after 1 s', 'a refusal is kept the NEGATIVE 1 s, then asked again');

    # MCPAuthIntrospectionCache 0: every request asks
    my $z = opaque_token('nocache');
    answer($z, active());
    my @o = map { outcome(bearer('/intro-nocache', $z)) } 1 .. 3;
    ok t_cmp(join(', ', @o) . '; ' . asked('nocache', $z) . ' questions', '200 backend, 200 backend, 200 backend; 3 questions',
             'MCPAuthIntrospectionCache 0: three requests, three questions');

    # a revoked token: taken from the record for up to MAX where answers are
    # kept, never where MCPAuthIntrospectionCache is 0 (same endpoint)
    my $rv = opaque_token('revoked');
    answer($rv, active());
    ok t_cmp(outcome(bearer('/intro', $rv)), '200 intro-alice', 'a token accepted at /intro (its answer kept 60 s)');
    answer($rv, $INACTIVE);
    ok t_cmp(outcome(bearer('/intro', $rv)), '200 intro-alice', 'revoked at the IdP: still taken at /intro from the record (MAX 60 s)');
    ok t_cmp(outcome(bearer('/intro-fresh', $rv)), '401 invalid_token',
             'at /intro-fresh (MCPAuthIntrospectionCache 0 0, same endpoint): asked, and refused at once');
    ok t_cmp(asked('main', $rv), 2, 'one question for /intro, one for /intro-fresh');
}

# --- d. single flight ---------------------------------------------------------------
{
    my $N = 8;
    my $f = opaque_token('flight');
    answer($f, active());
    my ($results, $elapsed) = concurrent(url => url('i18i', '/intro-flight'), tokens => [ ($f) x $N ], conns => $N);
    my $gate = time - $elapsed;      # the clients were let go no later than this
    my @done = sort { $a <=> $b } map { $_->[3] } @$results;
    my ($q) = asks_of('flight', $f);
    my $answered = ($q ? $q->{t} : 0) + 2;
    ok t_cmp(summarize($results), "200 x$N", "$N parallel requests with one new token, the endpoint answering after 2 s: all 200");
    # Exactly one: the question is claimed in the shared cache (shmcb, under
    # its mutex: one claimant), the others wait up to MCPAuthFetchTimeout + 1 s
    # (11 s) for its record, which the claimant writes before it lets go.
    ok t_cmp(asked('flight', $f), 1, "one question for the $N requests");
    # (so they overlapped the question: all let go before its answer, none
    # answered before it)
    ok t_cmp(@done == $N && $gate < $answered - 0.5 && $done[0] > $answered - 0.1 ? 'waited for it'
             : sprintf('let go %.2f s, answered %.2f to %.2f s after the question', $gate - $answered + 2,
                       $done[0] - $answered + 2, $done[-1] - $answered + 2),
             'waited for it', sprintf('all were sent before that answer and answered after it (%.2f s in all)', $elapsed));
}

# --- e. an endpoint that does not answer properly --------------------------------
{
    my $t = opaque_token('down');
    answer($t, active());
    my $echo0 = echo_hits();
    my $log = error_log_size();
    my $res = bearer('/intro-down', $t);
    my $failed_at = time;
    unavailable_ok('connection refused', $res, $log,
                   qr{MCPAUTH0065: cannot introspect the token for /intro-down: introspection at http://127\.0\.0\.1:9/introspect failed});
    $log = error_log_size();
    $res = bearer('/intro-down', $t);
    my $late = time - $failed_at > 1.5;
    ok t_cmp(outcome($res), '503 temporarily_unavailable', 'asked again: 503 again');
    skip($late ? 'more than 1.5 s passed: the endpoint may be asked again' : 0,
         t_cmp(error_log_since($log, qr/MCPAUTH0065/, 5), qr/MCPAUTH0065: .*failed moments ago/,
               'within the 2 s rest: not asked, said in the log'));
    ok t_cmp(echo_hits(), $echo0, 'the backend was never reached');

    # slower than MCPAuthFetchTimeout 1 2 (the endpoint takes 8 s)
    my $s = opaque_token('slow');
    answer($s, active());
    $log = error_log_size();
    my $t0 = time;
    $res = bearer('/intro-slow', $s);
    my $took = time - $t0;
    unavailable_ok('slower than MCPAuthFetchTimeout', $res, $log,
                   qr{MCPAUTH0065: cannot introspect the token for /intro-slow: introspection at \S+ failed: .*[Tt]ime(d)? ?out});
    ok t_cmp($took < 6 ? 'given up' : sprintf('%.2f s', $took), 'given up',
             sprintf('given up after the 2 s timeout, not the 8 s answer (%.2f s)', $took));

    # answers that are no answers
    for my $c ([ '/intro-500', 'b500', 'an HTTP 500', qr/answered HTTP 500$/m ],
               [ '/intro-html', 'bhtml', 'an HTML page', qr/the introspection answer is not a JSON object/ ],
               [ '/intro-str', 'bstr', '"active":"true" (a string)', qr/the introspection answer has no boolean "active"/ ]) {
        my ($path, $realm, $what, $why) = @$c;
        my $tok = opaque_token($realm);
        answer($tok, active());
        $log = error_log_size();
        $res = bearer($path, $tok);
        unavailable_ok($what, $res, $log, qr/MCPAUTH0065: cannot introspect the token for \Q$path\E: .*$why/);
        ok t_cmp(asked($realm, $tok), 1, "$what: the endpoint was asked");
    }
    ok t_cmp(echo_hits(), $echo0, 'the backend was never reached');

    # the rest after a failure ends: asked again, and still never 200
    my $again = opaque_token('b500');
    answer($again, active());
    my $before = asked('b500');
    my @seen;
    poll(15, sub { push @seen, outcome(bearer('/intro-500', $again)); asked('b500') > $before });
    ok t_cmp(asked('b500') > $before ? 'asked again' : 'never asked again', 'asked again', 'after the 2 s rest the endpoint is asked again');
    ok t_cmp(join(', ', sort keys %{ { map { $_ => 1 } @seen } }), '503 temporarily_unavailable',
             'and the answer is still 503, never 200');

    # a 400 is about the token in the request (anyone can make one the IdP
    # refuses): that token is not active, and the endpoint does not rest
    my @two = (opaque_token('b400'), opaque_token('b400'));
    $log = error_log_size();
    ok t_cmp(outcome(bearer('/intro-400', $two[0])), '401 invalid_token', 'an HTTP 400 for a token: 401, not 503');
    ok t_cmp(outcome(bearer('/intro-400', $two[1])), '401 invalid_token', 'and the next token is asked about at once');
    ok t_cmp(asked('b400'), 2, 'both tokens were asked about');
    ok t_cmp(error_log_since($log, qr/MCPAUTH0070/, 5) =~ /MCPAUTH0070: introspection at \S+ answered HTTP 400 for a token/
             ? 'logged' : 'not logged', 'logged', 'the log says the IdP refused the token (MCPAUTH0070)');
    # but a 400 that refuses the gateway's client (RFC 6749 §5.2) concerns every token
    $log = error_log_size();
    unavailable_ok('an HTTP 400 invalid_client', bearer('/intro-400client', opaque_token('b400c')), $log,
                   qr/MCPAUTH0065: .*answered HTTP 400: check MCPAuthIntrospectionClient/);
}

# --- f. the gateway's client --------------------------------------------------------
{
    # client_secret_basic: both parts form-encoded (RFC 6749 §2.3.1)
    my $t = opaque_token('basic');
    answer($t, active());
    ok t_cmp(outcome(bearer('/intro-basic', $t)), '200 intro-alice', 'client_secret_basic: the endpoint takes the client, 200');
    my $q = last_request('basic');
    my ($b64) = ($q->{authorization} // '') =~ /^Basic (\S+)$/;
    # (percent-encoding's hex digits in either case)
    ok t_cmp(defined $b64 ? uc MIME::Base64::decode_base64($b64) : '(no Basic credentials)',
             'GW-INTRO.BASIC:P%40SS%3AW%2FRD%2B%26%3DX%25', 'the Basic credentials: client id and secret, form-encoded');
    ok t_cmp(join(',', grep { $q->{params}{$_} } qw(client_assertion client_assertion_type client_secret)), '',
             'no other credentials in the body');

    # a wrong secret: the endpoint refuses the gateway (401)
    my $w = opaque_token('basicwrong');
    answer($w, active());
    my $log = error_log_size();
    my $res = bearer('/intro-basic-wrong', $w);
    unavailable_ok('a wrong client secret', $res, $log,
                   qr{MCPAUTH0065: cannot introspect the token for /intro-basic-wrong: introspection at \S+ answered HTTP 401: check MCPAuthIntrospectionClient});
    ok t_cmp((asks_of('basic', $w))[0]{refused} // '(accepted)', 'basic: wrong client or secret', 'the endpoint refused the client');
    # another location's client at the same endpoint is not refused with it
    my $t2 = opaque_token('basic');
    answer($t2, active());
    ok t_cmp(outcome(bearer('/intro-basic', $t2)), '200 intro-alice',
             'right after, /intro-basic (its own client, same endpoint): 200, the refusal of another client is no outage');

    # private_key_jwt (RFC 7523 §2.2, §3)
    my %alg = (rsa => 'RS256', ec => 'ES256', ed => 'EdDSA');
    my %client = (rsa => 'gw-rsa', ec => 'gw-ec', ed => 'gw-ed');
    for my $k (qw(rsa ec ed)) {
        my $p = opaque_token($k);
        answer($p, active());
        ok t_cmp(outcome(bearer("/intro-$k", $p)), $k eq 'rsa' ? '200 intro-alice' : '200 backend',
                 "private_key_jwt, $alg{$k}: the endpoint verified the assertion, 200");
        my ($hit) = asks_of($k, $p);
        my ($h, $c) = ($hit->{header} || {}, $hit->{payload} || {});
        ok t_cmp(join(' ', $h->{alg} // '-', $h->{kid} // '-', $c->{iss} // '-', $c->{sub} // '-', $c->{aud} // '-'),
                 join(' ', $alg{$k}, $k eq 'rsa' ? 'k-rsa' : '-', $client{$k}, $client{$k}, iss_of($k)),
                 "$alg{$k}: alg, kid, iss = sub = the client id, aud = the issuer");
        ok t_cmp(($c->{exp} // 0) - ($c->{iat} // 0), 60, "$alg{$k}: exp = iat + 60");
        my $q = last_request($k);
        ok t_cmp($q->{params}{client_assertion_type} // '(none)', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
                 "$alg{$k}: client_assertion_type jwt-bearer");
    }
    my $p2 = opaque_token('rsa');
    answer($p2, active());
    ok t_cmp(outcome(bearer('/intro-rsa', $p2)), '200 intro-alice', 'a second question with a new assertion: 200');
    my @jti = map { $_->{payload}{jti} // '' } grep { !$_->{refused} } hits('rsa');
    ok t_cmp(scalar(keys %{ { map { $_ => 1 } @jti } }) == @jti && @jti >= 2 ? 'all distinct' : join(' ', @jti),
             'all distinct', 'each assertion has its own jti (the endpoint takes one only once)');
    ok t_cmp($jti[0] // '', qr/^[0-9a-f]{32}$/, 'jti: 16 random bytes');

    # a key the endpoint does not know
    my $wk = opaque_token('rsawrong');
    answer($wk, active());
    $log = error_log_size();
    $res = bearer('/intro-rsa-wrong', $wk);
    unavailable_ok('private_key_jwt with another key', $res, $log,
                   qr{MCPAUTH0065: cannot introspect the token for /intro-rsa-wrong: introspection at \S+ answered HTTP 401: check MCPAuthIntrospectionClient});
    ok t_cmp((asks_of('rsa', $wk))[0]{refused} // '(accepted)', 'jwt: signature',
             'the endpoint refused the assertion for its signature (all else was right)');
}

# --- g. MCPAuthTokenFormat, MCPAuthIntrospection discovery -----------------------
{
    my $jwt = mint(key => 'rsa1', header => { alg => 'RS256', kid => 'rsa1' },
                   payload => claims(-iss => iss_of('main'), -aud => $AUD, sub => 'jwt-alice'));
    my $forged = $jwt;       # one character of the signature changed
    substr($forged, rindex($forged, '.') + 10, 1) = substr($forged, rindex($forged, '.') + 10, 1) eq 'x' ? 'y' : 'x';
    push @ALL_TOKENS, $jwt;
    answer($jwt, active(sub => 'jwt-as-opaque'));
    ok t_cmp(outcome(bearer('/intro', $jwt)), '200 jwt-alice', 'auto: a JWT is verified locally (its own sub)');
    ok t_cmp(outcome(bearer('/intro', $forged)), '401 invalid_token', 'auto: a JWT with a bad signature: 401');
    ok t_cmp(asked('main', $jwt) + asked('main', $forged), 0, 'auto: no question about either JWT');

    my $o = opaque_token('fmt');
    answer($o, active());
    ok t_cmp(outcome(bearer('/intro-jwtfmt', $o)), '401 invalid_token', 'jwt: an active opaque token is refused');
    ok t_cmp(outcome(bearer('/intro-jwtfmt', $jwt)), '200 backend', 'jwt: a JWT is accepted');
    ok t_cmp(asked('main', $o) + asked('main', $jwt), 0, 'jwt: never a question');

    ok t_cmp(outcome(bearer('/intro-opaque', $jwt)), '200 jwt-as-opaque',
             'opaque: a JWT-shaped token is introspected (the answer\'s sub, not the JWT\'s)');
    ok t_cmp(asked('main', $jwt), 1, 'opaque: one question about it');

    my $d = opaque_token('disco');
    answer($d, active(sub => 'disco-alice'));
    ok t_cmp(outcome(bearer('/intro-disco', $d)), '200 disco-alice',
             'MCPAuthIntrospection discovery: the issuer\'s introspection_endpoint asked, 200');
    ok t_cmp(asked('disco', $d), 1, 'discovery: one question at realm disco\'s endpoint');
    ok t_cmp(scalar(my @l = read_lines('intro-disco-disco.hits')) >= 1 ? 'fetched' : 'not fetched', 'fetched',
             'the RFC 8414 metadata was fetched');
    my $log = error_log_size();
    unavailable_ok('discovery, the metadata naming no introspection_endpoint', bearer('/intro-disco-none', $d), $log,
                   qr{MCPAUTH0065: cannot introspect the token for /intro-disco-none: the issuer's metadata names no introspection_endpoint});
}

# --- h. the token is kept to itself --------------------------------------------------
{
    # in the shared cache (shmcb: memory shared by the httpd processes): an
    # answer is there under a hash of its token, the token never is
    my $marker = sprintf('shm-marker-%d-%08x', $$, int(rand(2**32)));
    my $t = opaque_token('shm');
    answer($t, active(sub => $marker));
    ok t_cmp(outcome(bearer('/intro', $t)), "200 $marker", 'an answer for the shared cache');
    my ($where, $data) = shared_memory_holding($marker);
    my @found = $where ? grep { index($data, $_) >= 0 } @ALL_TOKENS : ();
    skip($where ? 0 : 'the shared cache is not readable (/proc/PID/mem of the httpd parent)',
         t_cmp(@found ? "holds $found[0]" : 'no token', 'no token',
               'the shared cache holds the answer, never a token (' . ($where // 'not found') . ')'));

    my $text = error_log_since($log_start);
    my @leaked = grep { index($text, $_) >= 0 } @ALL_TOKENS;
    ok t_cmp(scalar(@leaked) ? "leaked: $leaked[0]" : 'none', 'none',
             sprintf('none of the %d tokens is in the error log (LogLevel debug, %d bytes)', scalar @ALL_TOKENS, length $text));
    ok t_cmp(($text =~ /(MCPAUTH0001: rejected bearer token for \/intro: [^\n]*)/)[0] // '(no such line)',
             qr/token is not active/, 'the log names the refusal and where, not the token');
}
