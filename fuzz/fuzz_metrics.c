/* llmgw-fuzz-srcs: src/ngx_http_llmgw_metrics.c src/ngx_http_llmgw_zone.c */
/* llmgw-fuzz-libs: */

/*
 * Copyright (C) llmgw authors
 *
 * libFuzzer target: metrics label values as a client could shape them
 * (model names, claim values reaching a label through the configuration).
 * The input is cut at 0xff bytes into values; the first byte picks the
 * family and the observation.  Each value goes through the model bound,
 * then into a series of a zone shared by all runs (so it fills up and
 * drops); then the exposition is rendered and read back strictly: every
 * line a HELP, a TYPE or a sample whose label values hold no raw quote or
 * newline and only the escapes \\, \" and \n; a model label either
 * "other", empty, or printable ASCII.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_llmgw_metrics.h"
#include "ngx_http_llmgw_unit.h"


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void ngx_http_llmgw_fuzz_check(ngx_str_t *text);
static u_char *ngx_http_llmgw_fuzz_labels(u_char *p, u_char *last);


static ngx_http_llmgw_metrics_t  ngx_http_llmgw_fuzz_m;


ngx_shm_zone_t *
ngx_shared_memory_add(ngx_conf_t *cf, ngx_str_t *name, size_t size, void *tag)
{
    ngx_shm_zone_t  *zone;

    zone = ngx_pcalloc(cf->pool, sizeof(ngx_shm_zone_t));
    if (zone == NULL) {
        return NULL;
    }

    zone->shm.size = size;
    zone->shm.name = *name;
    zone->shm.log = &ngx_http_llmgw_unit_log;
    zone->tag = tag;

    return zone;
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ngx_str_t         value;
    ngx_conf_t        cf;
    ngx_pool_t       *pool;
    ngx_shm_zone_t   *zone;
    ngx_slab_pool_t  *sp;

    if (ngx_http_llmgw_unit_init() != NGX_OK) {
        abort();
    }

    ngx_http_llmgw_unit_quiet = 1;

    pool = ngx_create_pool(4096, &ngx_http_llmgw_unit_log);
    if (pool == NULL) {
        abort();
    }

    ngx_http_llmgw_unit_conf(&cf, pool);
    ngx_str_set(&value, "fuzz:64k");

    if (ngx_http_llmgw_metrics_zone_add(&cf, &ngx_http_llmgw_fuzz_m, &value)
        != NGX_OK)
    {
        abort();
    }

    zone = ngx_http_llmgw_fuzz_m.zone;

    if (ngx_shm_alloc(&zone->shm) != NGX_OK) {
        abort();
    }

    sp = (ngx_slab_pool_t *) zone->shm.addr;
    sp->end = zone->shm.addr + zone->shm.size;
    sp->min_shift = 3;
    sp->addr = zone->shm.addr;

    if (ngx_shmtx_create(&sp->mutex, &sp->lock, NULL) != NGX_OK) {
        abort();
    }

    ngx_slab_init(sp);

    if (zone->init(zone, NULL) != NGX_OK) {
        abort();
    }

    ngx_http_llmgw_fuzz_m.first = 50;

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                             *p, *last, *copy;
    ngx_str_t                           v[4], text;
    ngx_uint_t                          i, n, family;
    ngx_pool_t                         *pool;
    ngx_http_llmgw_metrics_snapshot_t   snap;

    static ngx_uint_t  nlabels[] = { 3, 2, 4, 1, 1 };

    if (size == 0) {
        return 0;
    }

    family = data[0] % 5;
    n = nlabels[family];

    pool = ngx_create_pool(4096, &ngx_http_llmgw_unit_log);
    if (pool == NULL) {
        abort();
    }

    copy = ngx_pnalloc(pool, size);
    if (copy == NULL) {
        abort();
    }

    ngx_memcpy(copy, data, size);

    p = copy + 1;
    last = copy + size;

    for (i = 0; i < n; i++) {
        v[i].data = p;

        while (p < last && *p != 0xff) {
            p++;
        }

        v[i].len = p - v[i].data;

        if (p < last) {
            p++;
        }
    }

    /* the model bound on the second value, as the log handler does */

    if (n > 1) {
        ngx_http_llmgw_metrics_model(&ngx_http_llmgw_fuzz_m, &v[1], &v[1]);

        if (v[1].len && !(v[1].len == 5
                          && ngx_strncmp(v[1].data, "other", 5) == 0))
        {
            for (i = 0; i < v[1].len; i++) {
                if (v[1].data[i] < 0x20 || v[1].data[i] >= 0x7f) {
                    abort();
                }
            }
        }
    }

    (void) ngx_http_llmgw_metrics_add(&ngx_http_llmgw_fuzz_m, family, v, n,
                                      data[0] >> 3);

    if (ngx_http_llmgw_metrics_snapshot(&ngx_http_llmgw_fuzz_m, pool, &snap)
        != NGX_OK
        || ngx_http_llmgw_metrics_render(pool, &snap, &text) != NGX_OK)
    {
        abort();
    }

    ngx_http_llmgw_fuzz_check(&text);

    ngx_destroy_pool(pool);

    return 0;
}


static void
ngx_http_llmgw_fuzz_check(ngx_str_t *text)
{
    u_char  *p, *last, *eol;

    p = text->data;
    last = text->data + text->len;

    if (text->len == 0 || last[-1] != '\n') {
        abort();
    }

    while (p < last) {
        eol = ngx_strlchr(p, last, '\n');

        if (*p == '#') {
            if (ngx_strncmp(p, "# HELP llmgw_", 13) != 0
                && ngx_strncmp(p, "# TYPE llmgw_", 13) != 0)
            {
                abort();
            }

            p = eol + 1;
            continue;
        }

        if (ngx_strncmp(p, "llmgw_", 6) != 0) {
            abort();
        }

        while (p < eol && (*p == '_' || (*p >= 'a' && *p <= 'z'))) {
            p++;
        }

        if (*p == '{') {
            p = ngx_http_llmgw_fuzz_labels(p + 1, eol);
        }

        if (p >= eol || *p++ != ' ' || p == eol) {
            abort();
        }

        while (p < eol) {
            if (!(*p == '.' || (*p >= '0' && *p <= '9'))) {
                abort();
            }

            p++;
        }

        p = eol + 1;
    }
}


/* name="value",...} up to last: the end of the '}' */

static u_char *
ngx_http_llmgw_fuzz_labels(u_char *p, u_char *last)
{
    for ( ;; ) {
        while (p < last && (*p == '_' || (*p >= 'a' && *p <= 'z'))) {
            p++;
        }

        if (p + 1 >= last || p[0] != '=' || p[1] != '"') {
            abort();
        }

        p += 2;

        while (p < last && *p != '"') {
            if (*p == '\n') {
                abort();
            }

            if (*p == '\\') {
                p++;

                if (p == last || (*p != '\\' && *p != '"' && *p != 'n')) {
                    abort();
                }
            }

            p++;
        }

        if (p == last) {
            abort();
        }

        p++;

        if (p < last && *p == ',') {
            p++;
            continue;
        }

        if (p < last && *p == '}') {
            return p + 1;
        }

        abort();
    }
}
