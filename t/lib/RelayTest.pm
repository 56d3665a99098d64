package RelayTest;
# What the tests of the OAuth relay share: one request on a new connection
# that follows no redirect (the relay's answers are redirects to look at),
# forms and queries, and the JSON object of an answer.
#
#   my $res = send_request(POST => $url, form(a => 1), 'Content-Type' => '...');
#   doc_of($res)->{error}; qparams($res->header('Location'))->{code};
use strict;
use warnings;

use Exporter 'import';
use Digest::SHA ();
use HTTP::Request ();
use JSON::PP ();
use LWP::UserAgent ();
use MIME::Base64 ();
use URI ();

our @EXPORT = qw(send_request form qparams doc_of pkce_challenge $EP $CB);

# where the relay's endpoints live, and the redirect URI test clients register
our $EP = '/.well-known/mcp-auth';
our $CB = 'http://127.0.0.1:33418/cb';

# RFC 7636 §4.2: the S256 challenge of a verifier
sub pkce_challenge { MIME::Base64::encode_base64url(Digest::SHA::sha256($_[0])) }

# send_request(METHOD, URL, BODY or undef, HEADER => VALUE ...)
sub send_request {
    my ($method, $url, $body, @headers) = @_;
    my $ua = LWP::UserAgent->new(max_redirect => 0, timeout => 60, keep_alive => 0);
    my $r = HTTP::Request->new($method => $url);
    while (my ($k, $v) = splice @headers, 0, 2) {
        $r->push_header($k => $v);
    }
    if (defined $body) {
        $r->content($body);
        $r->header('Content-Length' => length $body);
    }
    return $ua->request($r);
}

sub form    { my $u = URI->new('http:'); $u->query_form(@_); $u->query }
sub qparams { my %q = URI->new(shift // '')->query_form; \%q }
sub doc_of  { my $r = shift; my $d = eval { JSON::PP->new->decode($r->decoded_content) }; ref $d eq 'HASH' ? $d : {} }

1;
