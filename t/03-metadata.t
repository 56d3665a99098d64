# RFC 9728 protected resource metadata.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test;
use Apache::TestUtil;
use JSON::PP ();
use MCPTest;
use MintToken;

plan tests => 43;

my $WK = '/.well-known/oauth-protected-resource';

sub doc_of {
    my $res = shift;
    return eval { JSON::PP->new->decode($res->decoded_content) };
}

# --- the document of /mcp -----------------------------------------------------------
{
    my $res = req(GET => 'mcp', "$WK/mcp");
    ok t_cmp($res->code, 200, 'GET metadata: 200');
    ok t_cmp($res->header('Content-Type'), qr{^application/json\b}, 'Content-Type application/json');
    ok t_cmp($res->header('Cache-Control') // '', qr/\S/, 'Cache-Control present');
    ok t_cmp($res->header('Access-Control-Allow-Origin') // '', '*', 'CORS: any origin');
    yes !defined(scalar challenges($res)), 'no challenge on the public document';
    my $d = doc_of($res);
    ok t_cmp(ref $d, 'HASH', 'body is a JSON object');
    ok t_cmp($d->{resource}, url('mcp', '/mcp'), 'resource = external URL of the location');
    ok t_cmp(JSON::PP->new->canonical->encode($d->{authorization_servers}),
             JSON::PP->new->encode([ issuer() ]), 'authorization_servers = [issuer]');
    ok t_cmp(JSON::PP->new->encode($d->{scopes_supported}), '["openid","mcp:tools"]',
             'scopes_supported');
    ok t_cmp(JSON::PP->new->encode($d->{bearer_methods_supported}), '["header"]',
             'bearer_methods_supported = ["header"]');
}

# Reachable without a token and even with a bad one (it is public).
{
    my $res = req(GET => 'mcp', "$WK/mcp", Authorization => 'Bearer garbage');
    ok t_cmp($res->code, 200, 'bad token does not matter for the document');
    $res = req(GET => 'mcp', "$WK/mcp", Authorization => 'Bearer');
    ok t_cmp($res->code, 200, 'malformed Authorization does not matter either');
}

# The URL a 401 points at is the one that serves the document.
{
    my $res = req(GET => 'mcp', '/mcp');
    my $c = challenge($res);
    my ($path) = ($c && $c->{resource_metadata} // '') =~ m{^http://localhost:\d+(/.*)$};
    ok t_cmp($path, "$WK/mcp", 'challenge points at the path-inserted URL');
    my $doc = req(GET => 'mcp', $path // '/nope');
    ok t_cmp($doc->code, 200, 'that URL answers 200');
    ok t_cmp(doc_of($doc) && doc_of($doc)->{resource}, url('mcp', '/mcp'),
             'and describes the resource the challenge came from');
}

# --- other locations -------------------------------------------------------------------
{
    # MCPAuthResource: published under the resource's path, extra fields merged.
    my $res = req(GET => 'mcp', "$WK/api");
    ok t_cmp($res->code, 200, 'MCPAuthResource location: published under its resource path');
    my $d = doc_of($res) || {};
    ok t_cmp($d->{resource}, 'https://mcp.example.test/api', 'resource = MCPAuthResource');
    ok t_cmp($d->{resource_name}, 'Test MCP API', 'MCPAuthResourceMetadata field added');
    ok t_cmp(JSON::PP->new->encode($d->{scopes_supported}), '["mcp:tools"]', 'its own scopes');
}
{
    my $res = req(GET => 'mcp', "$WK/mcp-aud");
    ok t_cmp($res->code, 200, 'location without scopes: 200');
    my $d = doc_of($res) || {};
    ok t_cmp($d->{resource}, url('mcp', '/mcp-aud'), 'its resource');
    yes !exists $d->{scopes_supported}, 'no scopes_supported when none configured';
}
{
    my $res = req(GET => 'mcp', "$WK/mcp-disco");
    ok t_cmp($res->code, 200, 'discovery location: 200');
    my $d = doc_of($res) || {};
    ok t_cmp(JSON::PP->new->encode($d->{authorization_servers} // []),
             JSON::PP->new->encode([ issuer('disco') ]), 'its own issuer');
}

# --- root form and unknown suffixes --------------------------------------------------------
{
    my $res = req(GET => 'single', $WK);
    ok t_cmp($res->code, 200, 'root form on a vhost with one protected location: 200');
    my $d = doc_of($res) || {};
    ok t_cmp($d->{resource}, url('single', '/only'), 'root form describes that location');
    ok t_cmp(JSON::PP->new->encode($d->{scopes_supported} // []), '["mcp:read","mcp:write"]',
             'MCPAuthResourceMetadata overrides a generated field');
    $res = req(GET => 'single', "$WK/only");
    ok t_cmp($res->code, 200, 'path-inserted form works there too');
    ok t_cmp((doc_of($res) || {})->{resource}, url('single', '/only'), 'same resource');
}
{
    my $res = req(GET => 'mcp', $WK);
    ok t_cmp($res->code, 404, 'root form with several protected locations: 404');
    $res = req(GET => 'mcp', "$WK/nope");
    ok t_cmp($res->code, 404, 'unknown suffix: 404');
    $res = req(GET => 'mcp', "$WK/mc");
    ok t_cmp($res->code, 404, 'prefix of a location is not a match: 404');
    $res = req(GET => 'mcp', "$WK/mcp/deeper");
    ok t_cmp($res->code, 404, 'longer path than any location: 404');
    $res = req(GET => 'single', "$WK/other");
    ok t_cmp($res->code, 404, 'unknown suffix on the single vhost: 404');
}

# --- CORS preflight ----------------------------------------------------------------------
{
    my $res = req(OPTIONS => 'mcp', "$WK/mcp",
                  Origin => 'https://app.example',
                  'Access-Control-Request-Method' => 'GET');
    ok t_cmp($res->code, 204, 'OPTIONS: 204');
    ok t_cmp($res->header('Access-Control-Allow-Origin') // '', '*', 'OPTIONS: Allow-Origin *');
    ok t_cmp($res->header('Access-Control-Allow-Methods') // '', qr/\bGET\b/, 'OPTIONS: GET allowed');
    ok t_cmp($res->content, '', 'OPTIONS: no body');
    yes !defined(scalar challenges($res)), 'OPTIONS: no challenge';
}

# HEAD is GET without a body.
{
    my $res = req(HEAD => 'mcp', "$WK/mcp");
    ok t_cmp($res->code, 200, 'HEAD: 200');
    ok t_cmp($res->content, '', 'HEAD: no body');
}

# The JSON of the document stays valid when fetched through the single vhost's
# protected location name with a trailing slash.
{
    my $res = req(GET => 'single', "$WK/only/");
    ok t_cmp($res->code, 200, 'trailing slash on the suffix is tolerated');
    ok t_cmp((doc_of($res) || {})->{resource}, url('single', '/only'), 'same document');
}
