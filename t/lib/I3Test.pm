package I3Test;
# Table-driven cases against the i3 vhost (t/conf/issue3.conf.in).
#
#   my @cases = ( { name => ..., path => '/m-query?access_token=%T',
#                   token => SPEC-or-STRING, status => 200, error => undef,
#                   checks => [ [ 'desc', sub { my ($res, $echo) = @_; ... }, EXPECTED ] ] }, ... );
#   plan tests => cases_tests(\@cases) + ...;
#   run_cases(\@cases);
#
# Case fields:
#   name     description
#   method   GET (default), POST, ...
#   vhost    i3 (default)
#   path     request target; %T / %U are replaced by token / token2
#   headers  [ NAME => VALUE, ... ] (values may use %T / %U)
#   body     request body (may use %T / %U); ctype: its Content-Type
#   token    a mint spec (HASH, minted in one batch) or a literal string;
#            when no %T appears anywhere, it goes in "Authorization: Bearer"
#   token2   a second token (%U)
#   status   expected status
#   error    expected error= of the challenge (undef: none; for a 2xx: no
#            WWW-Authenticate at all)
#   no_challenge  assert no WWW-Authenticate at all (an error of httpd core)
#   reach    whether the backend is reached (default: status is 2xx)
#   raw      the backend is the raw header echo (no hit log)
#   checks   extra assertions: [ desc, CODE($res, $echo, $case), EXPECTED ]
#            ($case->{sent_path}, $case->{sent_body}: what was sent)
# Each case is 3 tests (status, error, backend) plus one per check.
use strict;
use warnings;

use Exporter 'import';
use Apache::Test ();
use Apache::TestUtil ();
use HTTP::Request ();
use IO::Socket::INET ();
use JSON::PP ();
use LWP::UserAgent ();
use MIME::Base64 ();
use MCPTest;
use MintToken;

our @EXPORT = qw(i3_iss i3_claims i3_spec http cases_tests run_cases access_log_user access_log_line
                 b64u unb64u sig_of raw_http json_of all_tokens
                 user_is body_is clen_is query_is no_auth no_token_at_backend);

sub i3_iss { url('i3idp', '/realms/test') }

# Claims every i3 location accepts; an override of undef removes a claim.
sub i3_claims { MintToken::claims(-iss => i3_iss(), -aud => 'urn:i3', @_) }

# A spec: rsa1/RS256 unless told (key => ..., header => {...}), claims overridable.
sub i3_spec {
    my %o = @_;
    my $key = delete $o{-key} // 'rsa1';
    my $hdr = delete $o{-header} // { alg => 'RS256', kid => 'rsa1' };
    return { key => $key, header => $hdr, payload => i3_claims(%o) };
}

# Checks for run_cases on what the echo backend saw.
sub user_is  { [ 'X-Remote-User', sub { $_[1]{headers}{'x-remote-user'} // '(none)' }, $_[0] ] }
sub body_is  { [ 'backend body', sub { $_[1]{body} }, $_[0] ] }
sub clen_is  { [ 'backend Content-Length', sub { $_[1]{content_length} // 0 }, $_[0] ] }
sub query_is { [ 'backend query', sub { $_[1]{query} }, $_[0] ] }
sub no_auth  { [ 'no Authorization at the backend', sub { exists $_[1]{headers}{authorization} ? 'present' : 'absent' }, 'absent' ] }
# The token's signature appears nowhere in what the backend saw.
sub no_token_at_backend {
    [ 'token nowhere at the backend', sub {
          my ($res, $e, $c) = @_;
          my $sig = sig_of($c->{token});
          index(JSON::PP->new->canonical->encode($e), $sig) >= 0 ? 'leaked' : 'clean' }, 'clean' ];
}

sub b64u   { my $s = MIME::Base64::encode_base64url($_[0]); $s =~ s/=+$//; $s }
sub unb64u { MIME::Base64::decode_base64url($_[0]) }
sub sig_of { substr($_[0], rindex($_[0], '.') + 1) }
sub json_of { my $r = shift; eval { JSON::PP->new->decode($r->decoded_content) } }

# http(METHOD, VHOST, PATH, headers => [...], body => STR, ctype => STR)
sub http {
    my ($method, $vhost, $path, %o) = @_;
    my $ua = LWP::UserAgent->new(max_redirect => 0, timeout => 30, keep_alive => 0);
    my $r = HTTP::Request->new($method => url($vhost, $path));
    my @h = @{ $o{headers} || [] };
    while (my ($k, $v) = splice @h, 0, 2) {
        $r->push_header($k => $v);
    }
    if (defined $o{body}) {
        $r->header('Content-Type' => $o{ctype}) if defined $o{ctype};
        $r->content($o{body});
        $r->header('Content-Length' => length $o{body});
    }
    return $ua->request($r);
}

# A raw HTTP/1.1 exchange (request text as is); returns the response text.
sub raw_http {
    my ($vhost, $text) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => port($vhost),
                                  Proto => 'tcp', Timeout => 30) or return '';
    print $s $text;
    local $/;
    my $res = <$s> // '';
    close $s;
    return $res;
}

# The access log line that contains needle, once it is written ('' if none).
sub access_log_line {
    my $needle = shift;
    my $alog = Apache::Test::vars('t_logs') . '/access_log';
    for (1 .. 40) {
        if (open my $fh, '<', $alog) {
            my ($line) = grep { index($_, $needle) >= 0 } <$fh>;
            close $fh;
            return $line if $line;
        }
        select undef, undef, undef, 0.05;
    }
    return '';
}

# The user field of the access log line for a unique path marker.
sub access_log_user {
    my $line = access_log_line(shift);
    return $line ? (split / /, $line)[2] : undef;
}

sub cases_tests {
    my $cases = shift;
    my $n = 0;
    $n += 3 + scalar(@{ $_->{checks} || [] }) for @$cases;
    return $n;
}

my @ALL_TOKENS;
sub all_tokens { @ALL_TOKENS }

sub _mint_all {
    my $cases = shift;
    my (@slots, @plain);
    for my $c (@$cases) {
        for my $f (qw(token token2)) {
            if (ref $c->{$f} eq 'HASH') { push @slots, [ $c, $f ] }
            elsif (defined $c->{$f})    { push @plain, [ $c, $f ] }
        }
    }
    my @t = mint_many(map { $_->[0]{ $_->[1] } } @slots);
    $_->[0]{ $_->[1] } = shift @t for @slots;
    # token_post / token2_post: string surgery on the minted token
    for my $s (@slots, @plain) {
        my ($c, $f) = @$s;
        $c->{$f} = $c->{"${f}_post"}->($c->{$f}) if $c->{"${f}_post"};
    }
}

sub _subst {
    my ($s, $c) = @_;
    return $s unless defined $s;
    $s =~ s/%T/$c->{token}/g if defined $c->{token};
    $s =~ s/%U/$c->{token2}/g if defined $c->{token2};
    return $s;
}

sub run_cases {
    my $cases = shift;
    _mint_all($cases);
    for my $c (@$cases) {
        my $name = $c->{name};
        my @h = map { _subst($_, $c) } @{ $c->{headers} || [] };
        my $uses = join "\n", grep { defined } $c->{path}, $c->{body}, @{ $c->{headers} || [] };
        if (defined $c->{token} && $uses !~ /%T/) {
            push @h, Authorization => "Bearer $c->{token}";
        }
        # (for log hygiene checks: tokens with a real signature)
        push @ALL_TOKENS, grep { defined && length(sig_of($_)) > 20 } $c->{token}, $c->{token2};
        my $hits = echo_hits();
        $c->{sent_path} = _subst($c->{path}, $c);
        $c->{sent_body} = _subst($c->{body}, $c);
        my $res = http($c->{method} // 'GET', $c->{vhost} // 'i3', $c->{sent_path},
                       headers => \@h, body => $c->{sent_body}, ctype => $c->{ctype});
        my $reach = $c->{reach} // ($c->{status} >= 200 && $c->{status} < 300);
        Apache::Test::ok(Apache::TestUtil::t_cmp($res->code, $c->{status}, "$name: status"));
        if ($c->{no_challenge}) {
            Apache::Test::ok(Apache::TestUtil::t_cmp(join(' | ', challenges($res)), '',
                                                     "$name: no WWW-Authenticate (answered before the module)"));
        }
        elsif ($c->{status} >= 400) {
            my $ch = challenge($res);
            Apache::Test::ok(Apache::TestUtil::t_cmp(
                $ch ? ($ch->{scheme} eq 'Bearer' ? ($ch->{error} // '(none)') : "scheme $ch->{scheme}")
                    : 'no single challenge',
                $c->{error} // '(none)', "$name: error=" . ($c->{error} // '(none)')));
        }
        else {
            Apache::Test::ok(Apache::TestUtil::t_cmp(join(' | ', challenges($res)), '',
                                                     "$name: no WWW-Authenticate"));
        }
        if ($ENV{I3_DIAG}) {        # I3_DIAG=1: why each case was answered as it was
            my $ch = challenge($res) || {};
            print "# diag: $name => ", $res->code, ' ', $ch->{error_description} // '', "\n";
        }
        my $echo = echo_of($res);
        if ($c->{raw}) {
            my $seen = ($res->decoded_content // '') =~ /^Host: /m ? 1 : 0;
            Apache::Test::ok(Apache::TestUtil::t_cmp($seen, $reach ? 1 : 0,
                                                     "$name: backend " . ($reach ? '' : 'not ') . 'reached'));
        }
        else {
            my $seen = (defined $echo ? 1 : 0) . '/' . (echo_hits() - $hits);
            Apache::Test::ok(Apache::TestUtil::t_cmp($seen, $reach ? '1/1' : '0/0',
                                                     "$name: backend " . ($reach ? '' : 'not ') . 'reached (echo/hits)'));
        }
        for my $chk (@{ $c->{checks} || [] }) {
            my ($desc, $code, $want) = @$chk;
            my $got = eval { $code->($res, $echo || { headers => {} }, $c) };
            $got = "died: $@" if $@;
            Apache::Test::ok(Apache::TestUtil::t_cmp($got, $want, "$name: $desc"));
        }
    }
}

1;
