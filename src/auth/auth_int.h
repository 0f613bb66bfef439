/* auth_int.h - declarations shared by the files of the auth module only. */
#ifndef DBA_AUTH_INT_H
#define DBA_AUTH_INT_H

#include <openssl/evp.h>

#include "auth/auth.h"

enum auth_key_kind {
    AUTH_KEY_HMAC, /* HS256/384/512: secret */
    AUTH_KEY_RSA,  /* RS256/384/512: pkey */
    AUTH_KEY_EC,   /* ES256 (P-256) / ES384 (P-384): pkey, ec_bits */
    AUTH_KEY_OKP,  /* EdDSA (Ed25519, Ed448): pkey */
};

struct auth_key {
    enum auth_key_kind kind; /* see enum */
    unsigned char *secret;   /* HMAC secret (owned, cleansed at free) */
    size_t secret_len;       /* its length */
    EVP_PKEY *pkey;          /* public key (owned) */
    int ec_bits;             /* EC curve size: 256 or 384 */
    char *kid;               /* JWK kid, or NULL */
    char *alg;               /* JWK alg (the only alg this key accepts), or NULL */
};

/* One step of the role claim path: an object key, or (key NULL) an array index. */
struct auth_step {
    char *key;    /* member name, or NULL */
    size_t index; /* array index when key is NULL */
};

struct dba_auth {
    struct auth_key *keys; /* every key, in configuration order */
    size_t n_keys;         /* count */
    size_t cap_keys;       /* room */
    struct auth_step *path; /* role claim path */
    size_t n_path;         /* its steps (>= 1) */
    char *aud;             /* jwt_aud, or NULL */
};

#endif
