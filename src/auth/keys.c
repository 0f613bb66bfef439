/* keys.c - the verifier's keys: the HS secret, JWK / JWKS text (jwt_secret or jwks_file)
   imported into OpenSSL 3 EVP_PKEYs, the role claim path, and base64(url). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "auth/auth_int.h"

static int
b64_val(unsigned char c, bool std)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (std ? '+' : '-'))
        return 62;
    if (c == (std ? '/' : '_'))
        return 63;
    return -1;
}

bool
dba_auth_b64_decode(const char *s, size_t n, bool std, unsigned char **out, size_t *out_len)
{
    while (n > 0 && s[n - 1] == '=')
        n--;
    if (n % 4 == 1)
        return false;
    unsigned char *o = dba_xmalloc(n * 3 / 4 + 1);
    size_t k = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_val((unsigned char)s[i], std);
        if (v < 0) {
            free(o);
            return false;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            o[k++] = (unsigned char)(acc >> bits);
        }
    }
    *out = o;
    *out_len = k;
    return true;
}

void
dba_auth_b64url_put(struct dba_buf *b, const unsigned char *p, size_t n)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint32_t acc = 0;
    int bits = 0;

    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | p[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            dba_buf_putc(b, al[(acc >> bits) & 63]);
        }
    }
    if (bits > 0)
        dba_buf_putc(b, al[(acc << (6 - bits)) & 63]);
}

/* The member key of JWK o decoded from base64url, or false. */
static bool
jwk_bytes(json_t *o, const char *key, unsigned char **out, size_t *len)
{
    const char *s = json_string_value(json_object_get(o, key));

    return s != NULL && dba_auth_b64_decode(s, strlen(s), false, out, len);
}

static EVP_PKEY *
pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld, int selection)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *pk = NULL;

    if (params != NULL && ctx != NULL && EVP_PKEY_fromdata_init(ctx) == 1)
        if (EVP_PKEY_fromdata(ctx, &pk, selection, params) != 1)
            pk = NULL;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pk;
}

static EVP_PKEY *
jwk_rsa(json_t *o)
{
    unsigned char *n = NULL, *e = NULL;
    size_t nl = 0, el = 0;
    EVP_PKEY *pk = NULL;

    if (jwk_bytes(o, "n", &n, &nl) && jwk_bytes(o, "e", &e, &el) && nl >= 256) {
        BIGNUM *bn = BN_bin2bn(n, (int)nl, NULL), *be = BN_bin2bn(e, (int)el, NULL);
        OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
        if (bn && be && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) == 1 &&
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) == 1)
            pk = pkey_fromdata("RSA", bld, EVP_PKEY_PUBLIC_KEY);
        OSSL_PARAM_BLD_free(bld);
        BN_free(bn);
        BN_free(be);
    }
    free(n);
    free(e);
    return pk;
}

static EVP_PKEY *
jwk_ec(json_t *o, int *crv)
{
    const char *c = json_string_value(json_object_get(o, "crv"));
    const char *group;
    size_t want;
    unsigned char *x = NULL, *y = NULL;
    size_t xl = 0, yl = 0;
    EVP_PKEY *pk = NULL;

    if (c != NULL && strcmp(c, "P-256") == 0) {
        group = "prime256v1";
        want = 32;
        *crv = 256;
    } else if (c != NULL && strcmp(c, "P-384") == 0) {
        group = "secp384r1";
        want = 48;
        *crv = 384;
    } else {
        return NULL;
    }
    if (jwk_bytes(o, "x", &x, &xl) && jwk_bytes(o, "y", &y, &yl) && xl == want && yl == want) {
        unsigned char pt[1 + 2 * 48];
        pt[0] = 0x04; /* uncompressed point */
        memcpy(pt + 1, x, want);
        memcpy(pt + 1 + want, y, want);
        OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
        if (bld && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) == 1
            && OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, 1 + 2 * want)
                   == 1)
            pk = pkey_fromdata("EC", bld, EVP_PKEY_PUBLIC_KEY);
        OSSL_PARAM_BLD_free(bld);
    }
    free(x);
    free(y);
    return pk;
}

static EVP_PKEY *
jwk_okp(json_t *o)
{
    const char *c = json_string_value(json_object_get(o, "crv"));
    unsigned char *x = NULL;
    size_t xl = 0;
    EVP_PKEY *pk = NULL;

    if (c != NULL && strcmp(c, "Ed25519") == 0 && jwk_bytes(o, "x", &x, &xl) && xl == 32)
        pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, xl);
    else if (c != NULL && strcmp(c, "Ed448") == 0 && jwk_bytes(o, "x", &x, &xl) && xl == 57)
        pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED448, NULL, x, xl);
    free(x);
    return pk;
}

static void
key_push(struct dba_auth *a, struct auth_key *k)
{
    if (a->n_keys == a->cap_keys) {
        a->cap_keys = a->cap_keys ? a->cap_keys * 2 : 4;
        a->keys = dba_xrealloc(a->keys, a->cap_keys * sizeof(*a->keys));
    }
    a->keys[a->n_keys++] = *k;
}

/* Adds one JWK; a key of an unknown type or for another use than signatures is skipped. */
static int
jwk_add(struct dba_auth *a, json_t *o, const char *where, struct dba_err *err)
{
    const char *kty = json_string_value(json_object_get(o, "kty"));
    const char *use = json_string_value(json_object_get(o, "use"));
    const char *kid = json_string_value(json_object_get(o, "kid"));
    const char *alg = json_string_value(json_object_get(o, "alg"));
    struct auth_key k = { 0 };

    if (!json_is_object(o) || kty == NULL)
        return dba_err_set(err, DBA_EINVAL, 0, DBA_CONFIG_CODE_INVALID,
                           "%s: a JWK must be an object with \"kty\"", where);
    if (use != NULL && strcmp(use, "sig") != 0)
        return DBA_OK;
    if (strcmp(kty, "oct") == 0) {
        k.kind = AUTH_KEY_HMAC;
        if (!jwk_bytes(o, "k", &k.secret, &k.secret_len) || k.secret_len == 0)
            return dba_err_set(err, DBA_EINVAL, 0, DBA_CONFIG_CODE_INVALID,
                               "%s: oct JWK without a valid \"k\"", where);
    } else if (strcmp(kty, "RSA") == 0) {
        k.kind = AUTH_KEY_RSA;
        k.pkey = jwk_rsa(o);
    } else if (strcmp(kty, "EC") == 0) {
        k.kind = AUTH_KEY_EC;
        k.pkey = jwk_ec(o, &k.ec_bits);
    } else if (strcmp(kty, "OKP") == 0) {
        k.kind = AUTH_KEY_OKP;
        k.pkey = jwk_okp(o);
    } else {
        return DBA_OK;
    }
    if (k.kind != AUTH_KEY_HMAC && k.pkey == NULL)
        return dba_err_set(err, DBA_EINVAL, 0, DBA_CONFIG_CODE_INVALID,
                           "%s: %s JWK%s%s could not be imported (RSA needs n >= 2048 bits, EC "
                           "P-256/P-384, OKP Ed25519/Ed448)", where, kty, kid ? " " : "",
                           kid ? kid : "");
    k.kid = kid ? dba_xstrdup(kid) : NULL;
    k.alg = alg ? dba_xstrdup(alg) : NULL;
    key_push(a, &k);
    return DBA_OK;
}

/* JWK or JWKS text. */
static int
jwk_text(struct dba_auth *a, const char *text, size_t len, const char *where, struct dba_err *err)
{
    json_error_t je;
    json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    int rc = DBA_OK;

    if (!json_is_object(v)) {
        json_decref(v);
        return dba_err_set(err, DBA_EINVAL, 0, DBA_CONFIG_CODE_INVALID,
                           "%s: not a JWK or JWKS (JSON object expected, line %d)", where,
                           je.line);
    }
    json_t *keys = json_object_get(v, "keys");
    if (keys != NULL) {
        size_t i;
        json_t *k;
        if (!json_is_array(keys))
            rc = dba_err_set(err, DBA_EINVAL, 0, DBA_CONFIG_CODE_INVALID,
                             "%s: JWKS \"keys\" must be an array", where);
        json_array_foreach(keys, i, k) {
            if (rc == DBA_OK)
                rc = jwk_add(a, k, where, err);
        }
    } else {
        rc = jwk_add(a, v, where, err);
    }
    json_decref(v);
    return rc;
}

/* PostgREST's role claim DSL: steps `.key`, `."quoted key"`, `[index]`. */
static int
path_parse(struct dba_auth *a, const char *p, struct dba_err *err)
{
    const char *s = p;

    if (p[0] == '$') /* JSONPath style "$.role": the same steps after the root */
        s++;
    while (*s != '\0') {
        struct auth_step st = { 0 };
        if (*s == '.' && s[1] == '"') {
            const char *e = strchr(s + 2, '"');
            if (e == NULL)
                goto bad;
            st.key = dba_xstrndup(s + 2, (size_t)(e - s - 2));
            s = e + 1;
        } else if (*s == '.') {
            size_t n = strcspn(s + 1, ".[");
            if (n == 0)
                goto bad;
            st.key = dba_xstrndup(s + 1, n);
            s += 1 + n;
        } else if (*s == '[') {
            char *end;
            errno = 0;
            long i = strtol(s + 1, &end, 10);
            if (end == s + 1 || *end != ']' || i < 0 || errno != 0)
                goto bad;
            st.index = (size_t)i;
            s = end + 1;
        } else {
            goto bad;
        }
        a->path = dba_xrealloc(a->path, (a->n_path + 1) * sizeof(*a->path));
        a->path[a->n_path++] = st;
    }
    if (a->n_path > 0)
        return DBA_OK;
bad:
    return dba_err_set(err, DBA_EINVAL, 0, DBA_CONFIG_CODE_INVALID,
                       "auth.role_claim_key: cannot parse '%s' (use e.g. .role, "
                       ".\"https://example.com/claims\".role or .roles[0])", p);
}


int
dba_auth_new(const struct dba_config_auth *cfg, struct dba_auth **out, struct dba_err *err)
{
    struct dba_auth *a = dba_xcalloc(1, sizeof(*a));
    int rc = DBA_OK;

    a->aud = cfg->jwt_aud ? dba_xstrdup(cfg->jwt_aud) : NULL;
    rc = path_parse(a, cfg->role_claim_key ? cfg->role_claim_key : ".role", err);
    const char *sec = cfg->jwt_secret;
    if (rc == DBA_OK && sec != NULL && sec[0] != '\0') {
        const char *t = sec + strspn(sec, " \t\r\n");
        if (*t == '{') {
            rc = jwk_text(a, t, strlen(t), "auth.jwt_secret", err);
        } else {
            struct auth_key k = { .kind = AUTH_KEY_HMAC };
            if (cfg->jwt_secret_is_base64) {
                if (!dba_auth_b64_decode(sec, strlen(sec), true, &k.secret, &k.secret_len) &&
                    !dba_auth_b64_decode(sec, strlen(sec), false, &k.secret, &k.secret_len))
                    rc = dba_err_set(err, DBA_EINVAL, 0, DBA_CONFIG_CODE_INVALID,
                                     "auth.jwt_secret: not valid base64 "
                                     "(jwt_secret_is_base64 = true)");
            } else {
                k.secret_len = strlen(sec);
                k.secret = (unsigned char *)dba_xstrdup(sec);
            }
            if (rc == DBA_OK && k.secret_len < 32)
                rc = dba_err_set(err, DBA_EINVAL, 0, DBA_CONFIG_CODE_INVALID,
                                 "auth.jwt_secret: an HS secret must be at least 32 bytes");
            if (rc == DBA_OK)
                key_push(a, &k);
            else if (k.secret != NULL) {
                OPENSSL_cleanse(k.secret, k.secret_len);
                free(k.secret);
            }
        }
    }
    if (rc == DBA_OK && cfg->jwks_file != NULL && cfg->jwks_file[0] != '\0') {
        size_t len = 0;
        char *text = dba_file_read(cfg->jwks_file, &len);
        if (text == NULL)
            rc = dba_err_set(err, DBA_EINVAL, 0, DBA_CONFIG_CODE_INVALID,
                             "auth.jwks_file: cannot read %s: %s", cfg->jwks_file,
                             strerror(errno));
        else
            rc = jwk_text(a, text, len, cfg->jwks_file, err);
        free(text);
    }
    if (rc != DBA_OK) {
        dba_auth_free(a);
        return rc;
    }
    *out = a;
    return DBA_OK;
}

void
dba_auth_free(struct dba_auth *a)
{
    if (a == NULL)
        return;
    for (size_t i = 0; i < a->n_keys; i++) {
        struct auth_key *k = &a->keys[i];
        if (k->secret != NULL) {
            OPENSSL_cleanse(k->secret, k->secret_len);
            free(k->secret);
        }
        EVP_PKEY_free(k->pkey);
        free(k->kid);
        free(k->alg);
    }
    free(a->keys);
    for (size_t i = 0; i < a->n_path; i++)
        free(a->path[i].key);
    free(a->path);
    free(a->aud);
    free(a);
}

bool
dba_auth_can_mint(const struct dba_auth *a)
{
    for (size_t i = 0; i < a->n_keys; i++)
        if (a->keys[i].kind == AUTH_KEY_HMAC)
            return true;
    return false;
}
