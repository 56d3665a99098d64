# Configuration errors are caught by `apache2 -t` (or at startup) with a
# message naming the directive; good configurations pass.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test;
use Apache::TestUtil;
use File::Temp ();
use IO::Socket::INET ();
use MCPTest;

my $httpd = Apache::Test::vars('httpd') || '/usr/sbin/apache2';
my $so    = Apache::Test::vars('module_so');
my $M     = '/usr/lib/apache2/modules';

# The gateway's introspection client (MCPAuthIntrospectionClient): a secret,
# keys it takes (RSA 2048, EC P-256, Ed25519) and files it must refuse.
my $keys = File::Temp->newdir('mcp-configtest-keys-XXXXXX', TMPDIR => 1);
{
    open my $err, '>&', \*STDERR or die "dup: $!";
    open STDERR, '>', "$keys/openssl.log" or die "$keys/openssl.log: $!";
    my $ok = 1;
    for my $k ([ 'rsa2048', 'RSA', 'rsa_keygen_bits:2048' ], [ 'rsa1024', 'RSA', 'rsa_keygen_bits:1024' ],
               [ 'p256', 'EC', 'ec_paramgen_curve:P-256' ], [ 'p384', 'EC', 'ec_paramgen_curve:P-384' ],
               [ 'ed25519', 'ED25519' ]) {
        my ($name, $alg, $opt) = @$k;
        $ok &&= system('openssl', 'genpkey', '-algorithm', $alg, ($opt ? ('-pkeyopt', $opt) : ()),
                       '-out', "$keys/$name.pem") == 0;
    }
    $ok &&= system('openssl', 'pkey', '-in', "$keys/p256.pem", '-pubout', '-out', "$keys/public.pem") == 0;
    $ok &&= system('openssl', 'pkey', '-in', "$keys/p256.pem", '-aes256', '-passout', 'pass:secret',
                   '-out', "$keys/encrypted.pem") == 0;
    open STDERR, '>&', $err or die "dup: $!";
    $ok or die "openssl failed:\n" . do { local (@ARGV, $/) = "$keys/openssl.log"; <> // '' };
    for my $f ([ 'secret.txt', "s3cret\n" ], [ 'empty.txt', '' ], [ 'blank.txt', "\n  \n" ]) {
        open my $fh, '>', "$keys/$f->[0]" or die "$keys/$f->[0]: $!";
        print $fh $f->[1];
        close $fh;
    }
}

# [ name, text inside <Location /mcp>, server-level text, expected message ]
my $ISS = 'MCPAuthIssuer https://idp.example/realms/x';
my $INTRO = "$ISS\nMCPAuthIntrospection https://idp.example/realms/x/introspect";
my $XCLIENT = "$ISS\nMCPAuthTokenExchangeClient gw $keys/secret.txt";
my @bad = (
    [ 'relative MCPAuthIssuer',        'MCPAuthIssuer realms/x', '', qr/MCPAuthIssuer/ ],
    [ 'MCPAuthIssuer with a query',    'MCPAuthIssuer https://idp.example/x?a=b', '', qr/MCPAuthIssuer/ ],
    [ 'MCPAuthIssuer without a value', 'MCPAuthIssuer', '', qr/MCPAuthIssuer/ ],
    [ 'relative MCPAuthJWKSURI',       "$ISS\nMCPAuthJWKSURI /jwks.json", '', qr/MCPAuthJWKSURI/ ],
    [ 'relative MCPAuthResource',      "$ISS\nMCPAuthResource mcp", '', qr/MCPAuthResource/ ],
    [ 'unknown MCPAuthMode',           "$ISS\nMCPAuthMode lenient", '', qr/MCPAuthMode/ ],
    [ 'MCPAuthClockSkew not a number', "$ISS\nMCPAuthClockSkew abc", '', qr/MCPAuthClockSkew/ ],
    [ 'MCPAuthClockSkew negative',     "$ISS\nMCPAuthClockSkew -5", '', qr/MCPAuthClockSkew/ ],
    [ 'MCPAuthClockSkew with a unit',  "$ISS\nMCPAuthClockSkew 10s", '', qr/MCPAuthClockSkew/ ],
    [ 'invalid JSON in MCPAuthResourceMetadata', qq|$ISS\nMCPAuthResourceMetadata resource_name "{not json"|, '', qr/MCPAuthResourceMetadata/ ],
    [ 'unknown MCPAuthBearerMethods',  "$ISS\nMCPAuthBearerMethods header cookie", '', qr/MCPAuthBearerMethods/ ],
    [ 'unknown MCPAuthProvider',       "$ISS\nMCPAuthProvider nosuchidp", '', qr/MCPAuthProvider/ ],
    [ 'MCPAuthToolRule without a requirement', "$ISS\nMCPAuthToolRule delete_*", '', qr/MCPAuthToolRule: takes a name pattern/ ],
    [ 'MCPAuthToolRule with an unknown requirement', "$ISS\nMCPAuthToolRule * permit", '', qr/MCPAuthToolRule: unknown requirement "permit"/ ],
    [ 'MCPAuthPromptRule scope without scopes', "$ISS\nMCPAuthPromptRule * scope", '', qr/MCPAuthPromptRule: scope needs/ ],
    [ 'MCPAuthResourceRule claim without a value', "$ISS\nMCPAuthResourceRule file:* claim groups", '', qr/MCPAuthResourceRule: claim needs/ ],
    [ 'MCPAuthToolRule allow with a scope', "$ISS\nMCPAuthToolRule * allow scope a", '', qr/MCPAuthToolRule: allow and deny stand alone/ ],
    [ 'MCPAuthDefault neither allow nor deny', "$ISS\nMCPAuthDefault maybe", '', qr/MCPAuthDefault: 'maybe'/ ],
    [ 'MCPAuthMaxRequestBody too small', "$ISS\nMCPAuthMaxRequestBody 10", '', qr/MCPAuthMaxRequestBody/ ],
    [ 'MCPAuthReadRequests Off with a rule', qq{$ISS\nMCPAuthReadRequests Off\nMCPAuthToolRule "admin_*" deny}, '',
      qr/MCPAUTH0053: .*MCPAuthReadRequests Off/ ],
    [ 'MCPAuthDefault deny, then MCPAuthReadRequests Off', "$ISS\nMCPAuthDefault deny\nMCPAuthReadRequests Off", '',
      qr/MCPAUTH0053/ ],
    [ 'MCPAuthReadRequests neither On nor Off', "$ISS\nMCPAuthReadRequests maybe", '', qr/MCPAuthReadRequests/ ],
    [ 'MCPAuthClaimHeader bad header name', qq{$ISS\nMCPAuthClaimHeader sub "X Remote User"}, '', qr/MCPAuthClaimHeader/ ],
    [ 'MCPAuthClaimHeader to Authorization', "$ISS\nMCPAuthClaimHeader sub Authorization", '', qr/MCPAuthClaimHeader/ ],
    [ 'MCPAuthClaimHeader with one argument', "$ISS\nMCPAuthClaimHeader sub", '', qr/MCPAuthClaimHeader/ ],
    [ 'MCPAuthScopesSupported with a quote', qq{$ISS\nMCPAuthScopesSupported a"b}, '', qr/MCPAuthScopesSupported/ ],
    [ 'unknown MCPAuthCache provider', $ISS, 'MCPAuthCache nosuchcache', qr/MCPAuthCache/ ],
    [ 'MCPAuthCache inside <Location>', "$ISS\nMCPAuthCache shmcb", '', qr/MCPAuthCache/ ],
    [ 'AuthType MCP without MCPAuthIssuer', '', '', qr/needs MCPAuthIssuer/ ],
    [ 'AuthType MCP in <Directory> without MCPAuthResource', $ISS,
      "<Directory /tmp>\nAuthType MCP\n$ISS\nRequire valid-user\n</Directory>", qr/needs MCPAuthResource/ ],
    [ 'MCPAuthTrustForwarded with a bad address', "$ISS\nMCPAuthTrustForwarded 10.0.0.300", '',
      qr/MCPAuthTrustForwarded/ ],
    [ 'MCPAuthTrustForwarded On with addresses', "$ISS\nMCPAuthTrustForwarded On 10.0.0.0/8", '',
      qr/MCPAuthTrustForwarded/ ],
    [ 'unknown MCPAuthForwardedHeader', "$ISS\nMCPAuthForwardedHeader X-Real-IP", '', qr/MCPAuthForwardedHeader/ ],
    [ 'MCPAuthTokenCacheSize not a number', $ISS, 'MCPAuthTokenCacheSize lots', qr/MCPAuthTokenCacheSize/ ],
    [ 'MCPAuthTokenCacheSize inside <Location>', "$ISS\nMCPAuthTokenCacheSize 1000", '', qr/MCPAuthTokenCacheSize/ ],
    [ 'MCPAuthIntrospection neither discovery nor a URL', "$ISS\nMCPAuthIntrospection /introspect", '',
      qr/MCPAuthIntrospection: '\/introspect' is neither discovery nor an absolute http\(s\) URL/ ],
    [ 'unknown MCPAuthTokenFormat', "$INTRO\nMCPAuthTokenFormat paseto", '', qr/MCPAuthTokenFormat: unknown format 'paseto'/ ],
    [ 'MCPAuthIntrospectionCache not a number', "$INTRO\nMCPAuthIntrospectionCache soon", '', qr/MCPAuthIntrospectionCache/ ],
    [ 'MCPAuthIntrospectionCache negative', "$INTRO\nMCPAuthIntrospectionCache 60 -1", '', qr/MCPAuthIntrospectionCache/ ],
    [ 'MCPAuthIntrospectionClient: a missing file', "$INTRO\nMCPAuthIntrospectionClient gw $keys/missing.txt", '',
      qr/MCPAuthIntrospectionClient: cannot read '\Q$keys\E\/missing.txt'/ ],
    [ 'MCPAuthIntrospectionClient: an empty file', "$INTRO\nMCPAuthIntrospectionClient gw $keys/empty.txt", '',
      qr/MCPAuthIntrospectionClient: '\Q$keys\E\/empty.txt' holds no usable secret/ ],
    [ 'MCPAuthIntrospectionClient: a file of blanks', "$INTRO\nMCPAuthIntrospectionClient gw $keys/blank.txt", '',
      qr/MCPAuthIntrospectionClient: '\Q$keys\E\/blank.txt' holds no usable secret/ ],
    [ 'MCPAuthIntrospectionClient: a 1024-bit RSA key', "$INTRO\nMCPAuthIntrospectionClient gw $keys/rsa1024.pem", '',
      qr/MCPAuthIntrospectionClient: \Q$keys\E\/rsa1024.pem: the key is neither RSA of 2048 bits or more/ ],
    [ 'MCPAuthIntrospectionClient: an EC P-384 key', "$INTRO\nMCPAuthIntrospectionClient gw $keys/p384.pem", '',
      qr/MCPAuthIntrospectionClient: \Q$keys\E\/p384.pem: the key is neither/ ],
    [ 'MCPAuthIntrospectionClient: a public key', "$INTRO\nMCPAuthIntrospectionClient gw $keys/public.pem", '',
      qr/MCPAuthIntrospectionClient: \Q$keys\E\/public.pem: not a PEM private key/ ],
    [ 'MCPAuthIntrospectionClient: a key under a passphrase', "$INTRO\nMCPAuthIntrospectionClient gw $keys/encrypted.pem", '',
      qr/MCPAuthIntrospectionClient: \Q$keys\E\/encrypted.pem: not a PEM private key \(without a passphrase\)/ ],
    [ 'MCPAuthIntrospectionClient: a client id with a colon', "$INTRO\nMCPAuthIntrospectionClient gw:x $keys/secret.txt", '',
      qr/MCPAuthIntrospectionClient: 'gw:x' is not a usable client id/ ],
    [ 'MCPAuthIntrospectionClient: a third argument not kid=', "$INTRO\nMCPAuthIntrospectionClient gw $keys/p256.pem k1", '',
      qr/MCPAuthIntrospectionClient: 'k1' is neither kid=KEY-ID nor aud=/ ],
    [ 'MCPAuthIntrospectionClient: kid= with a secret', "$INTRO\nMCPAuthIntrospectionClient gw $keys/secret.txt kid=k1", '',
      qr/MCPAuthIntrospectionClient: kid= and aud= go with a private key/ ],
    [ 'MCPAuthTokenFormat opaque without MCPAuthIntrospection', "$ISS\nMCPAuthTokenFormat opaque", '',
      qr/MCPAUTH0067: .*MCPAuthTokenFormat opaque needs MCPAuthIntrospection/ ],
    [ 'MCPAuthDPoP required where the gateway relays OAuth', "$ISS\nMCPAuthProvider keycloak\nMCPAuthDPoP required", '',
      qr/MCPAUTH0068: .*MCPAuthDPoP required where the gateway is the authorization server/ ],
    [ 'unknown MCPAuthDPoP', "$ISS\nMCPAuthDPoP sometimes", '', qr/MCPAuthDPoP: unknown value 'sometimes'/ ],
    [ 'MCPAuthTokenExchange without arguments', "$ISS\nMCPAuthTokenExchange", '', qr/MCPAuthTokenExchange takes Off, On/ ],
    [ 'MCPAuthTokenExchange: an unknown option', "$XCLIENT\nMCPAuthTokenExchange audiance=urn:x", '',
      qr/MCPAuthTokenExchange: unknown option 'audiance'/ ],
    [ 'MCPAuthTokenExchange: a word that is not KEY=VALUE', "$XCLIENT\nMCPAuthTokenExchange audience=urn:x Off", '',
      qr/MCPAuthTokenExchange: 'Off' is not KEY=VALUE/ ],
    [ 'MCPAuthTokenExchange: a header name with a colon', "$XCLIENT\nMCPAuthTokenExchange header=X:Y", '',
      qr/MCPAuthTokenExchange: header='X:Y' is not a valid header name/ ],
    [ 'MCPAuthTokenExchange: the token in the Host header', "$XCLIENT\nMCPAuthTokenExchange header=host", '',
      qr/MCPAuthTokenExchange: refusing to put a token in the host header/ ],
    [ 'MCPAuthTokenExchange: an unknown grant', "$XCLIENT\nMCPAuthTokenExchange grant=password", '',
      qr/MCPAuthTokenExchange: grant='password' is neither token-exchange nor on-behalf-of/ ],
    [ 'MCPAuthTokenExchange: an endpoint that is no http(s) URL', "$XCLIENT\nMCPAuthTokenExchange endpoint=ftp://idp/token", '',
      qr/MCPAuthTokenExchange: endpoint='ftp:\/\/idp\/token' is not an absolute http\(s\) URL/ ],
    [ 'MCPAuthTokenExchange: a relative resource', "$XCLIENT\nMCPAuthTokenExchange resource=/api", '',
      qr/MCPAuthTokenExchange: resource='\/api' is not an absolute URI without a fragment/ ],
    [ 'MCPAuthTokenExchange: a resource with a fragment', "$XCLIENT\nMCPAuthTokenExchange resource=https://api/#x", '',
      qr/MCPAuthTokenExchange: resource='https:\/\/api\/#x' is not an absolute URI/ ],
    [ 'MCPAuthTokenExchange: a scope with a quote', qq{$XCLIENT\nMCPAuthTokenExchange scope=a"b}, '',
      qr/MCPAuthTokenExchange: 'a"b' is no scope/ ],
    [ 'MCPAuthTokenExchange: a subject token type that is no URI', "$XCLIENT\nMCPAuthTokenExchange subject-token-type=jwt", '',
      qr/MCPAuthTokenExchange: subject-token-type='jwt' is not a URI/ ],
    [ 'MCPAuthTokenExchange without MCPAuthTokenExchangeClient', "$ISS\nMCPAuthTokenExchange audience=urn:x", '',
      qr/MCPAUTH0071: .*MCPAuthTokenExchange needs MCPAuthTokenExchangeClient/ ],
    [ 'MCPAuthTokenExchange grant=on-behalf-of without a scope', "$XCLIENT\nMCPAuthTokenExchange grant=on-behalf-of", '',
      qr/MCPAUTH0071: .*grant=on-behalf-of needs scope=/ ],
    [ 'MCPAuthTokenExchange under MCPAuthProvider entra without a scope',
      "$XCLIENT\nMCPAuthProvider entra\nMCPAuthClientID gw\nMCPAuthTokenExchange On", '', qr/MCPAUTH0071: .*needs scope=/ ],
    [ 'MCPAuthTokenExchange: the token in Mcp_Session_Id', "$XCLIENT\nMCPAuthTokenExchange header=Mcp_Session_Id", '',
      qr/MCPAuthTokenExchange: refusing to put a token in the Mcp_Session_Id header/ ],
    [ 'MCPAuthTokenExchange: header= an MCPAuthClaimHeader', "$XCLIENT\nMCPAuthClaimHeader sub X-User\nMCPAuthTokenExchange header=X_User", '',
      qr/MCPAUTH0071: .*header=X_User is also an MCPAuthClaimHeader/ ],
    [ 'MCPAuthTokenExchangeClient: a missing file', "$ISS\nMCPAuthTokenExchangeClient gw $keys/missing.txt", '',
      qr/MCPAuthTokenExchangeClient: cannot read '\Q$keys\E\/missing.txt'/ ],
    [ 'MCPAuthTokenExchangeClient: kid= with a secret', "$ISS\nMCPAuthTokenExchangeClient gw $keys/secret.txt kid=k1", '',
      qr/MCPAuthTokenExchangeClient: kid= and aud= go with a private key/ ],
    [ 'MCPAuthTokenExchangeClient: no file', "$ISS\nMCPAuthTokenExchangeClient gw", '',
      qr/MCPAuthTokenExchangeClient takes CLIENT-ID FILE/ ],
    [ 'MCPAuthDPoPProofLifetime not a number', "$ISS\nMCPAuthDPoPProofLifetime soon", '', qr/MCPAuthDPoPProofLifetime/ ],
);

my @good = (
    [ 'minimal configuration', $ISS, '' ],
    [ 'MCPAuthReadRequests Off and MCPAuthSessionBinding Off without rules',
      "$ISS\nMCPAuthReadRequests Off\nMCPAuthSessionBinding Off", '' ],
    [ 'every directive', join("\n", $ISS,
        'MCPAuthJWKSURI https://idp.example/realms/x/certs',
        'MCPAuthResource https://mcp.example/mcp',
        'MCPAuthAudience https://mcp.example/mcp api://mcp',
        'MCPAuthAudience urn:third',
        'MCPAuthScopesSupported openid mcp:tools',
        'MCPAuthClaimHeader sub X-Remote-User',
        'MCPAuthClaimHeader preferred_username X-Remote-Name',
        'MCPAuthClockSkew 0',
        'MCPAuthMode optional',
        'MCPAuthBearerMethods header body query',
        'MCPAuthProvider keycloak',
        q{MCPAuthResourceMetadata resource_name "\"My MCP\""},
        q{MCPAuthResourceMetadata resource_documentation "\"https://mcp.example/docs\""}),
      'MCPAuthCache shmcb' ],
    [ 'issuer inherited from an enclosing <Location>', '', '', "<Location /mcp>\n$ISS\n</Location>" ],
    [ 'trusted proxies by address', "$ISS\nMCPAuthTrustForwarded 10.0.0.0/8 192.168.1.5 ::1", '' ],
    [ 'MCPAuthTrustForwarded Off', "$ISS\nMCPAuthTrustForwarded Off", '' ],
    [ 'MCPAuthForwardedHeader Forwarded', "$ISS\nMCPAuthTrustForwarded 10.0.0.1\nMCPAuthForwardedHeader Forwarded", '' ],
    [ 'a <Directory> with MCPAuthResource', $ISS,
      "<Directory /tmp>\nAuthType MCP\n$ISS\nMCPAuthResource https://mcp.example/dir\nRequire valid-user\n</Directory>" ],
    [ 'MCPAuthTokenCacheSize', $ISS, 'MCPAuthTokenCacheSize 1048576' ],
    [ 'introspection: a URL, a client secret, every format, the cache', join("\n", $INTRO,
        "MCPAuthIntrospectionClient gw $keys/secret.txt", 'MCPAuthTokenFormat opaque', 'MCPAuthIntrospectionCache 30 2'), '' ],
    [ 'introspection by discovery, private_key_jwt with an RSA key and a kid', join("\n", $ISS, 'MCPAuthIntrospection discovery',
        "MCPAuthIntrospectionClient gw $keys/rsa2048.pem kid=k1", 'MCPAuthTokenFormat auto', 'MCPAuthIntrospectionCache 0'), '' ],
    [ 'private_key_jwt with an EC P-256 key, aud the endpoint', "$INTRO\nMCPAuthIntrospectionClient gw $keys/p256.pem aud=endpoint", '' ],
    [ 'DPoP required, nonces, a proof lifetime', "$ISS\nMCPAuthDPoP required\nMCPAuthDPoPNonce On\nMCPAuthDPoPProofLifetime 30", '' ],
    [ 'private_key_jwt with an Ed25519 key', "$INTRO\nMCPAuthIntrospectionClient gw $keys/ed25519.pem\nMCPAuthTokenFormat jwt", '' ],
    [ 'token exchange: every option, a client secret', join("\n", $XCLIENT,
        'MCPAuthTokenExchange On audience=urn:tickets audience=api2 resource=https://api.example/ scope=a "scope=b c" '
        . 'header=X-Upstream-Token endpoint=https://idp.example/token subject-token-type=urn:acme:mcp'), '' ],
    [ 'token exchange: on-behalf-of under MCPAuthProvider entra, private_key_jwt', join("\n", $ISS,
        'MCPAuthProvider entra', 'MCPAuthClientID gw', "MCPAuthTokenExchangeClient gw $keys/p256.pem kid=k1 aud=endpoint",
        'MCPAuthTokenExchange scope=api://tickets/.default'), '' ],
    [ 'MCPAuthTokenExchange Off needs no client', "$ISS\nMCPAuthTokenExchange Off", '' ],
    [ 'a tool policy', join("\n", $ISS, 'MCPAuthToolRule "delete_*" scope repo:admin',
                            'MCPAuthToolRule "search_*" claim groups engineering scope mcp:tools',
                            'MCPAuthToolRule "*" scope mcp:tools', 'MCPAuthPromptRule * allow',
                            'MCPAuthResourceRule "file:///etc/*" deny', 'MCPAuthDefault deny',
                            'MCPAuthMaxRequestBody 65536'), '' ],
);

plan tests => 2 * @bad + 2 * @good + 18;

my $tmp = File::Temp->newdir('mcp-configtest-XXXXXX', TMPDIR => 1);
my $n = 0;

sub write_conf {
    my (%a) = @_;
    my $dir = "$tmp/" . ++$n;
    mkdir $dir or die "$dir: $!";
    my $shmcb = $a{no_shmcb} ? '' : "LoadModule socache_shmcb_module $M/mod_socache_shmcb.so";
    # a port free right now (a taken one would fail startup for another reason)
    my $probe = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                      Listen => 1, ReuseAddr => 1) or die "probe: $!";
    my $port = $probe->sockport;
    close $probe;
    open my $fh, '>', "$dir/httpd.conf" or die $!;
    print $fh <<"EOF";
ServerRoot "$dir"
ServerName localhost
Listen 127.0.0.1:$port
PidFile "$dir/httpd.pid"
DefaultRuntimeDir "$dir"
ErrorLog "$dir/error_log"
LoadModule mpm_event_module $M/mod_mpm_event.so
LoadModule authn_core_module $M/mod_authn_core.so
LoadModule authz_core_module $M/mod_authz_core.so
LoadModule authz_user_module $M/mod_authz_user.so
$shmcb
LoadModule mcp_auth_module $so
$a{server}
$a{before}
<Location /mcp>
    AuthType MCP
    $a{location}
    Require valid-user
</Location>
EOF
    close $fh;
    return $dir;
}

sub run_cmd {
    my @cmd = @_;
    my $out = `@cmd 2>&1`;
    return ($? >> 8, $out);
}

sub slurp { open my $fh, '<', shift or return ''; local $/; <$fh> // '' }

for my $c (@bad) {
    my ($name, $loc, $server, $re) = @$c;
    my $dir = write_conf(location => $loc, server => $server, before => '');
    my ($rc, $out) = run_cmd($httpd, '-t', '-f', "$dir/httpd.conf");
    $out .= slurp("$dir/error_log");
    ok t_cmp($rc != 0 ? 'fails' : "exit $rc", 'fails', "$name: apache2 -t fails");
    my @lines = grep { $_ =~ $re } split /\n/, $out;
    ok t_cmp(scalar(@lines) >= 1 ? $lines[0] : $out, $re, "$name: one line names it");
}

for my $c (@good) {
    my ($name, $loc, $server, $before) = @$c;
    my $dir = write_conf(location => $loc, server => $server, before => $before // '');
    my ($rc, $out) = run_cmd($httpd, '-t', '-f', "$dir/httpd.conf");
    ok t_cmp($rc, 0, "$name: apache2 -t passes");
    ok t_cmp($out, qr/Syntax OK/, "$name: Syntax OK");
}

# CIMD needs the gateway as authorization server: asking for it on a plain
# resource server (generic, no MCPAuthClientID) is said at once; with a
# provider whose IdP registers clients it works, so nothing is said.
{
    my $dir = write_conf(location => "$ISS\nMCPAuthClientMetadataDocuments On", server => '', before => '');
    my ($rc, $out) = run_cmd($httpd, '-t', '-f', "$dir/httpd.conf");
    $out .= slurp("$dir/error_log");
    ok t_cmp($rc, 0, 'MCPAuthClientMetadataDocuments On where the gateway is no authorization server: a warning, not an error');
    ok t_cmp($out, qr/MCPAUTH0047: <Location \/mcp>: MCPAuthClientMetadataDocuments On has no effect where the gateway is not the authorization server/,
             'the warning names the location and what to set');
    $dir = write_conf(location => "$ISS\nMCPAuthProvider keycloak\nMCPAuthClientMetadataDocuments On", server => '', before => '');
    ($rc, $out) = run_cmd($httpd, '-t', '-f', "$dir/httpd.conf");
    $out .= slurp("$dir/error_log");
    ok t_cmp(($rc == 0 ? 'passes' : 'fails') . ($out =~ /MCPAUTH0047/ ? ', warns' : ''), 'passes',
             'with MCPAuthProvider keycloak (the IdP registers clients): no warning, CIMD works there');
}

# A form-body token where POSTs are read as MCP requests: forms would be refused, said at once.
{
    my $dir = write_conf(location => "$ISS\nMCPAuthBearerMethods header body", server => '', before => '');
    my ($rc, $out) = run_cmd($httpd, '-t', '-f', "$dir/httpd.conf");
    $out .= slurp("$dir/error_log");
    ok t_cmp($rc, 0, 'MCPAuthBearerMethods body with requests read: a warning, not an error');
    ok t_cmp($out, qr/MCPAUTH0056: <Location \/mcp>: MCPAuthBearerMethods body.*MCPAuthReadRequests Off/,
             'the warning says form bodies are refused and how to take them');
    $dir = write_conf(location => "$ISS\nMCPAuthBearerMethods header body\nMCPAuthReadRequests Off", server => '',
                      before => '');
    ($rc, $out) = run_cmd($httpd, '-t', '-f', "$dir/httpd.conf");
    $out .= slurp("$dir/error_log");
    ok t_cmp($out !~ /MCPAUTH0056/ ? 'no warning' : $out, 'no warning', 'with MCPAuthReadRequests Off: no warning');
}

# A key under a passphrase, with a terminal at hand (apachectl -t typed in a
# shell): refused as without one, never a prompt that holds startup (and
# would take the key when someone types, but not at a restart without a
# terminal). `script` gives the command a terminal.
if (system('sh', '-c', 'command -v script >/dev/null') == 0) {
    my $dir = write_conf(location => "$INTRO\nMCPAuthIntrospectionClient gw $keys/encrypted.pem", server => '', before => '');
    my ($rc, $out) = run_cmd('timeout', '20', 'script', '-qec', "'$httpd -t -f $dir/httpd.conf'", '/dev/null', '</dev/null');
    ok t_cmp($rc == 124 ? 'waited for a passphrase' : $out =~ /pass ?phrase:/i ? 'asked for a passphrase' : 'no prompt',
             'no prompt', 'a key under a passphrase, on a terminal: no passphrase prompt');
    ok t_cmp($out, qr/MCPAuthIntrospectionClient: \S+encrypted.pem: not a PEM private key \(without a passphrase\)/,
             'on a terminal too: refused, the message names the directive and the file');
}
else {
    skip('script (util-linux) is not installed', 1) for 1 .. 2;
}

# The relay key: a file too short is a configuration error naming the directive; without the
# directive a key is made once in the runtime directory, said in the log, and kept.
{
    my $short = "$tmp/short.key";
    open my $fh, '>', $short or die $!;
    print $fh "not 32 bytes\n";
    close $fh;
    my $dir = write_conf(location => "$ISS\nMCPAuthProvider keycloak", server => "MCPAuthRelayKey $short", before => '');
    my ($rc, $out) = run_cmd($httpd, '-t', '-f', "$dir/httpd.conf");
    ok t_cmp($rc != 0 ? 'fails' : "exit $rc", 'fails', 'MCPAuthRelayKey with a short file: apache2 -t fails');
    ok t_cmp($out, qr/MCPAuthRelayKey: \Q$short\E holds 13 bytes; at least 32/, 'the message names the directive, file and size');
}
sub wait_until {
    my ($cond, $secs) = @_;
    my $until = time + $secs;
    until ($cond->()) {
        return 0 if time > $until;
        select undef, undef, undef, 0.1;
    }
    return 1;
}
{
    my $dir = write_conf(location => "$ISS\nMCPAuthProvider keycloak", server => '', before => '');
    my $key = "$dir/mcp_auth_relay.key";
    my $start = sub {
        run_cmd($httpd, '-f', "$dir/httpd.conf", '-k', 'start');
        wait_until(sub { -s "$dir/httpd.pid" }, 30);
    };
    my $stop = sub {
        run_cmd($httpd, '-f', "$dir/httpd.conf", '-k', 'stop');
        wait_until(sub { !-e "$dir/httpd.pid" }, 30);
    };
    ok t_cmp($start->() ? 'started' : 'did not start: ' . slurp("$dir/error_log"), 'started', 'a relay location without MCPAuthRelayKey starts');
    my $log = slurp("$dir/error_log");
    ok t_cmp($log, qr/MCPAUTH0049: created the relay key \Q$key\E; .*Set MCPAuthRelayKey to a file on persistent storage/,
             'a notice says a new key was made, where, and what it voids');
    ok t_cmp(sprintf('%o', (stat $key)[2] & 0777), '600', 'the key file is private (0600)');
    my $first = slurp($key);
    $stop->();
    $start->();
    my $again = substr(slurp("$dir/error_log"), length $log);
    ok t_cmp(slurp($key) eq $first && length $first >= 32 ? 'same key' : 'another key', 'same key', 'a restart reuses the key');
    ok t_cmp($again =~ /MCPAUTH0049/ ? 'notice again' : 'no notice', 'no notice', 'and does not announce a new one');
    $stop->();
}

# Without mod_socache_shmcb (and no MCPAuthCache) startup fails and says why.
{
    my $dir = write_conf(location => $ISS, server => '', before => '', no_shmcb => 1);
    my ($rc, $out) = run_cmd('timeout', '20', $httpd, '-f', "$dir/httpd.conf", '-DFOREGROUND');
    $out .= slurp("$dir/error_log");
    ok t_cmp($rc, 1, 'no socache_shmcb: startup fails');
    ok t_cmp($out, qr/socache_shmcb/, 'no socache_shmcb: the message names the module');
    # in case it started after all
    if (-e "$dir/httpd.pid") {
        run_cmd($httpd, '-f', "$dir/httpd.conf", '-k', 'stop');
    }
    ok t_cmp(-e "$dir/httpd.pid" ? 'pid file left' : 'not running', 'not running', 'no server left behind');
}
