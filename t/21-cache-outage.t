# IdP outages: a warm cache keeps serving past expiry up to MCPAuthJWKSMaxStale,
# then fails closed; a cold start with the IdP down fails fast and recovers
# by itself after the 5 s backoff; a hanging IdP costs one bounded fetch.
#   /i4/stale  MCPAuthJWKSRefresh 1 1, MCPAuthJWKSMaxStale 2
#   /i4/cold   defaults
#   /i4/slow   MCPAuthFetchTimeout 1 2 (the fixture sleeps 5 s)
#   /i4/down   key set on 127.0.0.1:9 (connection refused)
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test;
use Apache::TestUtil;
use Time::HiRes qw(time sleep);
use MCPTest;
use MintToken;
use CacheTest;

plan tests => 42;

my ($good) = mint_many(
    { key => 'rsa1', header => { alg => 'RS256', kid => 'i4a' }, payload => i4_claims(sub => 'ann') });
my $BACKOFF = 5;

sub timed {
    my $path = shift;
    my $t = time;
    my $res = bearer('i4', $path, $good);
    return ($res, time - $t);
}
sub err_of   { (challenge($_[0]) || {})->{error} // '' }
sub hit_time { my @l = read_lines("$_[0].hits"); @l ? (split / /, $l[$_[1] // -1])[0] : 0 }
sub sleep_until { my $d = shift() - time; sleep $d if $d > 0 }

# --- cold start, IdP failing (continued below, after the backoff) ---------
reset_set('cold', 'status 503');
my $log0 = error_log_size();
my ($res, $secs) = timed('/i4/cold');
ok t_cmp($res->code, 401, 'cold start, IdP 503: 401');
ok t_cmp(err_of($res), 'invalid_token', 'error=invalid_token');
ok t_cmp($secs < 1.5 ? 'fast' : sprintf('%.2f s', $secs), 'fast', sprintf('answered in %.3f s (< 1.5 s)', $secs));
ok t_cmp(fetches('cold'), 1, 'one fetch attempt');
my $cold_failed = hit_time('cold');
($res, $secs) = timed('/i4/cold');
ok t_cmp($res->code . ($secs < 1.5 ? ' fast' : sprintf(' %.2f s', $secs)), '401 fast', 'again: 401 at once');
ok t_cmp(fetches('cold'), 1, 'within the backoff: no fetch');
ok t_cmp(error_log_since($log0, qr/MCPAUTH0013/), qr/MCPAUTH0013: no signing keys: .*HTTP status 503/,
         'error log: no signing keys, HTTP status 503');
set_mode('cold', 'file i4-good.json');
($res) = timed('/i4/cold');
ok t_cmp($res->code, 401, 'IdP back, still within the backoff: 401');
ok t_cmp(fetches('cold'), 1, 'within the backoff: still no fetch');

# --- warm cache, then the IdP fails --------------------------------------
reset_set('stale', 'file i4-good.json');
($res) = timed('/i4/stale');
ok t_cmp($res->code, 200, 'stale: valid token accepted');
ok t_cmp(fetches('stale'), 1, 'stale: one fetch');
my $t_fetch = hit_time('stale');
set_mode('stale', 'status 503');
sleep_until($t_fetch + 1.3);   # past the 1 s freshness
$log0 = error_log_size();
($res) = timed('/i4/stale');
ok t_cmp($res->code, 200, 'expired, IdP 503: still accepted (stale keys)');
ok t_cmp(fetches('stale'), 2, 'one refresh attempt');
my $t_fail = hit_time('stale');
ok t_cmp(error_log_since($log0, qr/MCPAUTH0014/), qr/MCPAUTH0014: refresh of \S+ failed \(HTTP status 503\)/,
         'warning: refresh failed, using the old copy');
my $n = 0;
$n += (timed('/i4/stale'))[0]->code == 200 for 1 .. 5;
ok t_cmp($n, 5, 'stale window: 5 more requests accepted');
ok t_cmp(fetches('stale'), 2, 'within the backoff: no further fetch');
my $e = key_status(status_json(), 'stale') || {};
ok t_cmp(($e->{jwks} || {})->{stale} ? 'stale' : 'not stale', 'stale', 'status: stale');
ok t_cmp(($e->{jwks} || {})->{usable} ? 'usable' : 'unusable', 'usable', 'status: usable');
ok t_cmp(($e->{jwks} || {})->{last_fetch_ok} ? 'ok' : 'failed', 'failed', 'status: last_fetch_ok false');
ok t_cmp(($e->{jwks} || {})->{last_error} // '', qr/503/, 'status: last_error names the 503');

# beyond fetched + 1 s fresh + 2 s max-stale: fail closed
sleep_until($t_fetch + 3.4);
$log0 = error_log_size();
($res, $secs) = timed('/i4/stale');
ok t_cmp($res->code, 401, 'beyond max-stale: 401');
ok t_cmp(err_of($res), 'invalid_token', 'error=invalid_token');
ok t_cmp(error_log_since($log0, qr/MCPAUTH0013/), qr/\[mcp_auth:error\].*MCPAUTH0013: no signing keys: copy of \S+ expired beyond the stale limit/,
         'error log line: expired beyond the stale limit');
ok t_cmp(fetches('stale'), 2, 'still within the backoff: no fetch');
$e = key_status(status_json(), 'stale') || {};
ok t_cmp(($e->{jwks} || {})->{usable} ? 'usable' : 'unusable', 'unusable', 'status: no longer usable');

# --- cold start recovers by itself after the backoff ----------------------
sleep_until($cold_failed + $BACKOFF + 0.3);
($res) = timed('/i4/cold');
ok t_cmp($res->code, 200, 'cold: after the backoff the fresh keys are fetched and used');
ok t_cmp(fetches('cold'), 2, 'cold: two fetches in all');

# --- the stale set recovers too ------------------------------------------
set_mode('stale', 'file i4-good.json');
sleep_until($t_fail + $BACKOFF + 0.3);
($res) = timed('/i4/stale');
ok t_cmp($res->code, 200, 'stale: IdP back after the backoff: accepted again');
ok t_cmp(fetches('stale'), 3, 'stale: three fetches in all');

# --- a hanging IdP: one fetch, bounded by MCPAuthFetchTimeout -------------
reset_set('slow', 'slow 5 file i4-good.json');
my ($r, $el) = concurrent(url => url('i4', '/i4/slow'), tokens => [ ($good) x 6 ], conns => 6);
my @t = sort { $a <=> $b } map { $_->[3] } @$r;
t_debug(sprintf "hanging IdP: 6 concurrent cold requests: %s in %.2f s", summarize($r), $el);
ok t_cmp(summarize($r), '401 (invalid_token) x6', 'hanging IdP, 6 concurrent cold requests: all 401');
# the fixture hangs 5 s: anything well below that is the 2 s timeout at work
ok t_cmp($el >= 1.5 && $el < 4.5 ? 'bounded' : sprintf('%.2f s', $el), 'bounded',
         sprintf('they end with the 2 s fetch timeout (%.2f s)', $el));
ok t_cmp(fetches('slow'), 1, 'hanging IdP: exactly one fetch');
($res, $secs) = timed('/i4/slow');
ok t_cmp($res->code, 401, 'hanging IdP, within the backoff: 401');
ok t_cmp($secs < 1.5 ? 'fast' : sprintf('%.2f s', $secs), 'fast', sprintf('... at once (%.3f s)', $secs));
ok t_cmp(fetches('slow'), 1, '... without a fetch');
$e = key_status(status_json(), 'slow') || {};
ok t_cmp(($e->{jwks} || {})->{last_error} // '', qr/time/i, 'status: last_error says timeout');

# --- nothing listening ----------------------------------------------------
($res, $secs) = timed('/i4/down');
ok t_cmp($res->code, 401, 'connection refused: 401');
ok t_cmp($secs < 1.5 ? 'fast' : sprintf('%.2f s', $secs), 'fast', sprintf('... at once (%.3f s)', $secs));
my $st = status_json();
my ($down) = grep { (($_->{jwks} || {})->{url} // '') =~ m{127\.0\.0\.1:9/} } @{ $st->{keys} || [] };
ok t_cmp(($down && $down->{jwks}{failures}) || 0, 1, 'status: one failed fetch');
ok t_cmp(($down && $down->{jwks}{last_error}) // '', qr/connect|refused/i, 'status: last_error says why');
($res, $secs) = timed('/i4/down');
ok t_cmp($res->code . ($secs < 1.5 ? ' fast' : sprintf(' %.2f s', $secs)), '401 fast', 'again: 401 at once');
$st = status_json();
($down) = grep { (($_->{jwks} || {})->{url} // '') =~ m{127\.0\.0\.1:9/} } @{ $st->{keys} || [] };
ok t_cmp(($down && $down->{jwks}{fetches}) || 0, 1, 'within the backoff: no second attempt');
