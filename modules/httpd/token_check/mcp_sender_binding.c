/* Proof of possession for sender-constrained tokens: DPoP proofs checked
 * against the request and the token's cnf.jkt, single use across every
 * process and host through the shared cache, optional server nonces; TLS
 * client certificates against cnf.x5t#S256. */

#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <httpd.h>
#include <http_log.h>
#include <http_ssl.h>

#include "mcp_cnf.h"
#include "mcp_dpop.h"
#include "mcp_seal.h"
#include "mcp_challenges.h"
#include "mcp_httpd.h"
#include "mcp_relay_key.h"
#include "mcp_respond.h"
#include "mcp_sender_binding.h"
#include "mcp_shared_cache.h"
#include "mcp_urls.h"

APLOG_USE_MODULE(mcp_auth);

#define NONCE_PURPOSE "dpop-nonce"
/* A nonce is good this long; past half of it a fresh one goes out with
 * the answer (RFC 9449 §8.2), so that a busy client never meets the
 * use_dpop_nonce retry again. */
#define NONCE_LIFETIME 300

static mcp_sender_t refuse(const char **why, const char **error, const char *reason, const char *code)
{
    *why = reason;
    *error = code;
    return MCP_SENDER_REFUSED;
}

/* A nonce is the time it was made, sealed with the relay key: every host
 * with the same MCPAuthRelayKey takes every other's, and nothing is stored. */
const char *mcp_dpop_nonce_new(request_rec *r)
{
    const unsigned char *key = mcp_relay_key();
    const char *now = apr_ltoa(r->pool, (long)apr_time_sec(apr_time_now()));

    return key ? mcp_seal(r->pool, key, NONCE_PURPOSE, now, strlen(now)) : NULL;
}

/* The age of a nonce this gateway made, or -1 for anything else. */
static long nonce_age(request_rec *r, const char *nonce)
{
    const unsigned char *key = mcp_relay_key();
    apr_size_t len = 0;
    const char *made = key && nonce ? mcp_unseal(r->pool, key, NONCE_PURPOSE, nonce, &len) : NULL;
    long age;

    if (made == NULL)
        return -1;
    age = (long)apr_time_sec(apr_time_now()) - atol(made);
    return age >= -5 && age <= NONCE_LIFETIME ? (age < 0 ? 0 : age) : -1;
}

/* The path the client sent this request to (before httpd decoded it). */
static const char *request_path(request_rec *r)
{
    return r->parsed_uri.path ? r->parsed_uri.path : r->uri;
}

/* The URL the client sent this request to, as its proof's htu names it:
 * built as the resource identifier is (RFC 9449 §4.3 (9)). */
static const char *request_url(request_rec *r, const mcp_dir_conf_t *conf)
{
    return mcp_external_url(r, conf, request_path(r));
}

/* Behind a proxy that says nothing of itself, MCPAuthResource is the URL
 * clients use: this request under it, or NULL. */
static const char *request_url_by_resource(request_rec *r, const mcp_dir_conf_t *conf)
{
    const char *location = mcp_location_path(r->pool, conf), *path = request_path(r);
    apr_size_t n = strlen(location), rn;
    char *resource;

    if (conf->resource == NULL || strncmp(path, location, n) != 0)
        return NULL;
    resource = apr_pstrdup(r->pool, conf->resource);
    rn = strlen(resource);
    if (rn && resource[rn - 1] == '/' && path[n] == '/')
        resource[rn - 1] = '\0';
    return apr_pstrcat(r->pool, resource, path + n, NULL);
}

static mcp_sender_t check_proof(request_rec *r, const mcp_dir_conf_t *conf, mcp_presented_t *presented,
                                const char *jkt, const char **why, const char **error)
{
    mcp_dpop_expect_t want;
    mcp_dpop_proof_t proof;
    const char *record, *reason;
    long age;

    if (presented->proven_jkt)
        return strcmp(presented->proven_jkt, jkt) == 0
                   ? MCP_SENDER_OK
                   : refuse(why, error, "DPoP proof key is not the key the token is bound to", "invalid_dpop_proof");
    if (presented->proofs == 0)
        return refuse(why, error, "DPoP proof missing", "invalid_dpop_proof");
    if (presented->proofs > 1)
        return refuse(why, error, "more than one DPoP proof", "invalid_dpop_proof");
    want.method = r->method;
    want.url = request_url(r, conf);
    want.alt_url = request_url_by_resource(r, conf);
    want.token = presented->token;
    want.token_len = presented->len;
    want.now = (double)apr_time_now() / APR_USEC_PER_SEC;
    want.lifetime = mcp_dpop_proof_lifetime_of(conf);
    want.leeway = mcp_clock_skew_of(conf);
    if (!mcp_dpop_check(r->pool, presented->proof, strlen(presented->proof), &want, &proof, &reason))
        return refuse(why, error, reason, "invalid_dpop_proof");
    /* RFC 9449 §6.1: the proof key is the key the token is bound to */
    if (strcmp(proof.jkt, jkt) != 0)
        return refuse(why, error, "DPoP proof key is not the key the token is bound to", "invalid_dpop_proof");
    if (mcp_dpop_nonce_of(conf)) {
        /* §9: a nonce of ours, recent */
        age = nonce_age(r, proof.nonce);
        if (age < 0) {
            const char *nonce = mcp_dpop_nonce_new(r);

            if (nonce)
                apr_table_setn(r->err_headers_out, "DPoP-Nonce", nonce);
            refuse(why, error, proof.nonce ? "DPoP proof nonce is stale or not the gateway's"
                                           : "the resource server requires a nonce in DPoP proofs",
                   "use_dpop_nonce");
            return MCP_SENDER_NONCE;
        }
        if (age > NONCE_LIFETIME / 2) {
            const char *nonce = mcp_dpop_nonce_new(r);

            /* err_headers_out: the answer is usually the proxied
             * server's, and mod_proxy replaces headers_out with its
             * headers */
            if (nonce)
                apr_table_setn(r->err_headers_out, "DPoP-Nonce", nonce);
        }
    }
    /* §11.1: each proof once, for as long as its iat could pass */
    switch (mcp_use_once(r, MCP_ONCE_AFTER_CHECK, "dpop-proof", apr_pstrcat(r->pool, proof.jkt, " ", proof.jti, NULL),
                         (long)want.lifetime + 2L * want.leeway + 1, &record)) {
    case MCP_CLAIM_WON:
        break;
    case MCP_CLAIM_HELD:
        return refuse(why, error, "DPoP proof replayed", "invalid_dpop_proof");
    case MCP_CLAIM_UNAVAILABLE:
        *why = "the gateway cannot check DPoP proofs for replay right now";
        *error = "temporarily_unavailable";
        return MCP_SENDER_UNAVAILABLE;
    }
    presented->proven_jkt = proof.jkt;
    return MCP_SENDER_OK;
}

/* RFC 8705 §3: the certificate the TLS handshake verified. */
static mcp_sender_t check_certificate(request_rec *r, const char *x5t, const char **why, const char **error)
{
    const char *verify, *pem, *thumbprint;

    if (!ap_ssl_conn_is_ssl(r->connection))
        return refuse(why, error, "token bound to a client certificate, over a connection without TLS",
                      "invalid_token");
    verify = ap_ssl_var_lookup(r->pool, r->server, r->connection, r, "SSL_CLIENT_VERIFY");
    pem = ap_ssl_var_lookup(r->pool, r->server, r->connection, r, "SSL_CLIENT_CERT");
    if (verify == NULL || strcmp(verify, "SUCCESS") != 0 || pem == NULL || *pem == '\0')
        return refuse(why, error, "token bound to a client certificate, and none was verified on this connection",
                      "invalid_token");
    thumbprint = mcp_cert_thumbprint(r->pool, pem);
    if (thumbprint == NULL || strcmp(thumbprint, x5t) != 0)
        return refuse(why, error, "token bound to another client certificate", "invalid_token");
    return MCP_SENDER_OK;
}

mcp_sender_t mcp_sender_check(request_rec *r, const mcp_dir_conf_t *conf, mcp_presented_t *presented,
                              const mcp_jwt_t *jwt, const char **why, const char **error)
{
    const char *bound_to;
    mcp_cnf_kind_t kind = mcp_cnf_of(mcp_jwt_claims(jwt), &bound_to);

    if (mcp_dpop_of(conf) == MCP_DPOP_REQUIRED && !presented->dpop)
        return refuse(why, error, "this resource takes DPoP-bound tokens only", "invalid_token");
    switch (kind) {
    case MCP_CNF_UNKNOWN:
        return refuse(why, error, "token bound by a confirmation method this gateway cannot check", "invalid_token");
    case MCP_CNF_MTLS:
        if (presented->dpop)
            return refuse(why, error, "token presented as DPoP is not bound to a key", "invalid_token");
        return check_certificate(r, bound_to, why, error);
    case MCP_CNF_DPOP:
        /* RFC 9449 §7.2: a bound token is never a bearer token */
        if (!presented->dpop)
            return refuse(why, error, "DPoP-bound token presented as a bearer token", "invalid_token");
        return check_proof(r, conf, presented, bound_to, why, error);
    case MCP_CNF_NONE:
        break;
    }
    if (presented->dpop)
        return refuse(why, error, "token presented as DPoP is not bound to a key", "invalid_token");
    return MCP_SENDER_OK;
}
