# Require mcp-scope and Require mcp-claim.
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

# A token for user $sub with the given claims (scope undef: no scope claim).
sub tok { my ($sub, %c) = @_; i3_spec(sub => $sub, scope => undef, %c) }
sub prm { url('i3', "/.well-known/oauth-protected-resource$_[0]") }

# challenge parameter checks
sub ch_is {
    my ($param, $want) = @_;
    [ "challenge $param", sub { my $c = challenge($_[0]); $c ? ($c->{$param} // '(none)') : 'no single challenge' }, $want ];
}
sub body_error { [ 'JSON body error', sub { (json_of($_[0]) || {})->{error} // '(none)' }, $_[0] ] }
sub bearer { [ 'Bearer challenge', sub { join ' | ', map { /^(\S+)/ } challenges($_[0]) }, 'Bearer' ] }
sub insufficient {
    my ($loc, $scope) = @_;
    return (ch_is(scope => $scope), ch_is(resource_metadata => prm($loc)), body_error('insufficient_scope'));
}

my @cases = (
    # --- one required scope; MCPAuthScopesSupported is "openid other:scope" ----------
    { name => 'sc-one: no token: 401 asks for the required scope', path => '/sc-one', status => 401,
      checks => [ ch_is(scope => 'mcp:tools'), ch_is(resource_metadata => prm('/sc-one')) ] },
    { name => 'sc-one: bad token: 401 invalid_token asks for the required scope', path => '/sc-one',
      token => tok('alice', scope => 'mcp:tools', exp => time - 3600), status => 401, error => 'invalid_token',
      checks => [ ch_is(scope => 'mcp:tools') ] },
    { name => 'sc-one: scope present', path => '/sc-one', token => tok('alice', scope => 'openid mcp:tools'), status => 200,
      checks => [ user_is('alice') ] },
    { name => 'sc-one: scope alone', path => '/sc-one', token => tok('alice', scope => 'mcp:tools'), status => 200 },
    { name => 'sc-one: scope last of many', path => '/sc-one', token => tok('alice', scope => 'a b c mcp:tools'), status => 200 },
    { name => 'sc-one: scope missing: 403', path => '/sc-one', token => tok('alice', scope => 'openid'), status => 403,
      error => 'insufficient_scope', checks => [ insufficient('/sc-one', 'mcp:tools') ] },
    { name => 'sc-errdoc: scope missing behind a local ErrorDocument: still 403 insufficient_scope', path => '/sc-errdoc',
      token => tok('alice', scope => 'openid'), status => 403, error => 'insufficient_scope',
      checks => [ ch_is(scope => 'mcp:tools') ] },
    { name => 'sc-errdoc: no token behind a local ErrorDocument: 401', path => '/sc-errdoc', status => 401,
      checks => [ ch_is(scope => 'mcp:tools') ] },
    { name => 'sc-errdoc: scope present', path => '/sc-errdoc', token => tok('alice', scope => 'mcp:tools'), status => 200 },
    { name => 'sc-one: no scope claim: 403', path => '/sc-one', token => tok('alice'), status => 403, error => 'insufficient_scope' },
    { name => 'sc-one: empty scope: 403', path => '/sc-one', token => tok('alice', scope => ''), status => 403, error => 'insufficient_scope' },
    { name => 'sc-one: longer scope is not the scope', path => '/sc-one', token => tok('alice', scope => 'mcp:toolsX'),
      status => 403, error => 'insufficient_scope' },
    { name => 'sc-one: prefixed scope is not the scope', path => '/sc-one', token => tok('alice', scope => 'xmcp:tools mcp:tools2'),
      status => 403, error => 'insufficient_scope' },
    { name => 'sc-one: scope in another case', path => '/sc-one', token => tok('alice', scope => 'MCP:TOOLS'),
      status => 403, error => 'insufficient_scope' },
    { name => 'sc-one: tab is no scope separator', path => '/sc-one', token => tok('alice', scope => "openid\tmcp:tools"),
      status => 403, error => 'insufficient_scope' },
    { name => 'sc-one: comma is no scope separator', path => '/sc-one', token => tok('alice', scope => 'openid,mcp:tools'),
      status => 403, error => 'insufficient_scope' },
    { name => 'sc-one: scope as a number', path => '/sc-one', token => tok('alice', scope => 5), status => 403, error => 'insufficient_scope' },
    { name => 'sc-one: scp array', path => '/sc-one', token => tok('alice', scp => [ 'openid', 'mcp:tools' ]), status => 200 },
    { name => 'sc-one: scp string', path => '/sc-one', token => tok('alice', scp => 'openid mcp:tools'), status => 200 },
    { name => 'sc-one: scp array without it', path => '/sc-one', token => tok('alice', scp => [ 'openid', 'mcp:toolsX' ]),
      status => 403, error => 'insufficient_scope' },
    { name => 'sc-one: scope in another claim name', path => '/sc-one', token => tok('alice', scopes => 'mcp:tools', roles => ['mcp:tools']),
      status => 403, error => 'insufficient_scope' },

    # --- two scopes ----------------------------------------------------------------
    { name => 'sc-two: no token: 401 scope="a b"', path => '/sc-two', status => 401, checks => [ ch_is(scope => 'a b') ] },
    { name => 'sc-two: both', path => '/sc-two', token => tok('alice', scope => 'b a'), status => 200 },
    { name => 'sc-two: both and more', path => '/sc-two', token => tok('alice', scope => 'x a y b z'), status => 200 },
    { name => 'sc-two: only a: 403 asks for both', path => '/sc-two', token => tok('alice', scope => 'a'), status => 403,
      error => 'insufficient_scope', checks => [ insufficient('/sc-two', 'a b') ] },
    { name => 'sc-two: only b: 403 asks for both', path => '/sc-two', token => tok('alice', scope => 'b'), status => 403,
      error => 'insufficient_scope', checks => [ ch_is(scope => 'a b') ] },
    { name => 'sc-two: "a b" as one scp element is neither', path => '/sc-two', token => tok('alice', scp => ['a b']),
      status => 403, error => 'insufficient_scope' },

    # --- AuthzSendForbiddenOnFailure On: still 403 insufficient_scope ----------------------
    { name => 'sc-forbid: lacking scope: 403', path => '/sc-forbid', token => tok('alice', scope => 'b'), status => 403,
      error => 'insufficient_scope', checks => [ insufficient('/sc-forbid', 'a') ] },
    { name => 'sc-forbid: scope present', path => '/sc-forbid', token => tok('alice', scope => 'a'), status => 200 },
    { name => 'sc-forbid: no token: 401', path => '/sc-forbid', status => 401, checks => [ ch_is(scope => 'a') ] },

    # --- <RequireAny>: mcp-scope admin | mcp-claim sub alice ------------------------------
    { name => 'sc-any: alice without admin: granted, no challenge left', path => '/sc-any', token => tok('alice', scope => 'x'),
      status => 200, checks => [ user_is('alice') ] },
    { name => 'sc-any: bob with admin', path => '/sc-any', token => tok('bob', scope => 'admin'), status => 200,
      checks => [ user_is('bob') ] },
    { name => 'sc-any: bob without admin: 403', path => '/sc-any', token => tok('bob', scope => 'x'), status => 403,
      error => 'insufficient_scope', checks => [ insufficient('/sc-any', 'admin') ] },
    { name => 'sc-any: no token: 401 asks for admin', path => '/sc-any', status => 401, checks => [ ch_is(scope => 'admin') ] },

    # --- <RequireAll>: mcp-scope a & mcp-scope b c ---------------------------------------
    { name => 'sc-all: all three', path => '/sc-all', token => tok('alice', scope => 'c b a'), status => 200 },
    { name => 'sc-all: none: one challenge with all needed scopes', path => '/sc-all', token => tok('alice', scope => 'x'),
      status => 403, error => 'insufficient_scope', checks => [ insufficient('/sc-all', 'a b c') ] },
    { name => 'sc-all: a only: asks for b c', path => '/sc-all', token => tok('alice', scope => 'a'), status => 403,
      error => 'insufficient_scope', checks => [ ch_is(scope => 'b c') ] },
    { name => 'sc-all: b c only: asks for a', path => '/sc-all', token => tok('alice', scope => 'b c'), status => 403,
      error => 'insufficient_scope', checks => [ ch_is(scope => 'a') ] },
    { name => 'sc-all: a b only: asks for b c', path => '/sc-all', token => tok('alice', scope => 'a b'), status => 403,
      error => 'insufficient_scope', checks => [ ch_is(scope => 'b c') ] },
    { name => 'sc-all: no token: 401 asks for a b c', path => '/sc-all', status => 401, checks => [ ch_is(scope => 'a b c') ] },

    # --- scp with two required scopes --------------------------------------------------
    { name => 'sc-scp: scp array with both', path => '/sc-scp', token => tok('alice', scp => [ 'mcp:write', 'mcp:read' ]), status => 200 },
    { name => 'sc-scp: scp array with one', path => '/sc-scp', token => tok('alice', scp => ['mcp:read']), status => 403,
      error => 'insufficient_scope', checks => [ ch_is(scope => 'mcp:read mcp:write') ] },
    { name => 'sc-scp: no token: 401 asks for both', path => '/sc-scp', status => 401,
      checks => [ ch_is(scope => 'mcp:read mcp:write') ] },
    { name => 'sc-scp: scp array of non-strings', path => '/sc-scp', token => tok('alice', scp => [ 1, { 'mcp:read' => 1 }, ['mcp:write'] ]),
      status => 403, error => 'insufficient_scope' },

    # --- Require mcp-claim: strings ----------------------------------------------------
    { name => 'cl-email: match', path => '/cl-email', token => tok('alice', email => 'alice@example.test'), status => 200,
      checks => [ user_is('alice') ] },
    { name => 'cl-email: array element match', path => '/cl-email', token => tok('alice', email => [ 'x@y', 'alice@example.test' ]), status => 200 },
    { name => 'cl-email: other case: 401', path => '/cl-email', token => tok('alice', email => 'ALICE@example.test'), status => 401,
      checks => [ bearer(), ch_is(resource_metadata => prm('/cl-email')) ] },
    { name => 'cl-email: trailing space: 401', path => '/cl-email', token => tok('alice', email => 'alice@example.test '), status => 401 },
    { name => 'cl-email: prefix only: 401', path => '/cl-email', token => tok('alice', email => 'alice@example.tes'), status => 401 },
    { name => 'cl-email: absent: 401', path => '/cl-email', token => tok('alice'), status => 401, checks => [ bearer() ] },
    { name => 'cl-email: object holding it: 401', path => '/cl-email', token => tok('alice', email => { v => 'alice@example.test' }), status => 401 },
    { name => 'cl-email: no token: 401', path => '/cl-email', status => 401, checks => [ bearer() ] },
    { name => 'cl-email: bad token: 401 invalid_token', path => '/cl-email',
      token => tok('alice', email => 'alice@example.test', exp => time - 3600), status => 401, error => 'invalid_token' },
    # arrays
    { name => 'cl-groups: array with it', path => '/cl-groups', token => tok('alice', groups => [ 'users', 'admins' ]), status => 200 },
    { name => 'cl-groups: string equal', path => '/cl-groups', token => tok('alice', groups => 'admins'), status => 200 },
    { name => 'cl-groups: array without it', path => '/cl-groups', token => tok('alice', groups => ['users']), status => 401 },
    { name => 'cl-groups: nested array is no match', path => '/cl-groups', token => tok('alice', groups => [ ['admins'] ]), status => 401 },
    { name => 'cl-groups: object key is no match', path => '/cl-groups', token => tok('alice', groups => { admins => JSON::PP::true }), status => 401 },
    { name => 'cl-groups: comma list is no match', path => '/cl-groups', token => tok('alice', groups => 'users,admins'), status => 401 },
    { name => 'cl-groups: empty array', path => '/cl-groups', token => tok('alice', groups => []), status => 401 },
    # nested
    { name => 'cl-nested: realm_access.roles contains admin', path => '/cl-nested',
      token => tok('alice', realm_access => { roles => [ 'user', 'admin' ] }), status => 200 },
    { name => 'cl-nested: realm_access.roles is "admin"', path => '/cl-nested', token => tok('alice', realm_access => { roles => 'admin' }),
      status => 200 },
    { name => 'cl-nested: roles without admin', path => '/cl-nested', token => tok('alice', realm_access => { roles => ['user'] }), status => 401 },
    { name => 'cl-nested: realm_access absent', path => '/cl-nested', token => tok('alice', roles => ['admin']), status => 401 },
    { name => 'cl-nested: realm_access is an array', path => '/cl-nested',
      token => tok('alice', realm_access => [ { roles => ['admin'] } ]), status => 401 },
    { name => 'cl-nested: deeper path is not it', path => '/cl-nested',
      token => tok('alice', resource_access => { realm_access => { roles => ['admin'] } }), status => 401 },
    # booleans and integers
    { name => 'cl-bool: true', path => '/cl-bool', token => tok('alice', email_verified => JSON::PP::true), status => 200 },
    { name => 'cl-bool: false', path => '/cl-bool', token => tok('alice', email_verified => JSON::PP::false), status => 401 },
    { name => 'cl-bool: 1', path => '/cl-bool', token => tok('alice', email_verified => 1), status => 401 },
    { name => 'cl-bool: absent', path => '/cl-bool', token => tok('alice'), status => 401 },
    { name => 'cl-int: 3', path => '/cl-int', token => tok('alice', level => 3), status => 200 },
    { name => 'cl-int: "3"', path => '/cl-int', token => tok('alice', level => '3'), status => 200 },
    { name => 'cl-int: in an array', path => '/cl-int', token => tok('alice', level => [ 1, 3 ]), status => 200 },
    { name => 'cl-int: 4', path => '/cl-int', token => tok('alice', level => 4), status => 401 },
    { name => 'cl-int: 30', path => '/cl-int', token => tok('alice', level => 30), status => 401 },
    { name => 'cl-int: 3.5', path => '/cl-int', token => tok('alice', level => 3.5), status => 401 },
    { name => 'cl-int: true', path => '/cl-int', token => tok('alice', level => JSON::PP::true), status => 401 },
    # AuthzSendForbiddenOnFailure On
    { name => 'cl-403: failing claim: 403 with a Bearer challenge', path => '/cl-403', token => tok('alice', groups => ['users']),
      status => 403, checks => [ bearer(), ch_is(resource_metadata => prm('/cl-403')) ] },
    { name => 'cl-403: matching claim', path => '/cl-403', token => tok('alice', groups => ['admins']), status => 200 },
    # Require user (README: REMOTE_USER is the sub; a failure still gets the challenge)
    { name => 'cl-user: bob', path => '/cl-user', token => tok('bob'), status => 200, checks => [ user_is('bob') ] },
    { name => 'cl-user: alice is not bob: 401 with a Bearer challenge', path => '/cl-user', token => tok('alice'), status => 401,
      checks => [ bearer() ] },
    { name => 'cl-403: no token: 401', path => '/cl-403', status => 401, checks => [ bearer() ] },
);

plan tests => cases_tests(\@cases) + 3;

my $mark = error_log_size();
run_cases(\@cases);

my $log = error_log_since($mark);
ok t_cmp($log, qr/MCPAUTH0006: alice lacks scope mcp:tools for \/sc-one/, 'lacking scope logged (MCPAUTH0006)');
ok t_cmp($log, qr/MCPAUTH0007: alice: claim email does not hold alice\@example\.test for \/cl-email/,
         'failing claim logged (MCPAUTH0007)');

# RequireAny granted: the response carries no trace of the denied branch.
{
    my $res = http(GET => 'i3', '/sc-any', headers => [ Authorization => 'Bearer ' . mint(%{ tok('alice', scope => 'x') }) ]);
    ok t_cmp(join('|', $res->code, scalar(challenges($res)) // ''), '200|', 'sc-any granted: 200, no WWW-Authenticate');
}
