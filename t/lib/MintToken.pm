package MintToken;
# Perl face of t/lib/mint.mjs: fixture keys and signed test tokens.
#
#   my $tok  = mint(key => 'rsa1', header => { alg => 'RS256', kid => 'rsa1' },
#                   payload => claims(sub => 'alice'));
#   my @toks = mint_many(\%spec, \%spec, ...);   # one node run for all
#
# Spec fields are those of mint.mjs (key, header, payload, header_raw,
# payload_raw, sign_alg, es_pad).
use strict;
use warnings;

use Exporter 'import';
use File::Basename ();
use File::Spec ();
use IPC::Open2 ();
use JSON::PP ();

our @EXPORT = qw(mint mint_many claims fixtures_dir ensure_fixtures);

my $LIB      = File::Spec->rel2abs(File::Basename::dirname(__FILE__));
my $MINT     = "$LIB/mint.mjs";
my $FIXTURES = File::Spec->rel2abs("$LIB/../fixtures");

sub fixtures_dir { $FIXTURES }

sub ensure_fixtures {
    system('node', $MINT, 'init', $FIXTURES) == 0 or die "mint.mjs init failed\n";
}

sub mint_many {
    my @specs = @_;
    return () unless @specs;
    # \u escapes: claims beyond ASCII reach node whole, whatever the pipe's layer
    my $json = JSON::PP->new->canonical->ascii->encode(\@specs);
    my $pid = IPC::Open2::open2(my $out, my $in, 'node', $MINT, 'sign', $FIXTURES)
        or die "cannot run node: $!\n";
    print $in $json;
    close $in;
    my @tokens = map { chomp; $_ } <$out>;
    close $out;
    waitpid $pid, 0;
    die "mint.mjs sign failed (exit $?)\n" if $?;
    die "mint.mjs returned " . scalar(@tokens) . " tokens for " . scalar(@specs) . " specs\n"
        unless @tokens == @specs;
    return @tokens;
}

sub mint {
    my %spec = @_;
    my ($t) = mint_many(\%spec);
    return $t;
}

# Claims of a token that /mcp accepts, with overrides; an override of undef
# removes the claim. Needs the issuer and audience, which depend on ports.
sub claims {
    my %o = @_;
    my $iss = delete $o{-iss} or die "claims: -iss required\n";
    my $aud = delete $o{-aud} or die "claims: -aud required\n";
    my $now = time;
    my %c = (
        iss => $iss,
        aud => $aud,
        sub => 'alice',
        exp => $now + 600,
        iat => $now,
        scope => 'openid mcp:tools',
    );
    while (my ($k, $v) = each %o) {
        if (defined $v) { $c{$k} = $v } else { delete $c{$k} }
    }
    return \%c;
}

1;
