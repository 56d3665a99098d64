package MCPInstance;
# Extra httpd instances for tests that need their own server (cold start of
# several children, graceful restarts under load, several servers sharing one
# cache): a generated configuration in a temporary directory, its own port,
# /mcp protected by mod_mcp_auth in front of a static file.
#
#   my $h = MCPInstance->new(mpm => 'prefork', mpm_conf => "StartServers 8",
#                            server => "MCPAuthCache ...", location => "MCPAuthIssuer ...");
#   $h->start;  ... $h->url('/mcp') ...  $h->stop;
#
# %DIR% anywhere in the given configuration stands for the instance's
# directory (ServerRoot; DocumentRoot is %DIR%/www with a file "mcp").
#
# Every instance still running is stopped when the test process exits (END,
# SIGINT, SIGTERM), also after a failure.
use strict;
use warnings;

use Apache::Test ();
use File::Temp ();
use IO::Socket::INET ();
use Time::HiRes ();

my $M = '/usr/lib/apache2/modules';
my %live;          # id => instance
my $OWNER = $$;    # only the process that started them stops them
my $n = 0;

sub new {
    my ($class, %a) = @_;
    my $self = bless { %a }, $class;
    $self->{tmp} = File::Temp->newdir('mcp-instance-XXXXXX', TMPDIR => 1);
    my $dir = $self->{dir} = "$self->{tmp}";
    chmod 0755, $dir;
    mkdir "$dir/www" or die "$dir/www: $!";
    open my $fh, '>', "$dir/www/mcp" or die $!;
    print $fh "ok\n";
    close $fh;
    chmod 0644, "$dir/www/mcp";
    $self->{port} = $a{port} || free_port();
    $self->{id} = ++$n;
    $self->write_conf;
    return $self;
}

sub free_port {
    my $probe = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                      Listen => 1, ReuseAddr => 1) or die "probe: $!";
    my $port = $probe->sockport;
    close $probe;
    return $port;
}

sub write_conf {
    my $self = shift;
    my $dir = $self->{dir};
    my $so = Apache::Test::vars('module_so');
    my $mpm = $self->{mpm} || 'event';
    my $user = Apache::Test::vars('user') || 'nobody';
    my $group = Apache::Test::vars('group') || 'nogroup';
    my $extra_modules = join "\n", map { "LoadModule ${_}_module $M/mod_$_.so" } @{ $self->{modules} || [] };
    open my $fh, '>', "$dir/httpd.conf" or die $!;
    print $fh <<"EOF";
ServerRoot "$dir"
ServerName localhost
Listen 127.0.0.1:$self->{port}
PidFile "$dir/httpd.pid"
DefaultRuntimeDir "$dir"
ErrorLog "$dir/error_log"
LogLevel warn mcp_auth:debug
User $user
Group $group
LoadModule mpm_${mpm}_module $M/mod_mpm_$mpm.so
LoadModule authn_core_module $M/mod_authn_core.so
LoadModule authz_core_module $M/mod_authz_core.so
LoadModule authz_user_module $M/mod_authz_user.so
LoadModule socache_shmcb_module $M/mod_socache_shmcb.so
$extra_modules
LoadModule mcp_auth_module $so
LogFormat "%P %>s %D %U" pidlog
CustomLog "$dir/access_log" pidlog
DocumentRoot "$dir/www"
<Directory "$dir/www">
    Require all granted
</Directory>
@{[ $self->{mpm_conf} || '' ]}
@{[ $self->{server} || '' ]}
<Location /mcp>
    AuthType MCP
    $self->{location}
    Require valid-user
</Location>
<Location /mcp-auth-status>
    SetHandler mcp-auth-status
</Location>
EOF
    close $fh;
    # %DIR% in any part of the configuration: this instance's directory
    my $text = slurp("$dir/httpd.conf");
    $text =~ s/%DIR%/$dir/g;
    open $fh, '>', "$dir/httpd.conf" or die $!;
    print $fh $text;
    close $fh;
}

sub conf     { "$_[0]{dir}/httpd.conf" }
sub port     { $_[0]{port} }
sub url      { "http://127.0.0.1:$_[0]{port}" . ($_[1] // '') }
sub httpd    { Apache::Test::vars('httpd') || '/usr/sbin/apache2' }
sub slurp    { open my $fh, '<', shift or return ''; local $/; <$fh> // '' }
sub error_log  { slurp("$_[0]{dir}/error_log") }
sub access_log { slurp("$_[0]{dir}/access_log") }

sub pid {
    my $self = shift;
    my $p = slurp("$self->{dir}/httpd.pid");
    $p =~ s/\s+//g;
    return $p =~ /^\d+$/ ? $p : undef;
}

sub listening {
    my $self = shift;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $self->{port}, Timeout => 1);
    return defined $s;
}

# Starts the server and returns once the port accepts connections (the
# children may still be starting: connections wait in the backlog).
sub start {
    my $self = shift;
    my $out = `@{[ $self->httpd ]} -f @{[ $self->conf ]} -k start 2>&1`;
    die "httpd -k start failed: $out\n" . $self->error_log if $?;
    $live{ $self->{id} } = $self;
    for (1 .. 200) {
        return $self if $self->pid && $self->listening;
        Time::HiRes::sleep(0.05);
    }
    die "instance on port $self->{port} did not come up:\n" . $self->error_log;
}

sub graceful {
    my $self = shift;
    my $out = `@{[ $self->httpd ]} -f @{[ $self->conf ]} -k graceful 2>&1`;
    return $? == 0;
}

sub stop {
    my $self = shift;
    my $pid = $self->pid;
    delete $live{ $self->{id} };
    return unless $pid && kill 0, $pid;
    system($self->httpd, '-f', $self->conf, '-k', 'stop');
    for my $i (1 .. 100) {
        return 1 unless kill 0, $pid;
        kill 'TERM', $pid if $i == 60;
        Time::HiRes::sleep(0.1);
    }
    # still there: kill it and its children (by pid)
    my @kids = grep { /^\d+$/ } split /\s+/, `ps -o pid= --ppid $pid 2>/dev/null`;
    kill 'KILL', $pid, @kids;
    return 0;
}

sub stop_all { $_->stop for values %live }

END { stop_all() if $$ == $OWNER }
$SIG{INT} = $SIG{TERM} = sub { stop_all() if $$ == $OWNER; exit 1 };

1;
