package PrivateRedis;
# A private redis-server for a test (no persistence, its own port and
# directory) that can be stopped and started again on the same port, to play
# an outage of the shared store. Stopped when the object goes, when the test
# process exits (END), and on SIGINT/SIGTERM, also after a failure; only by
# the process that started it (concurrent() clients fork).
#
#   my $why = PrivateRedis::unavailable();   # undef, or why redis cannot be had
#   my $redis = PrivateRedis->new(6391);
#   $redis->start or die; ... $redis->stop; $redis->start; ...
use strict;
use warnings;

use File::Temp ();
use IO::Socket::INET ();
use Time::HiRes ();

my $MODULE = '/usr/lib/apache2/modules/mod_socache_redis.so';
my %live;
my $OWNER = $$;

sub have { !grep { system('sh', '-c', "command -v $_ >/dev/null") != 0 } qw(redis-server redis-cli) }

# undef when redis-server, redis-cli and mod_socache_redis are there
# (installing redis-server first if it is missing), else why not.
sub unavailable {
    system('sh', '-c', 'timeout 300 apt-get install -y redis-server >/dev/null 2>&1') unless have();
    return 'redis-server could not be installed (apt-get install -y redis-server)' unless have();
    return "$MODULE is missing" unless -f $MODULE;
    return undef;
}

sub new {
    my ($class, $port) = @_;
    my $tmp = File::Temp->newdir('mcp-redis-XXXXXX', TMPDIR => 1);
    chmod 0755, "$tmp";
    return bless { port => $port, tmp => $tmp, dir => "$tmp", pid => undef }, $class;
}

sub port { $_[0]{port} }

sub up {
    my ($self) = @_;
    return IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $self->{port}, Timeout => 1) ? 1 : 0;
}

# Whether it answers PING (a port that accepts is not yet a server that answers).
sub answers {
    my ($self) = @_;
    my $out = `redis-cli -h 127.0.0.1 -p $self->{port} ping 2>&1`;
    return $out =~ /PONG/ ? 1 : 0;
}

sub alive { my $p = $_[0]{pid}; $p && kill 0, $p }

# Starts it and waits (up to 20 s) until it answers. Dies when the port is
# taken by something else.
sub start {
    my ($self) = @_;
    die "port $self->{port} is already in use: cannot start a private redis-server\n" if $self->up;
    unlink "$self->{dir}/server.pid";
    system('redis-server', '--port', $self->{port}, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
           '--daemonize', 'yes', '--dir', $self->{dir}, '--pidfile', "$self->{dir}/server.pid",
           '--logfile', "$self->{dir}/server.log") == 0
        or die "redis-server failed to start\n";
    my $until = Time::HiRes::time() + 20;
    while (Time::HiRes::time() < $until) {
        my $pid = slurp("$self->{dir}/server.pid") =~ /(\d+)/ ? $1 : undef;
        if ($pid) {
            $self->{pid} = $pid;
            $live{"$self"} = $self;
        }
        return 1 if $pid && $self->answers;
        Time::HiRes::sleep(0.1);
    }
    return 0;
}

# Stops it (SHUTDOWN NOSAVE, then TERM, then KILL) and waits until the port
# is closed. Returns whether it is gone.
sub stop {
    my ($self) = @_;
    return 1 unless $$ == $OWNER;
    my $pid = $self->{pid};
    delete $live{"$self"};
    return !$self->up unless $pid;
    system("redis-cli -h 127.0.0.1 -p $self->{port} shutdown nosave >/dev/null 2>&1") if kill 0, $pid;
    for my $i (1 .. 150) {
        last unless kill 0, $pid;
        kill 'TERM', $pid if $i == 50;
        kill 'KILL', $pid if $i == 100;
        Time::HiRes::sleep(0.1);
    }
    undef $self->{pid};
    for (1 .. 50) {
        return 1 unless $self->up;
        Time::HiRes::sleep(0.1);
    }
    return 0;
}

sub log_text { slurp("$_[0]{dir}/server.log") }

sub slurp { open my $fh, '<', shift or return ''; local $/; <$fh> // '' }

# Every value stored, as raw bytes (SCAN and GET spoken over one
# connection in RESP, the keys being binary): what anyone who can read this
# redis sees.
sub all_values {
    my ($self) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $self->{port}, Timeout => 5) or return;
    my $command = sub {
        print $sock '*' . scalar(@_) . "\r\n" . join('', map { '$' . length($_) . "\r\n$_\r\n" } @_);
        return read_reply($sock);
    };
    my ($cursor, @values) = ('0');
    do {
        my $page = $command->('SCAN', $cursor, 'COUNT', '1000') or return;
        ($cursor, my $keys) = @$page;
        for my $key (@$keys) {
            my $v = $command->('GET', $key);
            push @values, $v if defined $v && !ref $v;
        }
    } while ($cursor ne '0');
    return @values;
}

sub read_reply {
    my ($sock) = @_;
    my $line = <$sock> // return;
    $line =~ s/\r\n$//;
    my ($type, $rest) = (substr($line, 0, 1), substr($line, 1));
    return $rest if $type eq '+' || $type eq ':';
    return undef if $type eq '-';
    if ($type eq '$') {
        return undef if $rest < 0;
        my $data = '';
        while (length($data) < $rest + 2) {
            my $got = read($sock, $data, $rest + 2 - length($data), length($data)) or return;
        }
        return substr($data, 0, $rest);
    }
    if ($type eq '*') {
        return [ map { read_reply($sock) } 1 .. $rest ];
    }
    return;
}

sub stop_all { $_->stop for values %live }

sub DESTROY { $_[0]->stop if $$ == $OWNER && $_[0]{pid} }

END { stop_all() if $$ == $OWNER }

1;
