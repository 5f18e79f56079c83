
/*
 * Copyright (C) llmgw authors
 *
 * Prometheus metrics in a shared zone, see ngx_http_llmgw_metrics.h.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_llmgw_metrics.h"
#include "ngx_http_llmgw_zone.h"


/* one hash bucket for this many bytes of zone, at least the minimum */
#define NGX_HTTP_LLMGW_METRICS_ZONE_PER_BUCKET  2048
#define NGX_HTTP_LLMGW_METRICS_MIN_BUCKETS      64

/* a histogram's values: the buckets, +Inf, the sum */
#define NGX_HTTP_LLMGW_METRICS_HIST_VALUES                                    \
    (NGX_HTTP_LLMGW_METRICS_BUCKETS + 2)

/* a rendered number of seconds with three decimals, at most */
#define NGX_HTTP_LLMGW_METRICS_SECONDS_LEN  (NGX_INT64_LEN + 4)

#define NGX_HTTP_LLMGW_METRICS_NAME_MAX     64


/*
 * A series in the zone: its values (atomic, updated without the lock),
 * then its label text.  Never freed while the zone lives: readers walk the
 * chains without the lock.
 */

struct ngx_http_llmgw_metrics_node_s {
    ngx_http_llmgw_metrics_node_t  *next;
    uint32_t                        hash;
    uint16_t                        family;
    uint16_t                        len;
    ngx_atomic_t                    values[1];
};


typedef struct {
    ngx_str_t                       name;
    const char                     *help;
    ngx_uint_t                      histogram;
    const char                     *labels[5];   /* NULL-terminated */
} ngx_http_llmgw_metrics_family_t;


static ngx_uint_t ngx_http_llmgw_metrics_nvalues(ngx_uint_t family);
static ngx_int_t ngx_http_llmgw_metrics_labels(ngx_uint_t family,
    ngx_str_t *values, ngx_uint_t nvalues, u_char *buf, size_t *len);
static uint32_t ngx_http_llmgw_metrics_hash(ngx_uint_t family, u_char *labels,
    size_t len);
static ngx_http_llmgw_metrics_node_t *ngx_http_llmgw_metrics_find(
    ngx_http_llmgw_metrics_sh_t *sh, ngx_uint_t family, uint32_t hash,
    u_char *labels, size_t len);
static ngx_http_llmgw_metrics_node_t *ngx_http_llmgw_metrics_insert_locked(
    ngx_http_llmgw_metrics_t *m, ngx_uint_t family, uint32_t hash,
    u_char *labels, size_t len);
static void ngx_http_llmgw_metrics_drop(ngx_http_llmgw_metrics_t *m);
static ngx_int_t ngx_http_llmgw_metrics_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static int ngx_libc_cdecl ngx_http_llmgw_metrics_cmp(const void *one,
    const void *two);
static size_t ngx_http_llmgw_metrics_family_len(
    ngx_http_llmgw_metrics_family_t *fam,
    ngx_http_llmgw_metrics_series_t *s);
static u_char *ngx_http_llmgw_metrics_header(u_char *p,
    ngx_http_llmgw_metrics_family_t *fam);
static u_char *ngx_http_llmgw_metrics_counter(u_char *p, ngx_str_t *name,
    ngx_str_t *labels, uint64_t value);
static u_char *ngx_http_llmgw_metrics_histogram(u_char *p, ngx_str_t *name,
    ngx_http_llmgw_metrics_series_t *s);
static u_char *ngx_http_llmgw_metrics_seconds(u_char *p, uint64_t ms);


/* the zone's tag: metrics zones are found by it in any cycle */
static ngx_uint_t  ngx_http_llmgw_metrics_tag;


ngx_msec_t  ngx_http_llmgw_metrics_bounds[NGX_HTTP_LLMGW_METRICS_BUCKETS] = {
    25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000,
    300000, 600000
};


static ngx_http_llmgw_metrics_family_t
    ngx_http_llmgw_metrics_families[NGX_HTTP_LLMGW_METRICS_NFAMILIES] = {

    { ngx_string("llmgw_requests_total"),
      "Requests of llmgw locations, by provider, status class and access "
      "decision.",
      0, { "provider", "status_class", "decision", NULL } },

    { ngx_string("llmgw_denials_total"),
      "Requests the access check denied, by status and reason.",
      0, { "status", "reason", NULL } },

    { ngx_string("llmgw_tokens_total"),
      "LLM tokens the providers reported, by provider, model, token type "
      "and department.",
      0, { "provider", "model", "type", "department", NULL } },

    { ngx_string("llmgw_upstream_response_seconds"),
      "Time from the first attempt to reach the provider to the end of its "
      "response.",
      1, { "provider", NULL } },

    { ngx_string("llmgw_upstream_first_byte_seconds"),
      "Time from the first attempt to reach the provider to the header of "
      "the response passed on.",
      1, { "provider", NULL } },

    { ngx_string("llmgw_metrics_model"), NULL, 0, { "model", NULL } }
};


static ngx_str_t  ngx_http_llmgw_metrics_audit_name =
    ngx_string("llmgw_audit_write_failures_total");
static const char  ngx_http_llmgw_metrics_audit_help[] =
    "Audit lines that could not be written.";

static ngx_str_t  ngx_http_llmgw_metrics_dropped_name =
    ngx_string("llmgw_metrics_series_dropped_total");
static const char  ngx_http_llmgw_metrics_dropped_help[] =
    "Metric updates lost because the metrics zone was full.";

static ngx_str_t  ngx_http_llmgw_metrics_other = ngx_string("other");


ngx_int_t
ngx_http_llmgw_metrics_zone_add(ngx_conf_t *cf, ngx_http_llmgw_metrics_t *m,
    ngx_str_t *value)
{
    m->zone = ngx_http_llmgw_zone_add(cf, value, &ngx_http_llmgw_metrics_tag,
                                      ngx_http_llmgw_metrics_init_zone, m);

    return m->zone ? NGX_OK : NGX_ERROR;
}


/*
 * The series' table: the counters of a reload's old zone are kept as they
 * are (nginx hands the zone over only when name, tag and size match).
 */

static ngx_int_t
ngx_http_llmgw_metrics_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_llmgw_metrics_t  *om = data;

    size_t                     len;
    ngx_uint_t                 n;
    ngx_http_llmgw_metrics_t  *m;

    m = shm_zone->data;

    if (om) {
        m->sh = om->sh;
        m->shpool = om->shpool;
        m->size = om->size;

        return NGX_OK;
    }

    m->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;
    m->size = shm_zone->shm.size;

    if (shm_zone->shm.exists) {
        m->sh = m->shpool->data;

        return NGX_OK;
    }

    n = ngx_max(shm_zone->shm.size / NGX_HTTP_LLMGW_METRICS_ZONE_PER_BUCKET,
                NGX_HTTP_LLMGW_METRICS_MIN_BUCKETS);

    len = sizeof(ngx_http_llmgw_metrics_sh_t)
          + (n - 1) * sizeof(ngx_http_llmgw_metrics_node_t *);

    m->sh = ngx_slab_calloc(m->shpool, len);
    if (m->sh == NULL) {
        return NGX_ERROR;
    }

    m->sh->nbuckets = n;
    m->shpool->data = m->sh;

    len = sizeof(" in llmgw_metrics_zone \"\"") + shm_zone->shm.name.len;

    m->shpool->log_ctx = ngx_slab_alloc(m->shpool, len);
    if (m->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(m->shpool->log_ctx, " in llmgw_metrics_zone \"%V\"%Z",
                &shm_zone->shm.name);

    /* a full zone is counted in a metric, not logged at every update */
    m->shpool->log_nomem = 0;

    return NGX_OK;
}


ngx_int_t
ngx_http_llmgw_metrics_add(ngx_http_llmgw_metrics_t *m, ngx_uint_t family,
    ngx_str_t *values, ngx_uint_t nvalues, uint64_t n)
{
    u_char                          buf[NGX_HTTP_LLMGW_METRICS_LABELS_MAX];
    size_t                          len;
    uint32_t                        hash;
    ngx_uint_t                      i;
    ngx_http_llmgw_metrics_node_t  *node;

    if (ngx_http_llmgw_metrics_labels(family, values, nvalues, buf, &len)
        != NGX_OK)
    {
        ngx_http_llmgw_metrics_drop(m);
        return NGX_DECLINED;
    }

    hash = ngx_http_llmgw_metrics_hash(family, buf, len);

    node = ngx_http_llmgw_metrics_find(m->sh, family, hash, buf, len);

    if (node == NULL) {
        ngx_shmtx_lock(&m->shpool->mutex);
        node = ngx_http_llmgw_metrics_insert_locked(m, family, hash, buf, len);
        ngx_shmtx_unlock(&m->shpool->mutex);

        if (node == NULL) {
            ngx_http_llmgw_metrics_drop(m);
            return NGX_DECLINED;
        }
    }

    if (!ngx_http_llmgw_metrics_families[family].histogram) {
        (void) ngx_atomic_fetch_add(&node->values[0], (ngx_atomic_int_t) n);
        return NGX_OK;
    }

    /* the first bucket whose bound the observation does not exceed */

    for (i = 0; i < NGX_HTTP_LLMGW_METRICS_BUCKETS; i++) {
        if (n <= ngx_http_llmgw_metrics_bounds[i]) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&node->values[i], 1);
    (void) ngx_atomic_fetch_add(
                   &node->values[NGX_HTTP_LLMGW_METRICS_HIST_VALUES - 1],
                   (ngx_atomic_int_t) n);

    return NGX_OK;
}


void
ngx_http_llmgw_metrics_model(ngx_http_llmgw_metrics_t *m, ngx_str_t *model,
    ngx_str_t *label)
{
    u_char                          buf[NGX_HTTP_LLMGW_METRICS_LABELS_MAX];
    size_t                          len;
    uint32_t                        hash;
    ngx_str_t                      *name;
    ngx_uint_t                      i, family;
    ngx_http_llmgw_metrics_node_t  *node;

    *label = *model;

    if (model->len == 0) {
        return;
    }

    if (m->models != NULL) {
        name = m->models->elts;

        for (i = 0; i < m->models->nelts; i++) {
            if (name[i].len == model->len
                && ngx_memcmp(name[i].data, model->data, model->len) == 0)
            {
                return;
            }
        }
    }

    /* a name from a client: short printable ASCII only */

    if (model->len > NGX_HTTP_LLMGW_METRICS_MODEL_MAX) {
        goto other;
    }

    for (i = 0; i < model->len; i++) {
        if (model->data[i] < 0x20 || model->data[i] >= 0x7f) {
            goto other;
        }
    }

    if (m->first == 0) {
        goto other;
    }

    family = NGX_HTTP_LLMGW_METRICS_MODEL;

    if (ngx_http_llmgw_metrics_labels(family, model, 1, buf, &len)
        != NGX_OK)
    {
        goto other;
    }

    hash = ngx_http_llmgw_metrics_hash(family, buf, len);

    if (ngx_http_llmgw_metrics_find(m->sh, family, hash, buf, len) != NULL) {
        return;
    }

    ngx_shmtx_lock(&m->shpool->mutex);

    node = ngx_http_llmgw_metrics_find(m->sh, family, hash, buf, len);

    if (node == NULL && m->sh->models < m->first) {
        node = ngx_http_llmgw_metrics_insert_locked(m, family, hash, buf,
                                                    len);
        if (node != NULL) {
            m->sh->models++;
        }
    }

    ngx_shmtx_unlock(&m->shpool->mutex);

    if (node != NULL) {
        return;
    }

other:

    *label = ngx_http_llmgw_metrics_other;
}


void
ngx_http_llmgw_metrics_department(ngx_http_llmgw_metrics_t *m,
    ngx_str_t *department, ngx_str_t *label)
{
    ngx_str_t   *name;
    ngx_uint_t   i;

    *label = *department;

    if (department->len == 0) {
        return;
    }

    if (m->departments != NULL) {
        name = m->departments->elts;

        for (i = 0; i < m->departments->nelts; i++) {
            if (name[i].len == department->len
                && ngx_memcmp(name[i].data, department->data,
                              department->len)
                   == 0)
            {
                return;
            }
        }
    }

    *label = ngx_http_llmgw_metrics_other;
}


/*
 * The zone of the running cycle is found by its tag: the audit writer
 * calls this from deep inside its write path, with no configuration at
 * hand, and a pointer kept from a configuration read earlier could be
 * that of a reload that failed.  Failures are rare; the walk is short.
 */

void
ngx_http_llmgw_metrics_audit_failure(ngx_uint_t lines)
{
    ngx_uint_t                 i;
    ngx_list_part_t           *part;
    ngx_shm_zone_t            *zone;
    ngx_http_llmgw_metrics_t  *m;

    part = (ngx_list_part_t *) &ngx_cycle->shared_memory.part;
    zone = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return;
            }

            part = part->next;
            zone = part->elts;
            i = 0;
        }

        if (zone[i].tag != &ngx_http_llmgw_metrics_tag) {
            continue;
        }

        m = zone[i].data;

        if (m->sh != NULL) {
            (void) ngx_atomic_fetch_add(&m->sh->audit_failures,
                                        (ngx_atomic_int_t) lines);
        }

        return;
    }
}


ngx_int_t
ngx_http_llmgw_metrics_snapshot(ngx_http_llmgw_metrics_t *m,
    ngx_pool_t *pool, ngx_http_llmgw_metrics_snapshot_t *snap)
{
    ngx_uint_t                        i, j, nvalues;
    ngx_array_t                      *a;
    ngx_http_llmgw_metrics_sh_t      *sh;
    ngx_http_llmgw_metrics_node_t    *node;
    ngx_http_llmgw_metrics_series_t  *s;

    sh = m->sh;

    a = ngx_array_create(pool, 64, sizeof(ngx_http_llmgw_metrics_series_t));
    if (a == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < sh->nbuckets; i++) {

        for (node = sh->buckets[i]; node != NULL; node = node->next) {

            if (node->family == NGX_HTTP_LLMGW_METRICS_MODEL) {
                continue;
            }

            s = ngx_array_push(a);
            if (s == NULL) {
                return NGX_ERROR;
            }

            ngx_memzero(s, sizeof(ngx_http_llmgw_metrics_series_t));

            s->family = node->family;
            s->labels.len = node->len;

            nvalues = ngx_http_llmgw_metrics_nvalues(node->family);

            /* the label text never changes once the node is linked in */
            s->labels.data = (u_char *) &node->values[nvalues];

            for (j = 0; j < nvalues; j++) {
                s->values[j] = node->values[j];
            }
        }
    }

    ngx_qsort(a->elts, a->nelts, sizeof(ngx_http_llmgw_metrics_series_t),
              ngx_http_llmgw_metrics_cmp);

    snap->series = a->elts;
    snap->nseries = a->nelts;
    snap->audit_failures = sh->audit_failures;
    snap->dropped = sh->dropped;

    return NGX_OK;
}


/*
 * The exposition: each family's HELP and TYPE, then its series in the
 * snapshot's order.  A histogram's buckets are made cumulative here and
 * its _count is its +Inf bucket, so the text is consistent even when the
 * snapshot caught an observation half-way.
 */

ngx_int_t
ngx_http_llmgw_metrics_render(ngx_pool_t *pool,
    ngx_http_llmgw_metrics_snapshot_t *snap, ngx_str_t *text)
{
    u_char                           *p;
    size_t                            len;
    ngx_uint_t                        i, f;
    ngx_http_llmgw_metrics_family_t  *fam;
    ngx_http_llmgw_metrics_series_t  *s;

    len = 0;
    s = snap->series;

    for (f = 0; f < NGX_HTTP_LLMGW_METRICS_NFAMILIES; f++) {
        fam = &ngx_http_llmgw_metrics_families[f];

        if (fam->help == NULL) {
            continue;
        }

        len += ngx_http_llmgw_metrics_family_len(fam, NULL);

        for (i = 0; i < snap->nseries; i++) {
            if (s[i].family == f) {
                len += ngx_http_llmgw_metrics_family_len(fam, &s[i]);
            }
        }
    }

    len += 2 * (sizeof("# HELP  \n# TYPE  counter\n") - 1
                + 2 * NGX_HTTP_LLMGW_METRICS_NAME_MAX
                + sizeof(ngx_http_llmgw_metrics_dropped_help)
                + sizeof(ngx_http_llmgw_metrics_audit_help)
                + sizeof(" \n") - 1 + NGX_HTTP_LLMGW_METRICS_NAME_MAX
                + NGX_INT64_LEN);

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    text->data = p;

    for (f = 0; f < NGX_HTTP_LLMGW_METRICS_NFAMILIES; f++) {
        fam = &ngx_http_llmgw_metrics_families[f];

        if (fam->help == NULL) {
            continue;
        }

        p = ngx_http_llmgw_metrics_header(p, fam);

        for (i = 0; i < snap->nseries; i++) {
            if (s[i].family != f) {
                continue;
            }

            if (fam->histogram) {
                p = ngx_http_llmgw_metrics_histogram(p, &fam->name, &s[i]);

            } else {
                p = ngx_http_llmgw_metrics_counter(p, &fam->name,
                                                   &s[i].labels,
                                                   s[i].values[0]);
            }
        }
    }

    p = ngx_sprintf(p, "# HELP %V %s\n# TYPE %V counter\n%V %uL\n",
                    &ngx_http_llmgw_metrics_audit_name,
                    ngx_http_llmgw_metrics_audit_help,
                    &ngx_http_llmgw_metrics_audit_name,
                    &ngx_http_llmgw_metrics_audit_name,
                    snap->audit_failures);

    p = ngx_sprintf(p, "# HELP %V %s\n# TYPE %V counter\n%V %uL\n",
                    &ngx_http_llmgw_metrics_dropped_name,
                    ngx_http_llmgw_metrics_dropped_help,
                    &ngx_http_llmgw_metrics_dropped_name,
                    &ngx_http_llmgw_metrics_dropped_name,
                    snap->dropped);

    text->len = p - text->data;

    return NGX_OK;
}


size_t
ngx_http_llmgw_metrics_escape_len(ngx_str_t *value)
{
    size_t   len;
    u_char  *p, *last;

    len = value->len;
    last = value->data + value->len;

    for (p = value->data; p < last; p++) {
        if (*p == '\\' || *p == '"' || *p == '\n') {
            len++;
        }
    }

    return len;
}


u_char *
ngx_http_llmgw_metrics_escape(u_char *p, ngx_str_t *value)
{
    u_char  *s, *last;

    last = value->data + value->len;

    for (s = value->data; s < last; s++) {

        switch (*s) {

        case '\\':
            *p++ = '\\';
            *p++ = '\\';
            break;

        case '"':
            *p++ = '\\';
            *p++ = '"';
            break;

        case '\n':
            *p++ = '\\';
            *p++ = 'n';
            break;

        default:
            *p++ = *s;
        }
    }

    return p;
}


/* values a node of the family keeps */

static ngx_uint_t
ngx_http_llmgw_metrics_nvalues(ngx_uint_t family)
{
    return ngx_http_llmgw_metrics_families[family].histogram
           ? NGX_HTTP_LLMGW_METRICS_HIST_VALUES : 1;
}


/*
 * The label text name="value",... of a family's label values, at most
 * NGX_HTTP_LLMGW_METRICS_LABELS_MAX bytes; NGX_ERROR when the number of
 * values is not the family's or the text would be longer.
 */

static ngx_int_t
ngx_http_llmgw_metrics_labels(ngx_uint_t family, ngx_str_t *values,
    ngx_uint_t nvalues, u_char *buf, size_t *len)
{
    u_char                           *p;
    size_t                            n;
    ngx_uint_t                        i;
    const char                      **name;

    name = ngx_http_llmgw_metrics_families[family].labels;

    n = 0;

    for (i = 0; name[i] != NULL; i++) {
        if (i >= nvalues) {
            return NGX_ERROR;
        }

        n += (i ? 1 : 0) + ngx_strlen(name[i]) + sizeof("=\"\"") - 1
             + ngx_http_llmgw_metrics_escape_len(&values[i]);
    }

    if (i != nvalues || n > NGX_HTTP_LLMGW_METRICS_LABELS_MAX) {
        return NGX_ERROR;
    }

    p = buf;

    for (i = 0; name[i] != NULL; i++) {
        if (i) {
            *p++ = ',';
        }

        p = ngx_cpymem(p, name[i], ngx_strlen(name[i]));
        *p++ = '=';
        *p++ = '"';
        p = ngx_http_llmgw_metrics_escape(p, &values[i]);
        *p++ = '"';
    }

    *len = p - buf;

    return NGX_OK;
}


static uint32_t
ngx_http_llmgw_metrics_hash(ngx_uint_t family, u_char *labels, size_t len)
{
    u_char    f;
    uint32_t  crc;

    f = (u_char) family;

    ngx_crc32_init(crc);
    ngx_crc32_update(&crc, &f, 1);
    ngx_crc32_update(&crc, labels, len);
    ngx_crc32_final(crc);

    return crc;
}


/* without the lock: a node is linked in only once complete */

static ngx_http_llmgw_metrics_node_t *
ngx_http_llmgw_metrics_find(ngx_http_llmgw_metrics_sh_t *sh,
    ngx_uint_t family, uint32_t hash, u_char *labels, size_t len)
{
    ngx_uint_t                      nvalues;
    ngx_http_llmgw_metrics_node_t  *node;

    nvalues = ngx_http_llmgw_metrics_nvalues(family);

    for (node = sh->buckets[hash % sh->nbuckets];
         node != NULL;
         node = node->next)
    {
        if (node->hash == hash
            && node->family == family
            && node->len == len
            && ngx_memcmp((u_char *) &node->values[nvalues], labels, len) == 0)
        {
            return node;
        }
    }

    return NULL;
}


/*
 * The series, found again (another worker may have added it while this
 * one waited for the lock) or added: filled in, then published with a
 * barrier between, so that a reader without the lock sees it whole.
 */

static ngx_http_llmgw_metrics_node_t *
ngx_http_llmgw_metrics_insert_locked(ngx_http_llmgw_metrics_t *m,
    ngx_uint_t family, uint32_t hash, u_char *labels, size_t len)
{
    size_t                           size;
    ngx_uint_t                       nvalues;
    ngx_http_llmgw_metrics_sh_t     *sh;
    ngx_http_llmgw_metrics_node_t   *node, **bucket;

    sh = m->sh;

    node = ngx_http_llmgw_metrics_find(sh, family, hash, labels, len);
    if (node != NULL) {
        return node;
    }

    nvalues = ngx_http_llmgw_metrics_nvalues(family);

    size = offsetof(ngx_http_llmgw_metrics_node_t, values)
           + nvalues * sizeof(ngx_atomic_t) + len;

    node = ngx_slab_calloc_locked(m->shpool, size);
    if (node == NULL) {
        return NULL;
    }

    bucket = &sh->buckets[hash % sh->nbuckets];

    node->hash = hash;
    node->family = (uint16_t) family;
    node->len = (uint16_t) len;
    ngx_memcpy((u_char *) &node->values[nvalues], labels, len);
    node->next = *bucket;

    ngx_memory_barrier();

    *bucket = node;

    return node;
}


static void
ngx_http_llmgw_metrics_drop(ngx_http_llmgw_metrics_t *m)
{
    (void) ngx_atomic_fetch_add(&m->sh->dropped, 1);
}


static int ngx_libc_cdecl
ngx_http_llmgw_metrics_cmp(const void *one, const void *two)
{
    int                               rc;
    const ngx_http_llmgw_metrics_series_t  *a = one, *b = two;

    if (a->family != b->family) {
        return a->family < b->family ? -1 : 1;
    }

    rc = ngx_memcmp(a->labels.data, b->labels.data,
                    ngx_min(a->labels.len, b->labels.len));

    if (rc != 0) {
        return rc;
    }

    if (a->labels.len == b->labels.len) {
        return 0;
    }

    return a->labels.len < b->labels.len ? -1 : 1;
}


/*
 * What a family's HELP and TYPE lines (s == NULL), or one of its series,
 * take at most
 */

static size_t
ngx_http_llmgw_metrics_family_len(ngx_http_llmgw_metrics_family_t *fam,
    ngx_http_llmgw_metrics_series_t *s)
{
    size_t  line;

    if (s == NULL) {
        return sizeof("# HELP  \n# TYPE  histogram\n") - 1
               + 2 * fam->name.len + ngx_strlen(fam->help);
    }

    /* name_suffix{labels,le="..."} value\n */

    line = fam->name.len + sizeof("_bucket{,le=\"\"} \n") - 1
           + s->labels.len + NGX_HTTP_LLMGW_METRICS_SECONDS_LEN
           + NGX_HTTP_LLMGW_METRICS_SECONDS_LEN;

    if (!fam->histogram) {
        return line;
    }

    return (NGX_HTTP_LLMGW_METRICS_BUCKETS + 3) * line;
}


static u_char *
ngx_http_llmgw_metrics_header(u_char *p, ngx_http_llmgw_metrics_family_t *fam)
{
    return ngx_sprintf(p, "# HELP %V %s\n# TYPE %V %s\n",
                       &fam->name, fam->help, &fam->name,
                       fam->histogram ? "histogram" : "counter");
}


static u_char *
ngx_http_llmgw_metrics_counter(u_char *p, ngx_str_t *name, ngx_str_t *labels,
    uint64_t value)
{
    p = ngx_cpymem(p, name->data, name->len);

    if (labels->len) {
        *p++ = '{';
        p = ngx_cpymem(p, labels->data, labels->len);
        *p++ = '}';
    }

    return ngx_sprintf(p, " %uL\n", value);
}


static u_char *
ngx_http_llmgw_metrics_histogram(u_char *p, ngx_str_t *name,
    ngx_http_llmgw_metrics_series_t *s)
{
    uint64_t    total;
    ngx_str_t  *labels;
    ngx_uint_t  i;

    labels = &s->labels;
    total = 0;

    for (i = 0; i <= NGX_HTTP_LLMGW_METRICS_BUCKETS; i++) {
        total += s->values[i];

        p = ngx_sprintf(p, "%V_bucket{", name);

        if (labels->len) {
            p = ngx_cpymem(p, labels->data, labels->len);
            *p++ = ',';
        }

        p = ngx_cpymem(p, "le=\"", sizeof("le=\"") - 1);

        if (i < NGX_HTTP_LLMGW_METRICS_BUCKETS) {
            p = ngx_http_llmgw_metrics_seconds(p,
                                            ngx_http_llmgw_metrics_bounds[i]);

        } else {
            p = ngx_cpymem(p, "+Inf", sizeof("+Inf") - 1);
        }

        p = ngx_sprintf(p, "\"} %uL\n", total);
    }

    p = ngx_sprintf(p, "%V_sum", name);

    if (labels->len) {
        p = ngx_sprintf(p, "{%V}", labels);
    }

    *p++ = ' ';
    p = ngx_http_llmgw_metrics_seconds(p,
                           s->values[NGX_HTTP_LLMGW_METRICS_HIST_VALUES - 1]);
    *p++ = '\n';

    p = ngx_sprintf(p, "%V_count", name);

    if (labels->len) {
        p = ngx_sprintf(p, "{%V}", labels);
    }

    return ngx_sprintf(p, " %uL\n", total);
}


/* ms as seconds: "0.025", "1", "2.5", no trailing zeros */

static u_char *
ngx_http_llmgw_metrics_seconds(u_char *p, uint64_t ms)
{
    ngx_uint_t  frac;

    p = ngx_sprintf(p, "%uL", ms / 1000);

    frac = (ngx_uint_t) (ms % 1000);

    if (frac == 0) {
        return p;
    }

    if (frac % 100 == 0) {
        return ngx_sprintf(p, ".%ui", frac / 100);
    }

    if (frac % 10 == 0) {
        return ngx_sprintf(p, ".%02ui", frac / 10);
    }

    return ngx_sprintf(p, ".%03ui", frac);
}
