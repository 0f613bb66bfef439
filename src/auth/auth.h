/* auth.h - JWT verification (OpenSSL 3) and the request's identity: keys from the `auth` config
   group, the role claim (PostgREST's JSPath), a per-worker cache of verified tokens, and minting
   of development tokens (`db-adapter token`). Depends on core and config only. */
#ifndef DBA_AUTH_H
#define DBA_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/core.h"

/* Clock skew allowed on exp, nbf and iat, in seconds (as PostgREST). */
#define DBA_AUTH_SKEW_S 30
/* Verified-token cache slots per worker (default of dba_auth_cache_new). */
#define DBA_AUTH_CACHE_SLOTS 1024
/* Longest token accepted (bytes); longer ones are refused as undecodable. */
#define DBA_AUTH_MAX_TOKEN 16384

/* The keys and claim rules of one `auth` group, immutable after dba_auth_new: shared by every
   worker thread without a lock. */
struct dba_auth;

/*
 * Builds the verifier of cfg (cfg->present must be true): the HS secret (base64 when
 * jwt_secret_is_base64), a JWK or JWKS in jwt_secret, or the JWKS file jwks_file; the role claim
 * path. A group with no key at all is valid (every token is then refused with 500 PGRST300).
 * DBA_OK and *out, or DBA_EINVAL (bad JWK, unreadable file, bad role_claim_key; the message never
 * holds the secret).
 */
DBA_MUSTCHECK int dba_auth_new(const struct dba_config_auth *cfg, struct dba_auth **out,
                               struct dba_err *err);
void dba_auth_free(struct dba_auth *a);
/* True when a symmetric (HS) key is configured: `db-adapter token` can sign with it. */
bool dba_auth_can_mint(const struct dba_auth *a);

/* What a verified token says. Strings live in the arena given to dba_auth_verify. */
struct dba_auth_id {
    const char *role;   /* the role claim, or NULL when the token has none */
    const char *claims; /* the claims as compact JSON text */
};

/* A bounded cache of verified tokens, keyed by the token, each entry expiring with its token.
   Not thread-safe: one per worker (a request never leaves its worker). */
struct dba_auth_cache;
struct dba_auth_cache *dba_auth_cache_new(size_t slots);
void dba_auth_cache_free(struct dba_auth_cache *c);
/* Forgets every cached token (the keys changed), keeping the hit and miss counts. */
void dba_auth_cache_clear(struct dba_auth_cache *c);
/* Hits and misses so far (tests, metrics). */
void dba_auth_cache_stats(const struct dba_auth_cache *c, uint64_t *hits, uint64_t *misses);

/*
 * Verifies token (the text after "Bearer ") at time now (Unix seconds): signature with a key of
 * the token's alg (kid selects among several; `none` and algorithm confusion refused), exp / nbf
 * / iat with DBA_AUTH_SKEW_S, aud when jwt_aud is set, and reads the role claim. cache may be
 * NULL. DBA_OK and *out (strings in a), or DBA_EINVAL with err as PostgREST answers: 401 PGRST301
 * (undecodable, bad signature, no suitable key), 401 PGRST303 (claims), 500 PGRST300 (no key
 * configured); err->msg is the error_description.
 */
DBA_MUSTCHECK int dba_auth_verify(const struct dba_auth *a, struct dba_auth_cache *cache,
                                  const char *token, int64_t now, struct dba_arena *ar,
                                  struct dba_auth_id *out, struct dba_err *err);

/*
 * Mints an HS256 token (HS key of a) carrying claims_json (an object, may be NULL) with role,
 * iat = now and exp = now + ttl_s (no exp when ttl_s <= 0). DBA_OK and *out (heap, caller frees),
 * or DBA_EINVAL (no HS key, claims not an object).
 */
DBA_MUSTCHECK int dba_auth_mint(const struct dba_auth *a, const char *role, const char *claims_json,
                                int64_t now, int64_t ttl_s, char **out, struct dba_err *err);

/* Decodes base64url (or standard base64 when std) text of length n, padding optional, into a new
   heap buffer (*out, *out_len); false on a bad character or length. */
bool dba_auth_b64_decode(const char *s, size_t n, bool std, unsigned char **out, size_t *out_len);
/* Appends base64url (no padding) of p[0..n) to b. */
void dba_auth_b64url_put(struct dba_buf *b, const unsigned char *p, size_t n);

#endif
