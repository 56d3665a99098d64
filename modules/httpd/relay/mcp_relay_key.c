/* A key file holds at least 32 bytes of secret (the generated one: 64 hex
 * digits); the sealing key is their SHA-256, so any long enough secret will
 * do and its format does not matter. The file is read by the parent as root
 * before the children are forked, so it can stay readable by root only. */

#include <string.h>

#include <apr_atomic.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <openssl/evp.h>

#include "mcp_httpd.h"
#include "mcp_relay_key.h"

APLOG_USE_MODULE(mcp_auth);

#define MIN_SECRET 32
#define MAX_SECRET 4096
#define DEFAULT_FILE "mcp_auth_relay.key"

static const char *configured_file;
static unsigned char key[MCP_SEAL_KEY_LEN];
static char key_id[MCP_SEAL_KEY_ID_HEX];
static int have_key;

/* Reads the secret in path into key. NULL, or why not. */
static const char *load(apr_pool_t *p, const char *path)
{
    char buf[MAX_SECRET];
    apr_file_t *f;
    apr_size_t n = sizeof(buf);
    apr_status_t rv;
    unsigned int len = 0;

    if ((rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY, 0, p)) != APR_SUCCESS)
        return apr_psprintf(p, "cannot read %s: %pm", path, &rv);
    rv = apr_file_read_full(f, buf, sizeof(buf), &n);
    apr_file_close(f);
    if (rv != APR_SUCCESS && rv != APR_EOF)
        return apr_psprintf(p, "cannot read %s: %pm", path, &rv);
    if (n < MIN_SECRET)
        return apr_psprintf(p, "%s holds %" APR_SIZE_T_FMT " bytes; at least %d are needed", path, n, MIN_SECRET);
    if (!EVP_Digest(buf, n, key, &len, EVP_sha256(), NULL) || len != sizeof(key))
        return "cannot derive the key";
    have_key = 1;
    return NULL;
}

/* Makes a new secret file (0600, created exclusively: two starting servers
 * never write one over the other); *created says whether this call did. */
static const char *create(apr_pool_t *p, const char *path, int *created)
{
    unsigned char raw[MCP_SEAL_KEY_LEN];
    char hex[2 * sizeof(raw) + 2];
    apr_file_t *f;
    apr_size_t i, n;
    apr_status_t rv;

    if (!mcp_seal_random(raw, sizeof(raw)))
        return "no random bytes for a relay key";
    for (i = 0; i < sizeof(raw); i++)
        apr_snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    hex[2 * sizeof(raw)] = '\n';
    n = 2 * sizeof(raw) + 1;
    rv = apr_file_open(&f, path, APR_FOPEN_WRITE | APR_FOPEN_CREATE | APR_FOPEN_EXCL | APR_FOPEN_BINARY,
                       APR_FPROT_UREAD | APR_FPROT_UWRITE, p);
    *created = rv == APR_SUCCESS;
    if (rv == APR_SUCCESS) {
        rv = apr_file_write_full(f, hex, n, NULL);
        apr_file_close(f);
    }
    if (rv != APR_SUCCESS && !APR_STATUS_IS_EEXIST(rv))
        return apr_psprintf(p, "cannot create %s: %pm", path, &rv);
    return NULL;
}

const char *mcp_relay_key_directive(cmd_parms *cmd, void *dummy, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY), *path;

    if (err)
        return err;
    path = ap_server_root_relative(cmd->pool, arg);
    if (path == NULL || (err = load(cmd->temp_pool, path)) != NULL)
        return apr_psprintf(cmd->pool, "MCPAuthRelayKey: %s", path ? err : "invalid path");
    configured_file = path;
    return NULL;
}

void mcp_relay_key_pre_config(void)
{
    configured_file = NULL;
    have_key = 0;
}

int mcp_relay_key_init(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    const char *path = configured_file, *err = NULL;
    int created = 0;

    if (path == NULL) {
        path = ap_runtime_dir_relative(ptemp, DEFAULT_FILE);
        err = create(ptemp, path, &created);
        /* the runtime directory is often emptied at boot (/run is a tmpfs):
         * a new key there voids every client id and login sealed before */
        if (err == NULL && created)
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                         "MCPAUTH0049: created the relay key %s; client ids and refresh tokens the relay "
                         "sealed with an earlier key are void (clients register and log in again), and so "
                         "are MCP session ids (clients start new sessions). Set "
                         "MCPAuthRelayKey to a file on persistent storage to keep them across reboots",
                         path);
    }
    if (err == NULL)
        err = load(ptemp, path);
    if (err) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "MCPAUTH0040: relay key (MCPAuthRelayKey): %s", err);
        return 0;
    }
    mcp_seal_key_id(key, key_id);
    /* hosts that serve the same clients must print the same id */
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, "MCPAUTH0060: relay key %s, key id %s", path, key_id);
    return 1;
}

void mcp_relay_key_explain(request_rec *r, const char *sealed)
{
    static apr_uint32_t last_warning;
    apr_uint32_t now = (apr_uint32_t)apr_time_sec(apr_time_now()), last = apr_atomic_read32(&last_warning);
    char theirs[MCP_SEAL_KEY_ID_HEX];

    if (!have_key || !mcp_sealed_key_id(sealed, theirs) || strcmp(theirs, key_id) == 0)
        return;
    if (now - last < 60 || apr_atomic_cas32(&last_warning, now, last) != last)
        return;
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  "MCPAUTH0061: a value sealed under relay key id %s arrived, this host's is %s: hosts that "
                  "serve the same clients need the same MCPAuthRelayKey file (or the value is forged)",
                  theirs, key_id);
}

const unsigned char *mcp_relay_key(void)
{
    return have_key ? key : NULL;
}
