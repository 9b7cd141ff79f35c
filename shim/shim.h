/* Functions for what Apache and APR provide only as macros or static inline
 * functions, so that Rust has a symbol to call. Nothing else lives here. */
#ifndef RWSGI_SHIM_H
#define RWSGI_SHIM_H

#include "httpd.h"
#include "http_config.h"
#include "apr_buckets.h"

/* ap_get_module_config / ap_set_module_config are macros over an array. */
void *rwsgi_get_module_config(const ap_conf_vector_t *cv, const module *m);

/* ap_log_rerror / ap_log_error are variadic macros; the message is always
 * passed through "%s" so request data never becomes a format string. */
void rwsgi_log_rerror(const char *file, int line, int module_index, int level,
                      apr_status_t status, const request_rec *r, const char *msg);
void rwsgi_log_error(const char *file, int line, int module_index, int level,
                     apr_status_t status, const server_rec *s, const char *msg);

/* Passes `len` bytes at `data` down the output filters as one transient
 * bucket (the filters set it aside if they keep it), optionally followed by
 * a FLUSH bucket. The brigade is reused and left empty. */
apr_status_t rwsgi_pass_bytes(request_rec *r, apr_bucket_brigade *bb,
                              const char *data, apr_size_t len, int flush);

/* apr_brigade_create needs the connection's bucket allocator. */
apr_bucket_brigade *rwsgi_brigade_create(request_rec *r);

/* Passes `length` bytes of the open file `fd` from `offset` down the output
 * filters as file buckets; the caller may close `fd` as soon as this
 * returns. Apache reads its own open file description of the same file
 * (opened through /proc/self/fd, closed with the request's pool), so it can
 * finish writing after the handler has returned, from the event MPM's write
 * completion, as for static files. Where that open fails it reads `fd`
 * itself and passes FLUSH, so that every byte has left before this returns.
 * `sendfile` is 1 or 0 to force sendfile on or off, -1 to follow
 * EnableSendfile; EnableMMAP applies as to static files (the core's
 * per-directory config is a macro). */
apr_status_t rwsgi_pass_file(request_rec *r, apr_bucket_brigade *bb, int fd,
                             apr_off_t offset, apr_off_t length, int sendfile);

/* Ends a response that can no longer be completed (the app failed after the
 * headers went out): an error bucket makes the chunk filter leave out the
 * last chunk and closes the connection, so the client can tell the body is
 * incomplete. */
apr_status_t rwsgi_pass_abort(request_rec *r, apr_bucket_brigade *bb);
#endif
