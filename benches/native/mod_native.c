/* Apache's ceiling for the benchmark: content handlers in C that send the
 * same bytes as the benchmark's WSGI apps, each the cheapest way Apache
 * offers, so that "vs native" says what a gateway costs over Apache itself.
 * Compiled with apxs by the benchmark only; never part of mod_rwsgi.
 *
 *   native-hello    13 bytes with Content-Length         (apps/hello.wsgi)
 *   native-block    64 KiB with Content-Length           (apps/block.wsgi)
 *   native-stream   64 chunks of 16 KiB, each flushed    (apps/stream.wsgi)
 *   native-echo     the request body read whole, sent back (apps/echo.wsgi)
 *   native-headers  how many request headers came        (apps/headers.wsgi)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_protocol.h"
#include "apr_buckets.h"
#include "apr_strings.h"

#define BLOCK_SIZE 65536
#define CHUNK_SIZE 16384
#define CHUNKS 64

static char block[BLOCK_SIZE];
static char chunk[CHUNK_SIZE];

static int send_bytes(request_rec *r, const char *type, const char *bytes, apr_size_t length)
{
    ap_set_content_type(r, type);
    ap_set_content_length(r, length);
    if (!r->header_only) {
        ap_rwrite(bytes, length, r);
    }
    return OK;
}

/* Each chunk goes down the filters with a FLUSH, as a WSGI gateway must
 * send every block the app yields before asking for the next. */
static int send_stream(request_rec *r)
{
    apr_bucket_alloc_t *alloc = r->connection->bucket_alloc;
    apr_bucket_brigade *bb = apr_brigade_create(r->pool, alloc);
    int i;

    ap_set_content_type(r, "application/octet-stream");
    for (i = 0; i < CHUNKS && !r->header_only; i++) {
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_immortal_create(chunk, CHUNK_SIZE, alloc));
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_flush_create(alloc));
        if (ap_pass_brigade(r->output_filters, bb) != APR_SUCCESS) {
            return AP_FILTER_ERROR;
        }
        apr_brigade_cleanup(bb);
    }
    return OK;
}

static apr_status_t free_buffer(void *buffer)
{
    free(buffer);
    return APR_SUCCESS;
}

/* The whole body is read into one buffer before anything is sent, as an
 * app reading wsgi.input to the end has it. The buffer comes from malloc,
 * which reuses freed memory, as Python's bytes objects do: a megabyte from
 * the request pool would be fresh pages mapped and faulted in every time. */
static int echo_body(request_rec *r)
{
    char *body;
    apr_off_t length;
    apr_off_t got = 0;
    long n;
    int status = ap_setup_client_block(r, REQUEST_CHUNKED_ERROR);

    if (status != OK) {
        return status;
    }
    length = r->remaining;
    body = malloc(length > 0 ? length : 1);
    if (body == NULL) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    apr_pool_cleanup_register(r->pool, body, free_buffer, apr_pool_cleanup_null);
    if (ap_should_client_block(r)) {
        while (got < length && (n = ap_get_client_block(r, body + got, length - got)) > 0) {
            got += n;
        }
    }
    return send_bytes(r, "application/octet-stream", body, (apr_size_t)got);
}

static int count_headers(request_rec *r)
{
    char *count = apr_psprintf(r->pool, "%d", apr_table_elts(r->headers_in)->nelts);
    return send_bytes(r, "text/plain", count, strlen(count));
}

static int native_handler(request_rec *r)
{
    if (!r->handler || strncmp(r->handler, "native-", 7) != 0) {
        return DECLINED;
    }
    if (strcmp(r->handler, "native-hello") == 0) {
        return send_bytes(r, "text/plain", "Hello, World!", 13);
    }
    if (strcmp(r->handler, "native-block") == 0) {
        return send_bytes(r, "application/octet-stream", block, BLOCK_SIZE);
    }
    if (strcmp(r->handler, "native-stream") == 0) {
        return send_stream(r);
    }
    if (strcmp(r->handler, "native-echo") == 0) {
        return echo_body(r);
    }
    if (strcmp(r->handler, "native-headers") == 0) {
        return count_headers(r);
    }
    return DECLINED;
}

static void native_register_hooks(apr_pool_t *pool)
{
    (void)pool;
    memset(block, 'x', BLOCK_SIZE);
    memset(chunk, 's', CHUNK_SIZE);
    ap_hook_handler(native_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

module AP_MODULE_DECLARE_DATA native_module = {
    STANDARD20_MODULE_STUFF, NULL, NULL, NULL, NULL, NULL, native_register_hooks
};
