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
use HTTP::Request ();
use JSON::PP ();
use LWP::UserAgent ();
use URI ();

our @EXPORT = qw(send_request form qparams doc_of);

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
