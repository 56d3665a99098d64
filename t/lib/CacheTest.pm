package CacheTest;
# Helpers of the cache/outage tests (t/2x-cache-*.t): the scriptable IdP
# (t/cgi-bin/idp, vhost i4idp), tokens for the i4 locations, the status
# handler, and concurrent clients.
use strict;
use warnings;

use Exporter 'import';
use File::Basename ();
use File::Spec ();
use File::Temp ();
use JSON::PP ();
use LWP::UserAgent ();
use HTTP::Request ();
use POSIX ();
use Time::HiRes ();
use MCPTest;
use MintToken;

our @EXPORT = qw(i4_iss i4_claims set_mode reset_set fetches disco_fetches fetch_log
                 bearer status_json key_status counters auto_status concurrent
                 summarize shared_memory shared_memory_holding);

my $FIX = MintToken::fixtures_dir();
my $LIB = File::Spec->rel2abs(File::Basename::dirname(__FILE__));
# (bounded: a node that hangs at startup must not hang the suite)
system('timeout', '60', 'node', "$LIB/mint_cache.mjs", $FIX) == 0
    or system('timeout', '60', 'node', "$LIB/mint_cache.mjs", $FIX) == 0
    or die "mint_cache.mjs failed\n";

# Issuer of the i4 locations (realm 'i4') or of a discovery issuer /t/NAME.
sub i4_iss { url('i4idp', '/t/' . ($_[0] // 'i4')) }

# Claims the i4 locations accept; overrides as in MintToken::claims.
sub i4_claims { MintToken::claims(-iss => i4_iss(), -aud => 'urn:i4', @_) }

# What /idp/NAME answers (see t/cgi-bin/idp), e.g. "file i4-good.json".
sub set_mode { my ($name, $mode) = @_; write_state("$name.current", "$mode\n") }

# A fresh key set: mode set, hit logs emptied.
sub reset_set {
    my ($name, $mode) = @_;
    set_mode($name, $mode);
    write_state("$name.hits", '');
    write_state("$name-disco.hits", '');
}

sub fetches       { scalar(my @l = read_lines("$_[0].hits")) }
sub disco_fetches { scalar(my @l = read_lines("$_[0]-disco.hits")) }
sub fetch_log     { join "\n", read_lines("$_[0].hits") }

sub bearer {
    my ($vhost, $path, $token) = @_;
    return req(GET => $vhost, $path, defined $token ? (Authorization => "Bearer $token") : ());
}

my $json = JSON::PP->new->canonical;

# The JSON of SetHandler mcp-auth-status on the i4 vhost (undef if not JSON).
# With a UA the request goes over that (keep-alive) connection.
sub status_json {
    my ($ua, $vhost) = @_;
    $ua ||= LWP::UserAgent->new(timeout => 30, keep_alive => 0);
    my $res = $ua->get(url($vhost || 'i4', '/mcp-auth-status'));
    return undef unless $res->code == 200;
    return eval { $json->decode($res->decoded_content) };
}

# The entry of status 'keys' whose key set (or discovery) is /idp/NAME.
sub key_status {
    my ($st, $name) = @_;
    for my $e (@{ ($st || {})->{keys} || [] }) {
        my $u = ($e->{jwks} || {})->{url} // '';
        return $e if $u =~ m{/idp/\Q$name\E$};
    }
    return undef;
}

sub counters { (status_json() || {})->{tokens} }

# server-status?auto as { name => value } (only the MCPAuth* lines).
sub auto_status {
    my $res = req(GET => 'i4', '/server-status?auto');
    my %v;
    for (split /\n/, $res->decoded_content // '') {
        $v{$1} = $2 if /^(MCPAuth\w+):\s*(\d+)\s*$/;
    }
    return \%v;
}

# Requests concurrent() asked again (keep-alive races) in its last run.
our $RETRIES = 0;

# Concurrent clients. Options:
#   url        full URL (or urls: [URL...], client i uses URL i % n)
#   tokens     array of tokens (undef: no Authorization); spread round-robin
#   conns      number of client processes (default 20)
#   keep_alive 1: one connection per client, 0: a new one per request
#   seconds    instead of tokens: each client loops on token(s) until then
#   sync       all clients start at the same moment (default 1)
# Returns a list of [code, client, detail] (detail: WWW-Authenticate error or
# LWP's message for non-2xx) and the elapsed seconds.
sub concurrent {
    my %o = @_;
    my $conns = $o{conns} || 20;
    my @tokens = @{ $o{tokens} || [] };
    my $dir = File::Temp->newdir('mcp-conc-XXXXXX', TMPDIR => 1);
    pipe(my $gate_r, my $gate_w) or die "pipe: $!";
    my @pids;
    for my $c (0 .. $conns - 1) {
        my $pid = fork;
        die "fork: $!" unless defined $pid;
        if ($pid == 0) {
            close $gate_w;
            my $rc = 0;
            eval {
                my @mine = $o{seconds} ? @tokens
                         : @tokens[grep { $_ % $conns == $c } 0 .. $#tokens];
                open my $out, '>', "$dir/$c" or die "$dir/$c: $!";
                $out->autoflush(1);
                my $ua = LWP::UserAgent->new(timeout => 30, keep_alive => $o{keep_alive} ? 1 : 0,
                                             max_redirect => 0);
                my $u = $o{urls} ? $o{urls}[$c % @{ $o{urls} }] : $o{url};
                if ($o{sync} // 1) { my $x = <$gate_r>; }
                my $one = sub {
                    my $t = shift;
                    my $r = HTTP::Request->new(GET => $u);
                    $r->header(Authorization => "Bearer $t") if defined $t;
                    my $res = $ua->request($r);
                    # A reused keep-alive connection the server had just
                    # closed: never answered, so asked again (as browsers do).
                    if ($o{keep_alive} && $res->code == 500 && ($res->header('Client-Warning') // '') eq 'Internal response'
                        && $res->message =~ /closed connection without sending any data/) {
                        print $out "retry $c\n";
                        $res = $ua->request($r);
                    }
                    my $detail = '';
                    if ($res->code !~ /^2/) {
                        my $h = $res->header('WWW-Authenticate') // '';
                        $detail = $h =~ /error="([^"]*)"/ ? $1 : ($res->message // '');
                        $detail .= ' ' . ($res->header('Client-Warning') // '')
                            if $res->header('Client-Warning');
                        $detail =~ s/\s+/ /g;
                    }
                    printf $out "%d %d %.3f %s\n", $res->code, $c, Time::HiRes::time(), $detail;
                };
                if ($o{seconds}) {
                    my $until = Time::HiRes::time() + $o{seconds};
                    my $i = $c;
                    while (Time::HiRes::time() < $until) {
                        $one->($mine[$i++ % @mine]);
                    }
                }
                else {
                    $one->($_) for @mine;
                }
                close $out;
            };
            if ($@) { warn "client $c: $@"; $rc = 1 }
            POSIX::_exit($rc);   # no END blocks in the children
        }
        push @pids, $pid;
    }
    close $gate_r;
    my $t0 = Time::HiRes::time();
    close $gate_w;   # go
    waitpid $_, 0 for @pids;
    my $elapsed = Time::HiRes::time() - $t0;
    my @results;
    $RETRIES = 0;
    for my $c (0 .. $conns - 1) {
        open my $in, '<', "$dir/$c" or next;
        while (<$in>) {
            chomp;
            $RETRIES++, next if /^retry /;
            my ($code, $client, $t, $detail) = split / /, $_, 4;
            push @results, [ $code, $client, $detail // '', $t ];
        }
    }
    return (\@results, $elapsed);
}

# "200 x5, 401 x3 (invalid_token)" of concurrent()'s results.
sub summarize {
    my %n;
    $n{"$_->[0]" . ($_->[2] ne '' ? " ($_->[2])" : '')}++ for @{ $_[0] };
    return join ', ', map { "$_ x$n{$_}" } sort keys %n;
}

# The shared caches (shmcb: anonymous shared memory the httpd parent maps)
# as root reads them in /proc: [pid and address range, bytes] per segment.
sub shared_segments {
    no warnings 'portable';     # addresses beyond 32 bits
    open my $pf, '<', Apache::Test::vars('t_logs') . '/httpd.pid' or return;
    my ($pid) = <$pf> =~ /(\d+)/ or return;
    open my $maps, '<', "/proc/$pid/maps" or return;
    open my $mem, '<:raw', "/proc/$pid/mem" or return;
    my @segments;
    while (<$maps>) {
        my ($range, $from, $to) = m{^(([0-9a-f]+)-([0-9a-f]+)) rw-s .* /dev/zero} or next;
        my $data = '';
        next unless sysseek($mem, hex $from, 0) && (sysread($mem, $data, hex($to) - hex($from)) // 0) > 0;
        push @segments, [ "pid $pid, $range", $data ];
    }
    return @segments;
}

# All of them: (where, bytes), or () when they cannot be read.
sub shared_memory {
    my @s = shared_segments() or return;
    return (join('; ', map { $_->[0] } @s), join('', map { $_->[1] } @s));
}

# The segment holding $needle: (where, bytes), or ().
sub shared_memory_holding {
    my $needle = shift;
    for (shared_segments()) {
        return @$_ if index($_->[1], $needle) >= 0;
    }
    return;
}

1;
