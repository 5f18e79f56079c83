
/*
 * Copyright (C) llmgw authors
 *
 * The unit-test harness: what a t/unit/test_*.c or a fuzz/fuzz_*.c needs
 * besides the nginx core objects that t/unit/build.sh links in.  The
 * companion ngx_http_llmgw_unit.c defines the few core symbols those
 * objects use but that live in the parts of nginx not linked here (the
 * cycle, the error log, the configuration file reader).
 *
 * A test prints one line per check, "ok N - what" or "not ok N - what",
 * and returns ngx_http_llmgw_unit_done() from main: non-zero on failure.
 */


#ifndef _NGX_HTTP_LLMGW_UNIT_H_INCLUDED_
#define _NGX_HTTP_LLMGW_UNIT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/* the log every test and fuzz target uses; ngx_cycle->log points here */
extern ngx_log_t   ngx_http_llmgw_unit_log;

/* non-zero: log lines are counted and remembered but not printed */
extern ngx_uint_t  ngx_http_llmgw_unit_quiet;

/* the last line given to ngx_log_error() and to ngx_conf_log_error() */
extern u_char      ngx_http_llmgw_unit_last_log[NGX_MAX_ERROR_STR];
extern u_char      ngx_http_llmgw_unit_last_conf_error[NGX_MAX_ERROR_STR];
extern ngx_uint_t  ngx_http_llmgw_unit_log_count;
extern ngx_uint_t  ngx_http_llmgw_unit_conf_error_count;


/*
 * Sets what nginx's startup would: page size, cache line, ncpu, pid, cached
 * time, slab sizes, a cycle with a pool, the log, and the current directory
 * as prefix and conf_prefix.  NGX_ERROR when out of memory.
 */
ngx_int_t ngx_http_llmgw_unit_init(void);

/* frees what ngx_http_llmgw_unit_init() allocated */
void ngx_http_llmgw_unit_cleanup(void);

/* fills cf as a configuration parser would for directive handlers */
void ngx_http_llmgw_unit_conf(ngx_conf_t *cf, ngx_pool_t *pool);

/*
 * Records one check: prints "ok N - <fmt>" or "not ok N - <fmt>" to stdout
 * (formatted with the C library's printf) and returns ok.
 */
ngx_uint_t ngx_http_llmgw_unit_check(ngx_uint_t ok, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* prints "# N passed, M failed" and returns the exit status for main */
int ngx_http_llmgw_unit_done(void);

/*
 * Writes at p an AWS event-stream message as Bedrock frames them, both CRCs
 * set: headers ":event-type" type (":exception-type" when message_type is
 * "exception"), ":content-type" application/json, ":message-type"
 * message_type; then the payload.  Returns the end of what it wrote.
 */
u_char *ngx_http_llmgw_unit_es_message(u_char *p, const char *message_type,
    const char *type, u_char *payload, size_t len);


#define NGX_HTTP_LLMGW_CHECK(cond, what)                                      \
    ngx_http_llmgw_unit_check((cond) ? 1 : 0, "%s (%s:%d)", what,           \
                              __FILE__, __LINE__)


#endif /* _NGX_HTTP_LLMGW_UNIT_H_INCLUDED_ */
