package MCPTest;
# Shared helpers of the mod_mcp_auth Apache::Test suite: ports and URLs of
# the test vhosts, requests, challenge parsing, fixture logs.
use strict;
use warnings;

use Exporter 'import';
use Apache::Test ();
use Apache::TestUtil ();
use LWP::UserAgent ();
use HTTP::Request ();
use JSON::PP ();
use Time::HiRes ();
use MintToken;

our @EXPORT = qw(port url issuer std_claims req challenges challenge echo_of
                 echo_hits state_file write_state read_lines error_log_size
                 error_log_since is_echo rpc_of rpc_outcome yes poll);

MintToken::ensure_fixtures();

# ok() for a boolean with a description (Test.pm's ok(A, B) compares A to B).
sub yes {
    my ($cond, $name) = @_;
    Apache::Test::ok(Apache::TestUtil::t_cmp($cond ? 'true' : 'false', 'true', $name));
}

sub port   { Apache::Test::vars($_[0] . '_port') }
sub url    { my ($vhost, $path) = @_; "http://localhost:" . port($vhost) . $path }
sub issuer { my $realm = shift || 'test'; url('idp', "/realms/$realm") }

# Claims of a token /mcp accepts (audience = its default resource).
sub std_claims { MintToken::claims(-iss => issuer(), -aud => url('mcp', '/mcp'), @_) }

# req(METHOD, VHOST, PATH, HEADER => VALUE ...); a header may repeat.
# A fresh request each time; repeated headers stay separate lines.
sub req {
    my ($method, $vhost, $path, @headers) = @_;
    my $ua = LWP::UserAgent->new(max_redirect => 0, timeout => 30, keep_alive => 0);
    my $r = HTTP::Request->new($method => url($vhost, $path));
    while (my ($k, $v) = splice @headers, 0, 2) {
        $r->push_header($k => $v);
    }
    return $ua->request($r);
}

# All WWW-Authenticate values of a response.
sub challenges {
    my $res = shift;
    return $res->headers->header('WWW-Authenticate');
}

# Parses a single Bearer challenge into { scheme => 'Bearer', PARAM => value }.
# Returns undef unless the response has exactly one WWW-Authenticate.
sub challenge {
    my $res = shift;
    my @all = challenges($res);
    return undef unless @all == 1;
    my $h = $all[0];
    my %c;
    ($c{scheme}, my $rest) = $h =~ /^(\S+)\s*(.*)$/s;
    while ($rest =~ /\G\s*([A-Za-z_]+)="((?:[^"\\]|\\.)*)"\s*,?/gc) {
        $c{$1} = $2;
    }
    return \%c;
}

# The echo backend's view of the request, or undef if the response is not one.
sub echo_of {
    my $res = shift;
    return undef unless ($res->header('X-Echo-Backend') // '') eq '1';
    return eval { JSON::PP->new->decode($res->decoded_content) };
}
sub is_echo { defined echo_of(shift) }

# An MCP answer's JSON-RPC body (UTF-8), or undef.
sub rpc_of { my $r = shift; my $d = eval { JSON::PP->new->utf8->decode($r->content) }; $d }

# What a client sees of an MCP request: 'backend' (forwarded), or the status
# with the JSON-RPC error code ("400 rpc -32700") or OAuth error.
sub rpc_outcome {
    my $r = shift;
    return 'backend' if is_echo($r);
    my $d = rpc_of($r);
    return $r->code . ' ' . (ref $d eq 'HASH' && ref $d->{error} eq 'HASH' ? "rpc $d->{error}{code}"
                             : ref $d eq 'HASH' && $d->{error} ? "oauth $d->{error}" : 'other');
}

sub state_file { MintToken::fixtures_dir() . "/state/" . shift }

sub write_state {
    my ($name, $content) = @_;
    my $f = state_file($name);
    open my $fh, '>', "$f.tmp" or die "$f.tmp: $!";
    print $fh $content;
    close $fh;
    chmod 0666, "$f.tmp";
    rename "$f.tmp", $f or die "rename $f: $!";
}

sub read_lines {
    my $f = state_file(shift);
    open my $fh, '<', $f or return ();
    my @l = <$fh>;
    chomp @l;
    return @l;
}

sub echo_hits { scalar(my @l = read_lines('echo-hits.log')) }

my $ERROR_LOG = Apache::Test::vars('t_logs') . '/error_log';
sub error_log_size { -s $ERROR_LOG || 0 }

# Error log text written after offset $from (from error_log_size()).
# Waits up to $seconds (default 1) for $wait_for: log lines of a request may
# land just after the response.
sub error_log_since {
    my ($from, $wait_for, $seconds) = @_;
    my $text = '';
    for (1 .. 20 * ($seconds || 1)) {
        open my $fh, '<', $ERROR_LOG or return '';
        seek $fh, $from, 0;
        local $/;
        $text = <$fh> // '';
        close $fh;
        last if !defined $wait_for || $text =~ $wait_for;
        Time::HiRes::sleep(0.05);
    }
    return $text;
}

# Polls $cond every 0.1 s until it holds or $seconds pass; its last value.
sub poll {
    my ($seconds, $cond) = @_;
    my $until = Time::HiRes::time() + $seconds;
    while (1) {
        my $v = $cond->();
        return $v if $v || Time::HiRes::time() >= $until;
        Time::HiRes::sleep(0.1);
    }
}

1;
