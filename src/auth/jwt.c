/* jwt.c - verifying a compact JWS (header.payload.signature) with OpenSSL 3, the claims checks
   PostgREST makes, the role claim, the per-worker cache of verified tokens, and minting HS256
   tokens for development. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "auth/auth_int.h"

static int
fail301(struct dba_err *err, const char *msg)
{
    return dba_err_set(err, DBA_EINVAL, 401, "PGRST301", "%s", msg);
}

static int
fail303(struct dba_err *err, const char *msg)
{
    return dba_err_set(err, DBA_EINVAL, 401, "PGRST303", "%s", msg);
}

/* The JWS algorithms we verify; anything else ("none" included) has no key kind. */
static const struct {
    const char *name;        /* alg header value */
    enum auth_key_kind kind; /* key kind it needs */
    const char *md;          /* digest (NULL for EdDSA) */
    int ec_bits;             /* EC curve size for ES* */
} algs[] = {
    { "HS256", AUTH_KEY_HMAC, "SHA256", 0 }, { "HS384", AUTH_KEY_HMAC, "SHA384", 0 },
    { "HS512", AUTH_KEY_HMAC, "SHA512", 0 }, { "RS256", AUTH_KEY_RSA, "SHA256", 0 },
    { "RS384", AUTH_KEY_RSA, "SHA384", 0 },  { "RS512", AUTH_KEY_RSA, "SHA512", 0 },
    { "ES256", AUTH_KEY_EC, "SHA256", 256 }, { "ES384", AUTH_KEY_EC, "SHA384", 384 },
    { "EdDSA", AUTH_KEY_OKP, NULL, 0 },
};

static bool
verify_hmac(const struct auth_key *k, const char *md, const unsigned char *data, size_t n,
            const unsigned char *sig, size_t sig_len)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;

    if (HMAC(EVP_get_digestbyname(md), k->secret, (int)k->secret_len, data, n, mac, &mac_len)
        == NULL)
        return false;
    return mac_len == sig_len && CRYPTO_memcmp(mac, sig, sig_len) == 0;
}

/* ES256/384 signatures are R || S (RFC 7518 3.4); OpenSSL wants DER. */
static unsigned char *
ecdsa_der(const unsigned char *sig, size_t sig_len, int bits, size_t *der_len)
{
    size_t half = (size_t)bits / 8;
    unsigned char *der = NULL;

    if (sig_len != 2 * half)
        return NULL;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, (int)half, NULL), *s = BN_bin2bn(sig + half, (int)half, NULL);
    if (es != NULL && r != NULL && s != NULL && ECDSA_SIG_set0(es, r, s) == 1) {
        r = s = NULL; /* owned by es now */
        int n = i2d_ECDSA_SIG(es, &der);
        *der_len = n > 0 ? (size_t)n : 0;
        if (n <= 0)
            der = NULL;
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return der;
}

static bool
verify_pkey(const struct auth_key *k, const char *md, const unsigned char *data, size_t n,
            const unsigned char *sig, size_t sig_len, int ec_bits)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char *der = NULL;
    bool ok = false;

    if (k->kind == AUTH_KEY_EC) {
        if (k->ec_bits != ec_bits)
            goto out;
        der = ecdsa_der(sig, sig_len, ec_bits, &sig_len);
        if (der == NULL)
            goto out;
        sig = der;
    }
    if (ctx != NULL && EVP_DigestVerifyInit_ex(ctx, NULL, md, NULL, NULL, k->pkey, NULL) == 1)
        ok = EVP_DigestVerify(ctx, sig, sig_len, data, n) == 1;
out:
    OPENSSL_free(der);
    EVP_MD_CTX_free(ctx);
    return ok;
}

/* Checks the signature over header.payload (data, n) with a key fit for alg. */
static int
sig_check(const struct dba_auth *a, const char *alg, const char *kid, const unsigned char *data,
          size_t n, const unsigned char *sig, size_t sig_len, struct dba_err *err)
{
    size_t ai;
    bool tried = false;

    for (ai = 0; ai < DBA_ARRAY_LEN(algs); ai++)
        if (strcmp(algs[ai].name, alg) == 0)
            break;
    if (ai == DBA_ARRAY_LEN(algs)) /* "none", "PS256", ...: not ours */
        return fail301(err, "JWSError (JWSInvalidAlg)");
    for (size_t i = 0; i < a->n_keys; i++) {
        const struct auth_key *k = &a->keys[i];
        /* The key decides the algorithm: its kind (an HS token is never checked with a public
           key's bytes as its secret), and its JWK alg when it has one. */
        if (k->kind != algs[ai].kind || (k->alg != NULL && strcmp(k->alg, alg) != 0))
            continue;
        if (kid != NULL && k->kid != NULL && strcmp(kid, k->kid) != 0)
            continue;
        tried = true;
        bool ok = k->kind == AUTH_KEY_HMAC
                      ? verify_hmac(k, algs[ai].md, data, n, sig, sig_len)
                      : verify_pkey(k, algs[ai].md, data, n, sig, sig_len, algs[ai].ec_bits);
        if (ok)
            return DBA_OK;
    }
    return fail301(err, tried ? "JWSError JWSInvalidSignature"
                              : "JWSError (JSONDecodeError \"No suitable key or wrong key type\")");
}

/* A NumericDate claim: absent is fine; present must be a number. */
static int
time_claim(json_t *claims, const char *name, double *out, bool *has, struct dba_err *err)
{
    json_t *v = json_object_get(claims, name);

    *has = false;
    if (v == NULL || json_is_null(v))
        return DBA_OK;
    if (!json_is_number(v))
        return dba_err_set(err, DBA_EINVAL, 401, "PGRST303", "The JWT '%s' claim must be a number",
                           name);
    *out = json_number_value(v);
    *has = true;
    return DBA_OK;
}

static int
claims_check(const struct dba_auth *a, json_t *claims, int64_t now, double *exp_out,
             struct dba_err *err)
{
    double exp = 0, nbf = 0, iat = 0;
    bool has_exp, has_nbf, has_iat;

    if (time_claim(claims, "exp", &exp, &has_exp, err) != DBA_OK ||
        time_claim(claims, "nbf", &nbf, &has_nbf, err) != DBA_OK ||
        time_claim(claims, "iat", &iat, &has_iat, err) != DBA_OK)
        return DBA_EINVAL;
    if (has_exp && (double)now > exp + DBA_AUTH_SKEW_S)
        return fail303(err, "JWT expired");
    if (has_nbf && (double)now + DBA_AUTH_SKEW_S < nbf)
        return fail303(err, "JWT not yet valid");
    if (has_iat && (double)now + DBA_AUTH_SKEW_S < iat)
        return fail303(err, "JWT issued at future");
    *exp_out = has_exp ? exp + DBA_AUTH_SKEW_S : INFINITY;
    json_t *aud = json_object_get(claims, "aud");
    if (aud != NULL && !json_is_null(aud) && !json_is_string(aud) && !json_is_array(aud))
        return fail303(err, "The JWT 'aud' claim must be a string or an array of strings");
    if (json_is_array(aud)) {
        size_t i;
        json_t *v;
        json_array_foreach(aud, i, v) {
            if (!json_is_string(v))
                return fail303(err,
                               "The JWT 'aud' claim must be a string or an array of strings");
        }
    }
    if (a->aud == NULL || aud == NULL || json_is_null(aud) ||
        (json_is_array(aud) && json_array_size(aud) == 0))
        return DBA_OK;
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), a->aud) == 0 ? DBA_OK
                                                            : fail303(err, "JWT not in audience");
    size_t i;
    json_t *v;
    json_array_foreach(aud, i, v) {
        if (strcmp(json_string_value(v), a->aud) == 0)
            return DBA_OK;
    }
    return fail303(err, "JWT not in audience");
}

static const char *
role_get(const struct dba_auth *a, json_t *claims)
{
    json_t *v = claims;

    for (size_t i = 0; i < a->n_path && v != NULL; i++)
        v = a->path[i].key ? json_object_get(v, a->path[i].key)
                           : json_array_get(v, a->path[i].index);
    return json_string_value(v);
}

/* The cache: open hashing into a fixed table of slots, 2-way (a token may sit in slot h or h+1;
   a new entry replaces the one expiring first). A slot owns its copies. */
struct cache_slot {
    char *token;     /* key, or NULL when the slot is free */
    size_t len;      /* its length */
    uint64_t hash;   /* its hash */
    double exp;      /* Unix time after which the entry is dead (exp + skew), or INFINITY */
    char *role;      /* role claim, or NULL */
    char *claims;    /* claims JSON */
};

struct dba_auth_cache {
    struct cache_slot *slots; /* n slots */
    size_t n;                 /* a power of two */
    uint64_t seed;            /* random hash seed: a client cannot aim at one slot */
    uint64_t hits;            /* lookups answered */
    uint64_t misses;          /* lookups not answered */
};

struct dba_auth_cache *
dba_auth_cache_new(size_t slots)
{
    struct dba_auth_cache *c = dba_xcalloc(1, sizeof(*c));
    size_t n = 16;

    while (n < slots)
        n *= 2;
    c->slots = dba_xcalloc(n, sizeof(*c->slots));
    c->n = n;
    if (RAND_bytes((unsigned char *)&c->seed, sizeof(c->seed)) != 1)
        c->seed = (uint64_t)dba_now_us();
    return c;
}

static void
slot_clear(struct cache_slot *s)
{
    free(s->token);
    free(s->role);
    free(s->claims);
    memset(s, 0, sizeof(*s));
}

void
dba_auth_cache_free(struct dba_auth_cache *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++)
        slot_clear(&c->slots[i]);
    free(c->slots);
    free(c);
}

void
dba_auth_cache_clear(struct dba_auth_cache *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++)
        if (c->slots[i].token != NULL)
            slot_clear(&c->slots[i]);
}

void
dba_auth_cache_stats(const struct dba_auth_cache *c, uint64_t *hits, uint64_t *misses)
{
    *hits = c->hits;
    *misses = c->misses;
}

static uint64_t
cache_hash(const struct dba_auth_cache *c, const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL ^ c->seed;

    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h ^ (h >> 29);
}

static struct cache_slot *
cache_find(struct dba_auth_cache *c, const char *tok, size_t len, uint64_t h, int64_t now)
{
    for (size_t i = 0; i < 2; i++) {
        struct cache_slot *s = &c->slots[(h + i) & (c->n - 1)];
        if (s->token == NULL || s->hash != h || s->len != len ||
            CRYPTO_memcmp(s->token, tok, len) != 0)
            continue;
        if ((double)now > s->exp) {
            slot_clear(s);
            return NULL;
        }
        return s;
    }
    return NULL;
}

static void
cache_put(struct dba_auth_cache *c, const char *tok, size_t len, uint64_t h, double exp,
          const char *role, const char *claims)
{
    struct cache_slot *a = &c->slots[h & (c->n - 1)];
    struct cache_slot *b = &c->slots[(h + 1) & (c->n - 1)];
    struct cache_slot *s = a->token == NULL ? a : b->token == NULL ? b : a->exp <= b->exp ? a : b;

    slot_clear(s);
    s->token = dba_xstrndup(tok, len);
    s->len = len;
    s->hash = h;
    s->exp = exp;
    s->role = role ? dba_xstrdup(role) : NULL;
    s->claims = dba_xstrdup(claims);
}

static json_t *
segment_json(const char *s, size_t n)
{
    unsigned char *raw;
    size_t len;

    if (!dba_auth_b64_decode(s, n, false, &raw, &len))
        return NULL;
    json_t *v = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, NULL);
    free(raw);
    if (!json_is_object(v)) {
        json_decref(v);
        return NULL;
    }
    return v;
}

int
dba_auth_verify(const struct dba_auth *a, struct dba_auth_cache *cache, const char *token,
                int64_t now, struct dba_arena *ar, struct dba_auth_id *out, struct dba_err *err)
{
    size_t len = strlen(token);
    uint64_t h = 0;

    if (len == 0)
        return fail301(err, "Empty JWT is sent in Authorization header");
    if (cache != NULL && len <= DBA_AUTH_MAX_TOKEN) {
        h = cache_hash(cache, token, len);
        struct cache_slot *s = cache_find(cache, token, len, h, now);
        if (s != NULL) {
            cache->hits++;
            out->role = s->role ? dba_arena_strdup(ar, s->role) : NULL;
            out->claims = dba_arena_strdup(ar, s->claims);
            return DBA_OK;
        }
        cache->misses++;
    }
    const char *d1 = strchr(token, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (d1 == NULL || d2 == NULL || strchr(d2 + 1, '.') != NULL) {
        size_t parts = 1;
        for (const char *p = token; *p; p++)
            parts += *p == '.';
        return dba_err_set(err, DBA_EINVAL, 401, "PGRST301", "Expected 3 parts in JWT; got %zu",
                           parts);
    }
    if (a->n_keys == 0)
        return dba_err_set(err, DBA_EINVAL, 500, "PGRST300", "Server lacks JWT secret");
    if (len > DBA_AUTH_MAX_TOKEN)
        return fail301(err, "JWSError (CompactDecodeError \"token too long\")");
    json_t *hdr = segment_json(token, (size_t)(d1 - token));
    if (hdr == NULL)
        return fail301(err, "JWSError (CompactDecodeError Invalid JWS header)");
    const char *alg = json_string_value(json_object_get(hdr, "alg"));
    const char *kid = json_string_value(json_object_get(hdr, "kid"));
    unsigned char *sig = NULL;
    size_t sig_len = 0;
    int rc;
    if (alg == NULL)
        rc = fail301(err, "JWSError (JWSInvalidAlg)");
    else if (!dba_auth_b64_decode(d2 + 1, strlen(d2 + 1), false, &sig, &sig_len))
        rc = fail301(err, "JWSError (CompactDecodeError Invalid signature encoding)");
    else
        rc = sig_check(a, alg, kid, (const unsigned char *)token, (size_t)(d2 - token), sig,
                       sig_len, err);
    free(sig);
    json_decref(hdr);
    if (rc != DBA_OK)
        return rc;
    json_t *claims = segment_json(d1 + 1, (size_t)(d2 - d1 - 1));
    if (claims == NULL)
        return fail301(err, "JWSError (CompactDecodeError Invalid JWT claims: not a JSON object)");
    double exp = 0;
    rc = claims_check(a, claims, now, &exp, err);
    if (rc == DBA_OK) {
        const char *role = role_get(a, claims);
        char *text = json_dumps(claims, JSON_COMPACT);
        out->role = role ? dba_arena_strdup(ar, role) : NULL;
        out->claims = dba_arena_strdup(ar, text);
        if (cache != NULL)
            cache_put(cache, token, len, h, exp, role, text);
        free(text);
    }
    json_decref(claims);
    return rc;
}

static void
b64_json(struct dba_buf *b, json_t *v)
{
    char *t = json_dumps(v, JSON_COMPACT);
    dba_auth_b64url_put(b, (const unsigned char *)t, strlen(t));
    free(t);
}

int
dba_auth_mint(const struct dba_auth *a, const char *role, const char *claims_json, int64_t now,
              int64_t ttl_s, char **out, struct dba_err *err)
{
    const struct auth_key *k = NULL;

    for (size_t i = 0; i < a->n_keys && k == NULL; i++)
        if (a->keys[i].kind == AUTH_KEY_HMAC && (a->keys[i].alg == NULL ||
                                                 strcmp(a->keys[i].alg, "HS256") == 0))
            k = &a->keys[i];
    if (k == NULL)
        return dba_err_set(err, DBA_EINVAL, 0, "DBA400",
                           "no HS256 secret is configured (auth.jwt_secret or jwt_secret_env): "
                           "tokens for public keys are minted by their issuer");
    json_t *claims = claims_json ? json_loads(claims_json, 0, NULL) : json_object();
    if (!json_is_object(claims)) {
        json_decref(claims);
        return dba_err_set(err, DBA_EINVAL, 0, "DBA400", "--claims must be a JSON object");
    }
    if (role != NULL)
        json_object_set_new(claims, "role", json_string(role));
    json_object_set_new(claims, "iat", json_integer(now));
    if (ttl_s > 0)
        json_object_set_new(claims, "exp", json_integer(now + ttl_s));
    json_t *hdr = json_pack("{s:s, s:s}", "alg", "HS256", "typ", "JWT");
    struct dba_buf b;
    dba_buf_init(&b);
    b64_json(&b, hdr);
    dba_buf_putc(&b, '.');
    b64_json(&b, claims);
    json_decref(hdr);
    json_decref(claims);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    HMAC(EVP_sha256(), k->secret, (int)k->secret_len, (const unsigned char *)b.data, b.len, mac,
         &mac_len);
    dba_buf_putc(&b, '.');
    dba_auth_b64url_put(&b, mac, mac_len);
    *out = dba_buf_take(&b);
    return DBA_OK;
}
