/* Makes wrk's every new TLS connection a full handshake, for SCENARIO=tls's
 * NAME-full-handshake targets (bench/tls.sh builds it and LD_PRELOADs it into wrk).
 *
 * wrk reuses a connection's SSL object when it reconnects (SSL_clear, then SSL_connect),
 * and OpenSSL then offers the previous session: every "new" connection is a TLS 1.3
 * resumption (no certificate, no signature). Dropping the session before a handshake
 * starts makes the client offer none, so the server does the whole handshake.
 *
 *   cc -shared -fPIC -O2 -o wrk-full-handshake.so bench/wrk-full-handshake.c -ldl
 *   LD_PRELOAD=$PWD/wrk-full-handshake.so wrk -H 'Connection: close' https://127.0.0.1:8443/ok
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>

typedef struct ssl_st SSL;
typedef struct ssl_session_st SSL_SESSION;
int SSL_in_before(const SSL *s);
int SSL_set_session(SSL *s, SSL_SESSION *session);

int SSL_connect(SSL *s) {
    static int (*real)(SSL *) = NULL;
    if (real == NULL) real = (int (*)(SSL *))dlsym(RTLD_NEXT, "SSL_connect");
    if (SSL_in_before(s)) SSL_set_session(s, NULL);
    return real(s);
}
