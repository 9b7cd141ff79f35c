#include "shim.h"

#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#include "apr_strings.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "util_filter.h"

void *rwsgi_get_module_config(const ap_conf_vector_t *cv, const module *m)
{
    return ap_get_module_config(cv, m);
}

void rwsgi_log_rerror(const char *file, int line, int module_index, int level,
                      apr_status_t status, const request_rec *r, const char *msg)
{
    ap_log_rerror_(file, line, module_index, level, status, r, "%s", msg);
}

void rwsgi_log_error(const char *file, int line, int module_index, int level,
                     apr_status_t status, const server_rec *s, const char *msg)
{
    ap_log_error_(file, line, module_index, level, status, s, "%s", msg);
}

apr_bucket_brigade *rwsgi_brigade_create(request_rec *r)
{
    return apr_brigade_create(r->pool, r->connection->bucket_alloc);
}

apr_status_t rwsgi_pass_bytes(request_rec *r, apr_bucket_brigade *bb,
                              const char *data, apr_size_t len, int flush)
{
    apr_bucket_alloc_t *ba = r->connection->bucket_alloc;
    apr_status_t rv;

    if (len > 0) {
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_transient_create(data, len, ba));
    }
    if (flush) {
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_flush_create(ba));
    }
    rv = ap_pass_brigade(r->output_filters, bb);
    apr_brigade_cleanup(bb);
    return rv;
}

static apr_status_t close_descriptor(void *fd)
{
    close((int)(intptr_t)fd);
    return APR_SUCCESS;
}

/* A new open file description of the file open as `fd`, closed with `pool`,
 * or -1. Not dup(): a duplicate shares the app's file position, which plain
 * reads (EnableMMAP and EnableSendfile off) move. */
static int reopen_descriptor(apr_pool_t *pool, int fd)
{
    char path[32];
    int own;

    apr_snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    own = open(path, O_RDONLY | O_CLOEXEC);
    if (own >= 0) {
        apr_pool_cleanup_register(pool, (void *)(intptr_t)own, close_descriptor,
                                  apr_pool_cleanup_null);
    }
    return own;
}

apr_status_t rwsgi_pass_file(request_rec *r, apr_bucket_brigade *bb, int fd,
                             apr_off_t offset, apr_off_t length, int sendfile)
{
    core_dir_config *core = ap_get_core_module_config(r->per_dir_config);
    int use_sendfile = sendfile < 0 ? core->enable_sendfile == ENABLE_SENDFILE_ON : sendfile;
    apr_int32_t flags = APR_FOPEN_READ | APR_FOPEN_BINARY | (use_sendfile ? APR_FOPEN_SENDFILE_ENABLED : 0);
    int own = reopen_descriptor(r->pool, fd);
    apr_os_file_t os_file = own >= 0 ? own : fd;
    apr_file_t *file = NULL;
    apr_bucket *last;
    apr_status_t rv;

    /* apr_os_file_put registers no cleanup of its own: our descriptor is
     * closed by the cleanup reopen_descriptor registered on the request
     * pool, after the response has gone (the request's EOR bucket, which
     * destroys that pool, comes after the file in the brigade); the app's
     * stays the app's. */
    rv = apr_os_file_put(&file, &os_file, flags, r->pool);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    last = apr_brigade_insert_file(bb, file, offset, length, r->pool);
    if (core->enable_mmap == ENABLE_MMAP_OFF) {
        (void)apr_bucket_file_enable_mmap(last, 0);
    }
    if (own < 0) {
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_flush_create(r->connection->bucket_alloc));
    }
    rv = ap_pass_brigade(r->output_filters, bb);
    apr_brigade_cleanup(bb);
    return rv;
}

apr_status_t rwsgi_pass_abort(request_rec *r, apr_bucket_brigade *bb)
{
    apr_bucket_alloc_t *ba = r->connection->bucket_alloc;
    apr_status_t rv;

    r->connection->keepalive = AP_CONN_CLOSE;
    APR_BRIGADE_INSERT_TAIL(bb, ap_bucket_error_create(HTTP_BAD_GATEWAY, NULL, r->pool, ba));
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(ba));
    rv = ap_pass_brigade(r->output_filters, bb);
    apr_brigade_cleanup(bb);
    return rv;
}
