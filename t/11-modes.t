# MCPAuthMode strict | optional | permissive.
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

my $good    = sub { i3_spec(sub => 'alice', email => 'alice@example.test', @_) };
my $expired = sub { i3_spec(sub => 'mallory', email => 'm@evil.test', exp => time - 3600) };
my $wrongaud = sub { i3_spec(sub => 'mallory', email => 'm@evil.test', aud => 'urn:other') };
my $evil    = sub { { key => 'evil', header => { alg => 'RS256', kid => 'rsa1' },
                      payload => i3_claims(sub => 'mallory', email => 'm@evil.test') } };
my $FORM = 'application/x-www-form-urlencoded';

sub email_is { [ 'X-Remote-Email', sub { $_[1]{headers}{'x-remote-email'} // '(none)' }, $_[0] ] }
sub auth_is { [ 'Authorization at the backend', sub { $_[1]{headers}{authorization} // '(none)' }, $_[0] ] }
sub clean {
    [ 'token nowhere at the backend', sub {
          my ($res, $e, $c) = @_;
          my $text = JSON::PP->new->canonical->encode($e);
          (grep { defined && length > 20 && index($text, sig_of($_)) >= 0 } $c->{token}, $c->{token2}) ? 'leaked' : 'clean' },
      'clean' ];
}
# REMOTE_USER as the access log shows it (the path carries a unique marker)
my $probe = 0;
sub logged_user_is {
    [ 'access log user (REMOTE_USER)', sub { access_log_user(" $_[2]{sent_path} ") // 'no log line' }, $_[0] ];
}
sub p { my $base = shift; "$base/probe-" . $$ . '-' . ++$probe }
my @anon = (user_is('(none)'), email_is('(none)'), auth_is('(none)'));
my @forged = ('X-Remote-User' => 'root', 'X-Remote-Email' => 'root@example.test');

# raw echo: header names exactly as forwarded
sub raw_lacks {
    my $re = shift;
    [ "raw backend has no $re", sub { my @l = ($_[0]->decoded_content // '') =~ /^($re):/mgi; @l ? join(',', @l) : 'none' }, 'none' ];
}
sub raw_has { my ($line) = @_; [ "raw backend: $line", sub { ($_[0]->decoded_content // '') =~ /^\Q$line\E$/m ? 'yes' : 'no' }, 'yes' ] }
my @raw_forged = (':X-Remote_User' => 'eve', ':X_Remote_User' => 'eve', ':x-remote-user' => 'eve',
                  ':X-REMOTE-EMAIL' => 'eve@example.test', ':X_Remote_Email' => 'eve@example.test');

my @cases = (
    # --- strict, Require all granted: the mode alone decides --------------------------
    { name => 'strict: no token', path => '/mode-strict', status => 401 },
    { name => 'strict: no token, forged identity', path => '/mode-strict', headers => [@forged], status => 401 },
    { name => 'strict: expired token', path => '/mode-strict', token => $expired->(), status => 401, error => 'invalid_token' },
    { name => 'strict: foreign key', path => '/mode-strict', token => $evil->(), status => 401, error => 'invalid_token' },
    { name => 'strict: garbage', path => '/mode-strict', token => 'garbage', status => 401, error => 'invalid_token' },
    { name => 'strict: Bearer without token', path => '/mode-strict', headers => [ Authorization => 'Bearer' ],
      status => 400, error => 'invalid_request' },
    { name => 'strict: Basic credentials', path => '/mode-strict', headers => [ Authorization => 'Basic YTpi' ], status => 401 },
    { name => 'strict: valid token, forged identity replaced', path => p('/mode-strict'), token => $good->(),
      headers => [@forged], status => 200,
      checks => [ user_is('alice'), email_is('alice@example.test'), auth_is('(none)'), clean(), logged_user_is('alice') ] },

    # --- optional, Require all granted -------------------------------------------------
    { name => 'optional: no token passes anonymous', path => p('/mode-opt'), status => 200,
      checks => [ @anon, logged_user_is('-') ] },
    { name => 'optional: no token, forged identity removed', path => p('/mode-opt'), headers => [@forged], status => 200,
      checks => [ @anon, logged_user_is('-') ] },
    { name => 'optional: expired token', path => '/mode-opt', token => $expired->(), status => 401, error => 'invalid_token' },
    { name => 'optional: wrong audience', path => '/mode-opt', token => $wrongaud->(), status => 401, error => 'invalid_token' },
    { name => 'optional: foreign key', path => '/mode-opt', token => $evil->(), status => 401, error => 'invalid_token' },
    { name => 'optional: garbage token', path => '/mode-opt', token => 'garbage', status => 401, error => 'invalid_token' },
    { name => 'optional: bad token with forged identity', path => '/mode-opt', token => $expired->(), headers => [@forged],
      status => 401, error => 'invalid_token' },
    { name => 'optional: Bearer without token', path => '/mode-opt', headers => [ Authorization => 'Bearer' ],
      status => 400, error => 'invalid_request' },
    { name => 'optional: two Authorization headers', path => '/mode-opt', headers => [ Authorization => 'Bearer %T', Authorization => 'Bearer %T' ],
      token => $good->(), status => 400, error => 'invalid_request' },
    { name => 'optional: valid token', path => p('/mode-opt'), token => $good->(), headers => [@forged], status => 200,
      checks => [ user_is('alice'), email_is('alice@example.test'), auth_is('(none)'), clean(), logged_user_is('alice') ] },

    # --- optional, Require valid-user: anonymous meets the challenge ----------------------
    { name => 'optional+valid-user: no token', path => '/mode-opt-vu', status => 401,
      checks => [ [ 'challenge has resource_metadata', sub { (challenge($_[0]) || {})->{resource_metadata} // '' },
                    url('i3', '/.well-known/oauth-protected-resource/mode-opt-vu') ] ] },
    { name => 'optional+valid-user: no token, forged identity', path => '/mode-opt-vu', headers => [@forged], status => 401 },
    { name => 'optional+valid-user: expired token', path => '/mode-opt-vu', token => $expired->(), status => 401, error => 'invalid_token' },
    { name => 'optional+valid-user: valid token', path => '/mode-opt-vu', token => $good->(), status => 200, checks => [ user_is('alice') ] },

    # --- permissive, Require all granted ----------------------------------------------
    { name => 'permissive: no token passes anonymous', path => p('/mode-perm'), headers => [@forged], status => 200,
      checks => [ @anon, logged_user_is('-') ] },
    { name => 'permissive: expired token stripped, anonymous', path => p('/mode-perm'), token => $expired->(), status => 200,
      checks => [ @anon, clean(), logged_user_is('-') ] },
    { name => 'permissive: wrong-audience token stripped', path => '/mode-perm', token => $wrongaud->(), status => 200,
      checks => [ @anon, clean() ] },
    { name => 'permissive: foreign-key token stripped', path => '/mode-perm', token => $evil->(), headers => [@forged], status => 200,
      checks => [ @anon, clean() ] },
    { name => 'permissive: garbage token stripped', path => '/mode-perm', token => 'garbage', status => 200, checks => [@anon] },
    { name => 'permissive: alg none token stripped', path => '/mode-perm',
      token => { key => 'none', header => { alg => 'none' }, payload => i3_claims(sub => 'mallory') }, status => 200,
      checks => [@anon] },
    { name => 'permissive: lower-case scheme, bad token stripped', path => '/mode-perm', headers => [ Authorization => 'bearer %T' ],
      token => $expired->(), status => 200, checks => [@anon] },
    { name => 'permissive: Bearer without token is still 400', path => '/mode-perm', headers => [ Authorization => 'Bearer' ],
      status => 400, error => 'invalid_request' },
    { name => 'permissive: junk after the token is still 400', path => '/mode-perm', headers => [ Authorization => 'Bearer %T x' ],
      token => $expired->(), status => 400, error => 'invalid_request' },
    { name => 'permissive: valid token', path => p('/mode-perm'), token => $good->(), headers => [@forged], status => 200,
      checks => [ user_is('alice'), email_is('alice@example.test'), auth_is('(none)'), clean(), logged_user_is('alice') ] },

    # --- permissive, Require valid-user -------------------------------------------------
    { name => 'permissive+valid-user: no token', path => '/mode-perm-vu', status => 401 },
    { name => 'permissive+valid-user: expired token', path => '/mode-perm-vu', token => $expired->(), status => 401, error => 'invalid_token' },
    { name => 'permissive+valid-user: garbage token', path => '/mode-perm-vu', token => 'garbage', status => 401, error => 'invalid_token' },
    { name => 'permissive+valid-user: forged identity only', path => '/mode-perm-vu', headers => [@forged], status => 401 },
    { name => 'permissive+valid-user: valid token', path => '/mode-perm-vu', token => $good->(), status => 200, checks => [ user_is('alice') ] },

    # --- permissive with body and query methods: a bad token is removed there too ---------
    { name => 'permissive: bad query token removed from the URL', path => '/mode-perm-mq?a=1&access_token=%T&b=2',
      token => $expired->(), status => 200, checks => [ @anon, query_is('a=1&b=2'), clean() ] },
    { name => 'permissive: bad form-body token removed from the body', method => 'POST', path => '/mode-perm-mq',
      body => 'a=1&access_token=%T', ctype => $FORM, token => $expired->(), status => 200,
      checks => [ @anon, body_is('a=1'), [ 'Content-Length', sub { $_[1]{content_length} }, 3 ], clean() ] },
    { name => 'permissive: good query token', path => '/mode-perm-mq?access_token=%T', token => $good->(), status => 200,
      checks => [ user_is('alice'), query_is('') ] },
    { name => 'permissive: bad query token + good header token: 400', path => '/mode-perm-mq?access_token=%U',
      headers => [ Authorization => 'Bearer %T' ], token => $good->(), token2 => $expired->(), status => 400, error => 'invalid_request' },

    # --- raw view: underscore spellings of identity headers never pass -------------------
    { name => 'permissive raw: bad token + forged spellings', path => '/mode-perm-raw', token => $expired->(),
      headers => [@raw_forged, 'X-Other' => 'kept'], status => 200, raw => 1,
      checks => [ raw_lacks('x[-_]remote[-_](?:user|email)'), raw_lacks('authorization'), raw_has('X-Other: kept') ] },
    { name => 'permissive raw: no token + forged spellings', path => '/mode-perm-raw', headers => [@raw_forged], status => 200, raw => 1,
      checks => [ raw_lacks('x[-_]remote[-_](?:user|email)') ] },
    { name => 'optional raw: no token + forged spellings', path => '/mode-opt-raw', headers => [@raw_forged], status => 200, raw => 1,
      checks => [ raw_lacks('x[-_]remote[-_](?:user|email)'), raw_lacks('authorization') ] },
    { name => 'optional raw: valid token + forged spellings', path => '/mode-opt-raw', token => $good->(),
      headers => [@raw_forged], status => 200, raw => 1,
      checks => [ [ 'only the module-set identity', sub { join '|', ($_[0]->decoded_content // '') =~ /^(x[-_]remote[-_]\w+: .*)$/mgi },
                    'X-Remote-Email: alice@example.test|X-Remote-User: alice' ], raw_lacks('authorization') ] },
    { name => 'strict raw: valid token + forged spellings', path => '/mode-strict-raw', token => $good->(),
      headers => [@raw_forged], status => 200, raw => 1,
      checks => [ [ 'only the module-set identity', sub { join '|', ($_[0]->decoded_content // '') =~ /^(x[-_]remote[-_]\w+: .*)$/mgi },
                    'X-Remote-Email: alice@example.test|X-Remote-User: alice' ] ] },
    { name => 'strict raw: forged spellings without token', path => '/mode-strict-raw', headers => [@raw_forged], status => 401, raw => 1 },
);

plan tests => cases_tests(\@cases) + 2;

my $log_start = error_log_size();
run_cases(\@cases);

my $all = error_log_since($log_start);
my @leaked = grep { index($all, sig_of($_)) >= 0 } all_tokens();
for my $t (@leaked) { my $s = sig_of($t); print "# leaked in: $_\n" for grep { index($_, $s) >= 0 } split /\n/, $all }
ok t_cmp(scalar @leaked, 0, 'no token signature of this file in the error log');
ok t_cmp($all, qr/MCPAUTH0001: rejected bearer token for \/mode-perm: token expired/,
         'permissive: the bad token is still logged as rejected');
