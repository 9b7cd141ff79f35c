/* Apache's ceiling for the benchmark: a content handler in C that answers
 * "Hello, World!" (13 bytes) as the WSGI hello app does. Compiled with apxs
 * by the benchmark only; never part of mod_rwsgi. */
#include "httpd.h"
#include "http_config.h"
#include "http_protocol.h"

static int native_hello_handler(request_rec *r)
{
    static const char body[] = "Hello, World!";

    if (!r->handler || strcmp(r->handler, "native-hello") != 0) {
        return DECLINED;
    }
    ap_set_content_type(r, "text/plain");
    ap_set_content_length(r, sizeof(body) - 1);
    if (!r->header_only) {
        ap_rwrite(body, sizeof(body) - 1, r);
    }
    return OK;
}

static void native_hello_register_hooks(apr_pool_t *p)
{
    ap_hook_handler(native_hello_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

module AP_MODULE_DECLARE_DATA native_hello_module = {
    STANDARD20_MODULE_STUFF, NULL, NULL, NULL, NULL, NULL, native_hello_register_hooks
};
