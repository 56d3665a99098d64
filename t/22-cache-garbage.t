# An IdP answering garbage on refresh never replaces the good copy: the
# valid token stays accepted and the status handler shows the failed fetch.
# One location per kind (/i4/gNAME, MCPAuthJWKSRefresh 1 1; /i4/gbig also
# MCPAuthFetchMaxSize 8192), so all expire together and are checked at once.
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

# name => [ garbage mode, what last_error must say ]
my @kinds = (
    [ g503     => 'status 503',            qr/HTTP status 503/ ],
    [ ghtml    => 'html',                  qr/\S/ ],
    [ gempty   => 'empty',                 qr/\S/ ],
    [ gnokeys  => 'file i4-nokeys.json',   qr/key/i ],
    [ ginvalid => 'file i4-invalid.json',  qr/\S/ ],
    [ gweak    => 'file i4-weak.json',     qr/no usable signing key/ ],
    [ gbig     => 'file i4-oversized.json', qr/larger than 8192 bytes/ ],
);
plan tests => 1 + 11 * @kinds;

my ($good) = mint_many(
    { key => 'rsa1', header => { alg => 'RS256', kid => 'i4a' }, payload => i4_claims(sub => 'ann') });

my $last = 0;
for my $k (@kinds) {
    my ($name) = @$k;
    reset_set($name, 'file i4-good.json');
    my $res = bearer('i4', "/i4/$name", $good);
    ok t_cmp($res->code, 200, "$name: accepted with the good key set");
    ok t_cmp(fetches($name), 1, "$name: one fetch");
    my @l = read_lines("$name.hits");
    $last = (split / /, $l[-1])[0] if @l;
}
set_mode($_->[0], $_->[1]) for @kinds;
my $wait = $last + 1.3 - time;
sleep $wait if $wait > 0;   # every copy past its 1 s freshness

my $log0 = error_log_size();
for my $k (@kinds) {
    my ($name, $mode) = @$k;
    my $res = bearer('i4', "/i4/$name", $good);
    ok t_cmp($res->code, 200, "$name ($mode): valid token still accepted");
    ok t_cmp(fetches($name), 2, "$name: one refresh attempt");
}
my $st = status_json();
for my $k (@kinds) {
    my ($name, $mode, $why) = @$k;
    my $j = (key_status($st, $name) || {})->{jwks} || {};
    t_debug("$name ($mode): last_error: " . ($j->{last_error} // '(none)'));
    ok t_cmp($j->{last_fetch_ok} ? 'true' : 'false', 'false', "$name: status last_fetch_ok false");
    ok t_cmp($j->{last_error} // '', $why, "$name: status last_error");
    ok t_cmp(join(',', @{ $j->{kids} || [] }), 'i4a', "$name: status still lists the old kid");
    ok t_cmp($j->{usable} ? 'usable' : 'unusable', 'usable', "$name: status usable");
    ok t_cmp("$j->{fetches}/$j->{failures}", '2/1', "$name: status fetches/failures");
}
# Other processes and connections: all still on the good copy, no fetch.
for my $k (@kinds) {
    my ($name) = @$k;
    my ($r) = concurrent(url => url('i4', "/i4/$name"), tokens => [ ($good) x 6 ], conns => 3);
    ok t_cmp(summarize($r), '200 x6', "$name: 6 requests on new connections accepted");
    ok t_cmp(fetches($name), 2, "$name: no further fetch within the backoff");
}
my $log = error_log_since($log0, qr/MCPAUTH0014/);
t_debug("rejection: $_") for grep { /MCPAUTH0013/ } split /\n/, $log;
my %warned = map { $_->[0] => 0 } @kinds;
for my $k (@kinds) {
    $warned{ $k->[0] }++ if $log =~ m{MCPAUTH0014: refresh of \S+/idp/$k->[0] failed};
}
ok t_cmp(join(',', grep { !$warned{$_} } map { $_->[0] } @kinds), '',
         'a warning names every failed refresh');
