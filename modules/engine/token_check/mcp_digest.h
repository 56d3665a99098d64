/* Message digests with the context each thread keeps. In a busy server,
 * making and freeing a context per digest (an allocation, a reference on
 * the digest, OpenSSL's bookkeeping) cost several times the hash of a token
 * of a few hundred bytes. */
#ifndef MCP_DIGEST_H
#define MCP_DIGEST_H

#include <stddef.h>
#include <openssl/evp.h>

/* md over data, then more (NULL for nothing more), into out (room for
 * EVP_MAX_MD_SIZE bytes), its length in *out_len. 1 on success. */
int mcp_digest(const EVP_MD *md, const void *data, size_t len, const void *more, size_t more_len,
               unsigned char *out, unsigned int *out_len);

#endif
