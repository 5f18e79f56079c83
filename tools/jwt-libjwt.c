
/*
 * Copyright (C) llmgw authors
 *
 * jwt-libjwt: signs a token with libjwt 1.10.2, a JWT implementation other
 * than the module's and the python tool's, for cross-checks in the tests:
 * a token libjwt signs must be accepted by llmgw.
 *
 *     cc -O2 -Wall -Wextra -Werror -o jwt-libjwt tools/jwt-libjwt.c -ljwt
 *     jwt-libjwt --key rsa.key --alg RS256 [--kid K] [--header JSON]
 *         --claims '{"sub":"alice","exp":1900000000}'
 *
 * The token goes to stdout followed by a newline; errors go to stderr with
 * exit status 2.  libjwt 1.10.2 signs RS256/384/512 and ES256/384/512 from
 * a PEM private key (it has no PS* and no EdDSA) and always writes
 * "typ":"JWT" in the header, so a --header with another typ is refused.
 * It does not check that an EC key's curve matches the alg: ES256 with a
 * P-384 key gives a 96-byte signature, a token llmgw must reject.
 */


#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jwt.h>


#define LLMGW_LIBJWT_KEY_MAX  (64 * 1024)
#define LLMGW_LIBJWT_EXIT     2


typedef struct {
    const char                *key;
    const char                *alg;
    const char                *kid;
    const char                *header;
    const char                *claims;
} llmgw_libjwt_args_t;


static void llmgw_libjwt_usage(FILE *f);
static int llmgw_libjwt_parse_args(int argc, char **argv,
    llmgw_libjwt_args_t *args);
static unsigned char *llmgw_libjwt_read_key(const char *path, size_t *len);
static void llmgw_libjwt_wipe(unsigned char *p, size_t len);
static int llmgw_libjwt_sign(llmgw_libjwt_args_t *args);


static const char  *llmgw_libjwt_algs[] = {
    "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", NULL
};


int
main(int argc, char **argv)
{
    llmgw_libjwt_args_t  args;

    memset(&args, 0, sizeof(llmgw_libjwt_args_t));

    if (llmgw_libjwt_parse_args(argc, argv, &args) != 0) {
        return LLMGW_LIBJWT_EXIT;
    }

    if (llmgw_libjwt_sign(&args) != 0) {
        return LLMGW_LIBJWT_EXIT;
    }

    return 0;
}


static void
llmgw_libjwt_usage(FILE *f)
{
    fprintf(f,
            "usage: jwt-libjwt --key FILE --alg ALG [--kid K] "
            "[--header JSON] --claims JSON\n"
            "\n"
            "Signs a JWT with libjwt and prints it.\n"
            "  --key FILE     PEM private key (RSA, or EC on the curve of "
            "ALG)\n"
            "  --alg ALG      RS256 RS384 RS512 ES256 ES384 ES512\n"
            "  --kid K        kid header parameter\n"
            "  --header JSON  object of extra header parameters\n"
            "  --claims JSON  object of claims (the whole payload)\n"
            "Exit status: 0 success, 2 error.\n");
}


static int
llmgw_libjwt_parse_args(int argc, char **argv, llmgw_libjwt_args_t *args)
{
    int          i;
    const char  *opt, **dst;

    for (i = 1; i < argc; i++) {
        opt = argv[i];

        if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0) {
            llmgw_libjwt_usage(stdout);
            exit(0);
        }

        if (strcmp(opt, "--key") == 0) {
            dst = &args->key;

        } else if (strcmp(opt, "--alg") == 0) {
            dst = &args->alg;

        } else if (strcmp(opt, "--kid") == 0) {
            dst = &args->kid;

        } else if (strcmp(opt, "--header") == 0) {
            dst = &args->header;

        } else if (strcmp(opt, "--claims") == 0) {
            dst = &args->claims;

        } else {
            fprintf(stderr, "jwt-libjwt: error: unknown option \"%s\"\n",
                    opt);
            llmgw_libjwt_usage(stderr);
            return -1;
        }

        if (i + 1 >= argc) {
            fprintf(stderr, "jwt-libjwt: error: %s needs a value\n", opt);
            return -1;
        }

        if (*dst != NULL) {
            fprintf(stderr, "jwt-libjwt: error: %s given twice\n", opt);
            return -1;
        }

        *dst = argv[++i];
    }

    if (args->key == NULL || args->alg == NULL || args->claims == NULL) {
        fprintf(stderr, "jwt-libjwt: error: --key, --alg and --claims are "
                "required\n");
        llmgw_libjwt_usage(stderr);
        return -1;
    }

    return 0;
}


static unsigned char *
llmgw_libjwt_read_key(const char *path, size_t *len)
{
    int             err;
    FILE           *f;
    size_t          n;
    unsigned char  *buf;

    f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "jwt-libjwt: error: cannot open key %s: %s\n",
                path, strerror(errno));
        return NULL;
    }

    buf = malloc(LLMGW_LIBJWT_KEY_MAX + 1);
    if (buf == NULL) {
        fclose(f);
        fprintf(stderr, "jwt-libjwt: error: out of memory\n");
        return NULL;
    }

    n = fread(buf, 1, LLMGW_LIBJWT_KEY_MAX + 1, f);
    err = ferror(f);
    fclose(f);

    if (err || n == 0 || n > LLMGW_LIBJWT_KEY_MAX) {
        llmgw_libjwt_wipe(buf, LLMGW_LIBJWT_KEY_MAX + 1);
        free(buf);
        fprintf(stderr, "jwt-libjwt: error: cannot read key %s (empty, "
                "unreadable or larger than %d bytes)\n", path,
                LLMGW_LIBJWT_KEY_MAX);
        return NULL;
    }

    *len = n;

    return buf;
}


static void
llmgw_libjwt_wipe(unsigned char *p, size_t len)
{
    volatile unsigned char  *v;

    for (v = p; len; len--) {
        *v++ = 0;
    }
}


static int
llmgw_libjwt_sign(llmgw_libjwt_args_t *args)
{
    int             rc, known;
    char           *token;
    jwt_t          *jwt;
    size_t          len;
    jwt_alg_t       alg;
    const char     *typ, **a;
    unsigned char  *key;

    known = 0;

    for (a = llmgw_libjwt_algs; *a != NULL; a++) {
        if (strcmp(*a, args->alg) == 0) {
            known = 1;
            break;
        }
    }

    alg = jwt_str_alg(args->alg);

    if (!known || alg == JWT_ALG_INVAL) {
        fprintf(stderr, "jwt-libjwt: error: alg \"%s\" is not one of "
                "RS256 RS384 RS512 ES256 ES384 ES512\n", args->alg);
        return -1;
    }

    if (jwt_new(&jwt) != 0) {
        fprintf(stderr, "jwt-libjwt: error: jwt_new() failed\n");
        return -1;
    }

    rc = -1;
    key = NULL;
    token = NULL;

    if (jwt_add_grants_json(jwt, args->claims) != 0) {
        fprintf(stderr, "jwt-libjwt: error: --claims is not a JSON "
                "object\n");
        goto done;
    }

    if (args->header != NULL
        && jwt_add_headers_json(jwt, args->header) != 0)
    {
        fprintf(stderr, "jwt-libjwt: error: --header is not a JSON "
                "object\n");
        goto done;
    }

    /* libjwt 1.10.2 replaces any typ with "JWT" when it signs */

    typ = jwt_get_header(jwt, "typ");

    if (typ != NULL && strcmp(typ, "JWT") != 0) {
        fprintf(stderr, "jwt-libjwt: error: libjwt 1.10.2 always writes "
                "\"typ\":\"JWT\"; it cannot sign typ \"%s\"\n", typ);
        goto done;
    }

    if (args->kid != NULL) {
        jwt_del_headers(jwt, "kid");

        if (jwt_add_header(jwt, "kid", args->kid) != 0) {
            fprintf(stderr, "jwt-libjwt: error: cannot set the kid\n");
            goto done;
        }
    }

    key = llmgw_libjwt_read_key(args->key, &len);
    if (key == NULL) {
        goto done;
    }

    if (jwt_set_alg(jwt, alg, key, (int) len) != 0) {
        fprintf(stderr, "jwt-libjwt: error: jwt_set_alg(%s) failed\n",
                args->alg);
        goto done;
    }

    /* libjwt parses the PEM key and signs here */

    token = jwt_encode_str(jwt);
    if (token == NULL) {
        fprintf(stderr, "jwt-libjwt: error: libjwt could not sign with %s "
                "(is %s a PEM private key of the right type?)\n",
                args->alg, args->key);
        goto done;
    }

    if (printf("%s\n", token) < 0 || fflush(stdout) != 0) {
        fprintf(stderr, "jwt-libjwt: error: cannot write the token\n");
        goto done;
    }

    rc = 0;

done:

    if (token != NULL) {
        free(token);
    }

    /* jwt_free() wipes and frees libjwt's copy of the key */
    jwt_free(jwt);

    if (key != NULL) {
        llmgw_libjwt_wipe(key, len);
        free(key);
    }

    return rc;
}
