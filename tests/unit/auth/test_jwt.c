/* test_jwt.c - JWT verification: every algorithm (keys generated here with OpenSSL, their JWKs
   built from the keys), JWKS with several keys and kid, `none` and algorithm confusion refused,
   exp / nbf / iat / aud, the role claim path, the token cache, minting. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth/auth.h"

#define SECRET "reallyreallyreallyreallyverysafe"
#define NOW 1700000000

static struct dba_arena *ar;

static void
setup(void)
{
    dba_mem_init();
    ar = dba_arena_new();
}

static void
teardown(void)
{
    dba_arena_free(ar);
}

TestSuite(jwt, .init = setup, .fini = teardown);

static char *
b64(const void *p, size_t n)
{
    struct dba_buf b;
    dba_buf_init(&b);
    dba_auth_b64url_put(&b, p, n);
    if (b.data == NULL)
        dba_buf_puts(&b, "");
    return dba_buf_take(&b);
}

static char *
b64s(const char *s)
{
    return b64(s, strlen(s));
}

/* header.payload for the given header and claims JSON. */
static char *
signing_input(const char *hdr, const char *claims)
{
    char *h = b64s(hdr), *c = b64s(claims);
    char *out = NULL;
    cr_assert(asprintf(&out, "%s.%s", h, c) > 0);
    free(h);
    free(c);
    return out;
}

static char *
join_sig(char *input, const unsigned char *sig, size_t n)
{
    char *s = b64(sig, n);
    char *out = NULL;
    cr_assert(asprintf(&out, "%s.%s", input, s) > 0);
    free(s);
    free(input);
    return out;
}

static char *
sign_hs(const char *md, const void *key, size_t keylen, const char *hdr, const char *claims)
{
    char *in = signing_input(hdr, claims);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    HMAC(EVP_get_digestbyname(md), key, (int)keylen, (unsigned char *)in, strlen(in), mac, &n);
    return join_sig(in, mac, n);
}

static char *
hs256(const char *claims)
{
    return sign_hs("SHA256", SECRET, strlen(SECRET), "{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
                   claims);
}

/* Signs with pkey (md NULL for EdDSA); ES signatures converted from DER to R||S. */
static char *
sign_pk(EVP_PKEY *pk, const char *md, int ec_half, const char *hdr, const char *claims)
{
    char *in = signing_input(hdr, claims);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t n = 0;
    cr_assert_eq(EVP_DigestSignInit_ex(ctx, NULL, md, NULL, NULL, pk, NULL), 1);
    cr_assert_eq(EVP_DigestSign(ctx, NULL, &n, (unsigned char *)in, strlen(in)), 1);
    unsigned char *sig = malloc(n);
    cr_assert_eq(EVP_DigestSign(ctx, sig, &n, (unsigned char *)in, strlen(in)), 1);
    EVP_MD_CTX_free(ctx);
    if (ec_half > 0) {
        const unsigned char *p = sig;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)n);
        unsigned char *rs = calloc(2, (size_t)ec_half);
        BN_bn2binpad(ECDSA_SIG_get0_r(es), rs, ec_half);
        BN_bn2binpad(ECDSA_SIG_get0_s(es), rs + ec_half, ec_half);
        ECDSA_SIG_free(es);
        free(sig);
        sig = rs;
        n = 2 * (size_t)ec_half;
    }
    char *out = join_sig(in, sig, n);
    free(sig);
    return out;
}

static char *
bn_b64(EVP_PKEY *pk, const char *name)
{
    BIGNUM *bn = NULL;
    cr_assert_eq(EVP_PKEY_get_bn_param(pk, name, &bn), 1);
    unsigned char buf[1024];
    int n = BN_bn2bin(bn, buf);
    BN_free(bn);
    return b64(buf, (size_t)n);
}

/* The public JWK of pk, as JSON text (heap). */
static char *
jwk_of(EVP_PKEY *pk, const char *kid)
{
    char *out = NULL;
    if (EVP_PKEY_is_a(pk, "RSA")) {
        char *n = bn_b64(pk, OSSL_PKEY_PARAM_RSA_N), *e = bn_b64(pk, OSSL_PKEY_PARAM_RSA_E);
        cr_assert(asprintf(&out, "{\"kty\":\"RSA\",\"kid\":\"%s\",\"n\":\"%s\",\"e\":\"%s\"}",
                           kid, n, e) > 0);
        free(n);
        free(e);
    } else if (EVP_PKEY_is_a(pk, "EC")) {
        unsigned char pt[200];
        size_t n = 0;
        char grp[64];
        cr_assert_eq(EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt),
                                                     &n), 1);
        cr_assert_eq(EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, grp,
                                                    sizeof(grp), NULL), 1);
        size_t half = (n - 1) / 2;
        char *x = b64(pt + 1, half), *y = b64(pt + 1 + half, half);
        cr_assert(asprintf(&out, "{\"kty\":\"EC\",\"kid\":\"%s\",\"crv\":\"%s\",\"x\":\"%s\","
                                 "\"y\":\"%s\"}", kid,
                           strcmp(grp, "prime256v1") == 0 ? "P-256" : "P-384", x, y) > 0);
        free(x);
        free(y);
    } else {
        unsigned char raw[64];
        size_t n = sizeof(raw);
        cr_assert_eq(EVP_PKEY_get_raw_public_key(pk, raw, &n), 1);
        char *x = b64(raw, n);
        cr_assert(asprintf(&out, "{\"kty\":\"OKP\",\"kid\":\"%s\",\"crv\":\"Ed25519\","
                                 "\"x\":\"%s\"}", kid, x) > 0);
        free(x);
    }
    return out;
}

static struct dba_auth *
auth_with(const char *secret, const char *aud, const char *claim_key)
{
    struct dba_config_auth c = { .present = true };
    struct dba_auth *a = NULL;
    struct dba_err err;
    c.jwt_secret = secret ? strdup(secret) : NULL;
    c.jwt_aud = aud ? strdup(aud) : NULL;
    c.role_claim_key = claim_key ? strdup(claim_key) : NULL;
    cr_assert_eq(dba_auth_new(&c, &a, &err), DBA_OK, "%s", err.msg);
    free(c.jwt_secret);
    free(c.jwt_aud);
    free(c.role_claim_key);
    return a;
}

/* Verifies tok; returns the rc and fills *id / *err. */
static int
check(struct dba_auth *a, const char *tok, struct dba_auth_id *id, struct dba_err *err)
{
    dba_err_clear(err);
    return dba_auth_verify(a, NULL, tok, NOW, ar, id, err);
}

static void
expect_ok(struct dba_auth *a, const char *tok, const char *role)
{
    struct dba_auth_id id;
    struct dba_err err;
    cr_assert_eq(check(a, tok, &id, &err), DBA_OK, "%s", err.msg);
    cr_expect_str_eq(id.role, role);
}

static void
expect_fail(struct dba_auth *a, const char *tok, const char *code, const char *msg)
{
    struct dba_auth_id id;
    struct dba_err err;
    cr_assert_neq(check(a, tok, &id, &err), DBA_OK, "accepted: %s", tok);
    cr_expect_str_eq(err.pgrst, code, "%s", err.msg);
    cr_expect_eq(err.http_status, strcmp(code, "PGRST300") == 0 ? 500 : 401);
    if (msg != NULL)
        cr_expect_str_eq(err.msg, msg);
}

Test(jwt, hs256_384_512)
{
    struct dba_auth *a = auth_with(SECRET, NULL, NULL);
    char *t = hs256("{\"role\":\"web_user\"}");
    expect_ok(a, t, "web_user");
    free(t);
    t = sign_hs("SHA384", SECRET, strlen(SECRET), "{\"alg\":\"HS384\"}", "{\"role\":\"r384\"}");
    expect_ok(a, t, "r384");
    free(t);
    t = sign_hs("SHA512", SECRET, strlen(SECRET), "{\"alg\":\"HS512\"}", "{\"role\":\"r512\"}");
    expect_ok(a, t, "r512");
    /* a flipped signature byte */
    t[strlen(t) - 3] = t[strlen(t) - 3] == 'A' ? 'B' : 'A';
    expect_fail(a, t, "PGRST301", "JWSError JWSInvalidSignature");
    free(t);
    /* another secret */
    t = sign_hs("SHA256", "another-secret-another-secret-xx", 32, "{\"alg\":\"HS256\"}", "{}");
    expect_fail(a, t, "PGRST301", NULL);
    free(t);
    dba_auth_free(a);
}

Test(jwt, hs_base64_secret)
{
    static const unsigned char key[40] = { 0, 1, 2, 3, 250, 251, 252, 253, 9, 9, 9, 9, 9, 9, 9,
                                           9, 9, 9, 9, 9, 9, 9, 9, 9, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
                                           7, 7, 7, 7, 7, 7 };
    struct dba_config_auth c = { .present = true, .jwt_secret_is_base64 = true };
    struct dba_auth *a = NULL;
    struct dba_err err;
    char *std = NULL;
    /* standard base64 of key */
    EVP_ENCODE_CTX *e = EVP_ENCODE_CTX_new();
    unsigned char out[128];
    int n = EVP_EncodeBlock(out, key, sizeof(key));
    EVP_ENCODE_CTX_free(e);
    std = strndup((char *)out, (size_t)n);
    c.jwt_secret = std;
    cr_assert_eq(dba_auth_new(&c, &a, &err), DBA_OK, "%s", err.msg);
    char *t = sign_hs("SHA256", key, sizeof(key), "{\"alg\":\"HS256\"}", "{\"role\":\"bin\"}");
    expect_ok(a, t, "bin");
    free(t);
    dba_auth_free(a);
    free(std);
}

Test(jwt, short_secret_refused)
{
    struct dba_config_auth c = { .present = true, .jwt_secret = (char *)"short" };
    struct dba_auth *a = NULL;
    struct dba_err err;
    cr_expect_eq(dba_auth_new(&c, &a, &err), DBA_EINVAL);
    cr_expect_null(strstr(err.msg, "short"), "the secret leaked into: %s", err.msg);
}

struct keyset {
    EVP_PKEY *rsa, *p256, *p384, *ed;
};

static struct keyset
keys_make(void)
{
    struct keyset k;
    k.rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    k.p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    k.p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    k.ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    cr_assert(k.rsa && k.p256 && k.p384 && k.ed);
    return k;
}

static void
keys_free(struct keyset *k)
{
    EVP_PKEY_free(k->rsa);
    EVP_PKEY_free(k->p256);
    EVP_PKEY_free(k->p384);
    EVP_PKEY_free(k->ed);
}

Test(jwt, jwks_every_public_algorithm_and_kid)
{
    struct keyset k = keys_make();
    char *j1 = jwk_of(k.rsa, "rsa1"), *j2 = jwk_of(k.p256, "ec256"), *j3 = jwk_of(k.p384, "ec384"),
         *j4 = jwk_of(k.ed, "ed");
    char *jwks = NULL;
    cr_assert(asprintf(&jwks, "{\"keys\":[%s,%s,%s,%s]}", j1, j2, j3, j4) > 0);
    /* through a file, as jwks_file */
    char path[] = "/tmp/dba-jwks-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs(jwks, f);
    fclose(f);
    struct dba_config_auth c = { .present = true, .jwks_file = path };
    struct dba_auth *a = NULL;
    struct dba_err err;
    cr_assert_eq(dba_auth_new(&c, &a, &err), DBA_OK, "%s", err.msg);
    unlink(path);
    cr_expect(!dba_auth_can_mint(a));

    static const char *const mds[] = { "SHA256", "SHA384", "SHA512" };
    static const char *const rs[] = { "RS256", "RS384", "RS512" };
    for (int i = 0; i < 3; i++) {
        char hdr[64];
        snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"kid\":\"rsa1\"}", rs[i]);
        char *t = sign_pk(k.rsa, mds[i], 0, hdr, "{\"role\":\"rsa\"}");
        expect_ok(a, t, "rsa");
        free(t);
    }
    char *t = sign_pk(k.p256, "SHA256", 32, "{\"alg\":\"ES256\",\"kid\":\"ec256\"}",
                      "{\"role\":\"es256\"}");
    expect_ok(a, t, "es256");
    free(t);
    t = sign_pk(k.p384, "SHA384", 48, "{\"alg\":\"ES384\"}", "{\"role\":\"es384\"}"); /* no kid */
    expect_ok(a, t, "es384");
    free(t);
    t = sign_pk(k.ed, NULL, 0, "{\"alg\":\"EdDSA\",\"kid\":\"ed\"}", "{\"role\":\"ed\"}");
    expect_ok(a, t, "ed");
    free(t);
    /* kid naming another key of the same kind: refused */
    t = sign_pk(k.p256, "SHA256", 32, "{\"alg\":\"ES256\",\"kid\":\"ec384\"}", "{}");
    expect_fail(a, t, "PGRST301", NULL);
    free(t);
    /* an unknown kid: no key */
    t = sign_pk(k.rsa, "SHA256", 0, "{\"alg\":\"RS256\",\"kid\":\"nope\"}", "{}");
    expect_fail(a, t, "PGRST301", NULL);
    free(t);
    /* a key not in the set */
    EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    t = sign_pk(other, "SHA256", 0, "{\"alg\":\"RS256\",\"kid\":\"rsa1\"}", "{}");
    expect_fail(a, t, "PGRST301", "JWSError JWSInvalidSignature");
    free(t);
    EVP_PKEY_free(other);
    dba_auth_free(a);
    /* the same set as jwt_secret text; a single JWK too */
    a = auth_with(jwks, NULL, NULL);
    t = sign_pk(k.ed, NULL, 0, "{\"alg\":\"EdDSA\"}", "{\"role\":\"ed\"}");
    expect_ok(a, t, "ed");
    dba_auth_free(a);
    a = auth_with(j1, NULL, NULL);
    expect_fail(a, t, "PGRST301", NULL); /* EdDSA token, RSA key */
    free(t);
    dba_auth_free(a);
    free(jwks);
    free(j1);
    free(j2);
    free(j3);
    free(j4);
    keys_free(&k);
}

Test(jwt, none_and_confusion_refused)
{
    struct keyset k = keys_make();
    char *jwk = jwk_of(k.rsa, "k1");
    struct dba_auth *a = auth_with(jwk, NULL, NULL);
    /* alg none, with or without a signature */
    char *in = signing_input("{\"alg\":\"none\"}", "{\"role\":\"postgres\"}");
    char *t = NULL;
    cr_assert(asprintf(&t, "%s.", in) > 0);
    expect_fail(a, t, "PGRST301", NULL);
    free(t);
    free(in);
    /* HS256 signed with the RSA public key's JWK text (or its modulus) as the secret */
    t = sign_hs("SHA256", jwk, strlen(jwk), "{\"alg\":\"HS256\",\"kid\":\"k1\"}",
                "{\"role\":\"postgres\"}");
    expect_fail(a, t, "PGRST301", NULL);
    free(t);
    dba_auth_free(a);
    /* a JWK that states its alg accepts no other */
    char *jwk_alg = NULL;
    char *k64 = b64s(SECRET);
    cr_assert(asprintf(&jwk_alg, "{\"kty\":\"oct\",\"alg\":\"HS512\",\"k\":\"%s\"}", k64) > 0);
    free(k64);
    a = auth_with(jwk_alg, NULL, NULL);
    t = hs256("{\"role\":\"x\"}");
    expect_fail(a, t, "PGRST301", NULL);
    free(t);
    t = sign_hs("SHA512", SECRET, strlen(SECRET), "{\"alg\":\"HS512\"}", "{\"role\":\"x\"}");
    expect_ok(a, t, "x");
    free(t);
    dba_auth_free(a);
    free(jwk_alg);
    free(jwk);
    keys_free(&k);
}

Test(jwt, malformed)
{
    struct dba_auth *a = auth_with(SECRET, NULL, NULL);
    expect_fail(a, "", "PGRST301", "Empty JWT is sent in Authorization header");
    expect_fail(a, "abc.def", "PGRST301", "Expected 3 parts in JWT; got 2");
    expect_fail(a, "a.b.c.d", "PGRST301", "Expected 3 parts in JWT; got 4");
    expect_fail(a, "!!.??.**", "PGRST301", NULL);
    dba_auth_free(a);
    struct dba_config_auth c = { .present = true };
    cr_assert_eq(dba_auth_new(&c, &a, &(struct dba_err){ 0 }), DBA_OK);
    char *t = hs256("{}");
    expect_fail(a, t, "PGRST300", "Server lacks JWT secret");
    free(t);
    dba_auth_free(a);
}

static void
claims_case(struct dba_auth *a, const char *claims, const char *code, const char *msg)
{
    char *t = hs256(claims);
    if (code == NULL)
        expect_ok(a, t, "r");
    else
        expect_fail(a, t, code, msg);
    free(t);
}

Test(jwt, exp_nbf_iat_with_skew)
{
    struct dba_auth *a = auth_with(SECRET, NULL, NULL);
    claims_case(a, "{\"role\":\"r\",\"exp\":1700000100}", NULL, NULL);
    claims_case(a, "{\"role\":\"r\",\"exp\":1699999980}", NULL, NULL); /* 20 s late: skew */
    claims_case(a, "{\"role\":\"r\",\"exp\":1699999960}", "PGRST303", "JWT expired");
    claims_case(a, "{\"role\":\"r\",\"exp\":\"soon\"}", "PGRST303",
                "The JWT 'exp' claim must be a number");
    claims_case(a, "{\"role\":\"r\",\"nbf\":1700000020}", NULL, NULL);
    claims_case(a, "{\"role\":\"r\",\"nbf\":1700000100}", "PGRST303", "JWT not yet valid");
    claims_case(a, "{\"role\":\"r\",\"nbf\":\"x\"}", "PGRST303",
                "The JWT 'nbf' claim must be a number");
    claims_case(a, "{\"role\":\"r\",\"iat\":1700000010}", NULL, NULL);
    claims_case(a, "{\"role\":\"r\",\"iat\":1700000100}", "PGRST303", "JWT issued at future");
    claims_case(a, "{\"role\":\"r\",\"iat\":true}", "PGRST303",
                "The JWT 'iat' claim must be a number");
    dba_auth_free(a);
}

Test(jwt, aud)
{
    struct dba_auth *a = auth_with(SECRET, "my-api", NULL);
    claims_case(a, "{\"role\":\"r\",\"aud\":\"my-api\"}", NULL, NULL);
    claims_case(a, "{\"role\":\"r\",\"aud\":[\"x\",\"my-api\"]}", NULL, NULL);
    claims_case(a, "{\"role\":\"r\"}", NULL, NULL);            /* missing: accepted */
    claims_case(a, "{\"role\":\"r\",\"aud\":[]}", NULL, NULL); /* as PostgREST */
    claims_case(a, "{\"role\":\"r\",\"aud\":\"other\"}", "PGRST303", "JWT not in audience");
    claims_case(a, "{\"role\":\"r\",\"aud\":[\"x\"]}", "PGRST303", "JWT not in audience");
    claims_case(a, "{\"role\":\"r\",\"aud\":1}", "PGRST303",
                "The JWT 'aud' claim must be a string or an array of strings");
    dba_auth_free(a);
    a = auth_with(SECRET, NULL, NULL); /* no jwt_aud: any aud */
    claims_case(a, "{\"role\":\"r\",\"aud\":\"whatever\"}", NULL, NULL);
    dba_auth_free(a);
}

Test(jwt, role_claim_path)
{
    struct dba_auth *a = auth_with(SECRET, NULL, ".\"https://example.com/claims\".role");
    char *t = hs256("{\"https://example.com/claims\":{\"role\":\"nested\"},\"role\":\"top\"}");
    expect_ok(a, t, "nested");
    free(t);
    dba_auth_free(a);
    a = auth_with(SECRET, NULL, ".app.roles[1]");
    t = hs256("{\"app\":{\"roles\":[\"first\",\"second\"]}}");
    expect_ok(a, t, "second");
    free(t);
    /* no such claim: no role (the anon role applies) */
    t = hs256("{\"app\":{}}");
    struct dba_auth_id id;
    struct dba_err err;
    cr_assert_eq(check(a, t, &id, &err), DBA_OK, "%s", err.msg);
    cr_expect_null(id.role);
    cr_expect(strstr(id.claims, "\"app\"") != NULL);
    free(t);
    dba_auth_free(a);
    a = auth_with(SECRET, NULL, "$.role"); /* JSONPath spelling of the default */
    t = hs256("{\"role\":\"plain\"}");
    expect_ok(a, t, "plain");
    free(t);
    dba_auth_free(a);
    struct dba_config_auth c = { .present = true, .role_claim_key = (char *)".a[x]" };
    cr_expect_eq(dba_auth_new(&c, &a, &err), DBA_EINVAL);
}

Test(jwt, cache_hits_and_expiry)
{
    struct dba_auth *a = auth_with(SECRET, NULL, NULL);
    struct dba_auth_cache *c = dba_auth_cache_new(16);
    struct dba_auth_id id;
    struct dba_err err;
    uint64_t hits, misses;
    char *t = hs256("{\"role\":\"cached\",\"exp\":1700000100}");
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(dba_auth_verify(a, c, t, NOW, ar, &id, &err), DBA_OK, "%s", err.msg);
        cr_expect_str_eq(id.role, "cached");
    }
    dba_auth_cache_stats(c, &hits, &misses);
    cr_expect_eq(hits, 2);
    cr_expect_eq(misses, 1);
    /* past exp (+ skew) the entry is dead: verified again, and refused */
    cr_expect_neq(dba_auth_verify(a, c, t, 1700000200, ar, &id, &err), DBA_OK);
    cr_expect_str_eq(err.pgrst, "PGRST303");
    /* a forged token never hits: same payload, another signature */
    char *f = strdup(t);
    f[strlen(f) - 2] = f[strlen(f) - 2] == 'A' ? 'B' : 'A';
    cr_expect_neq(dba_auth_verify(a, c, f, NOW, ar, &id, &err), DBA_OK);
    free(f);
    /* bounded: many tokens in 16 slots */
    for (int i = 0; i < 200; i++) {
        char claims[64];
        snprintf(claims, sizeof(claims), "{\"role\":\"r%d\"}", i);
        char *x = hs256(claims);
        cr_assert_eq(dba_auth_verify(a, c, x, NOW, ar, &id, &err), DBA_OK);
        cr_assert_eq(dba_auth_verify(a, c, x, NOW, ar, &id, &err), DBA_OK);
        char want[16];
        snprintf(want, sizeof(want), "r%d", i);
        cr_expect_str_eq(id.role, want);
        free(x);
    }
    free(t);
    dba_auth_cache_free(c);
    dba_auth_free(a);
}

Test(jwt, mint_round_trip)
{
    struct dba_auth *a = auth_with(SECRET, NULL, NULL);
    char *t = NULL;
    struct dba_err err;
    cr_assert(dba_auth_can_mint(a));
    cr_assert_eq(dba_auth_mint(a, "alice_role", "{\"sub\":\"alice\"}", NOW, 3600, &t, &err),
                 DBA_OK, "%s", err.msg);
    struct dba_auth_id id;
    cr_assert_eq(check(a, t, &id, &err), DBA_OK, "%s", err.msg);
    cr_expect_str_eq(id.role, "alice_role");
    cr_expect(strstr(id.claims, "\"sub\":\"alice\"") != NULL);
    cr_expect(strstr(id.claims, "\"exp\":1700003600") != NULL);
    free(t);
    cr_expect_eq(dba_auth_mint(a, "r", "[1]", NOW, 0, &t, &err), DBA_EINVAL);
    dba_auth_free(a);
}
