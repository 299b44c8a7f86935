/*
 * test_admin.c - access to the admin listener: the peer predicate (only
 * loopback and Unix socket peers), the constant-time token comparison,
 * and real requests without, with a wrong and with the right token, over
 * TCP and a Unix socket.  The token never reaches the log.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "admin/admin.h"
#include "common/log.h"

#define TOKEN "t0ken-for-the-admin-test"

static int v4_allowed(const char *addr)
{
    struct sockaddr_in a = {0};

    a.sin_family = AF_INET;
    assert_int_equal(inet_pton(AF_INET, addr, &a.sin_addr), 1);
    return admin_peer_allowed((struct sockaddr *)&a, sizeof(a));
}

static int v6_allowed(const char *addr)
{
    struct sockaddr_in6 a = {0};

    a.sin6_family = AF_INET6;
    assert_int_equal(inet_pton(AF_INET6, addr, &a.sin6_addr), 1);
    return admin_peer_allowed((struct sockaddr *)&a, sizeof(a));
}

static void test_peer_predicate(void **state)
{
    struct sockaddr_un un = {0};
    struct sockaddr_in short_v4 = {0};

    (void)state;
    assert_true(v4_allowed("127.0.0.1"));
    assert_true(v4_allowed("127.200.3.4"));
    assert_false(v4_allowed("10.0.0.1"));
    assert_false(v4_allowed("0.0.0.0"));
    assert_false(v4_allowed("192.168.1.20"));
    assert_false(v4_allowed("128.0.0.1"));
    assert_true(v6_allowed("::1"));
    assert_true(v6_allowed("::ffff:127.0.0.1"));
    assert_false(v6_allowed("::ffff:10.1.2.3"));
    assert_false(v6_allowed("2001:db8::1"));
    assert_false(v6_allowed("::"));
    assert_false(v6_allowed("fe80::1"));

    un.sun_family = AF_UNIX;
    assert_true(admin_peer_allowed((struct sockaddr *)&un, sizeof(un)));
    assert_false(admin_peer_allowed(NULL, 0));
    short_v4.sin_family = AF_INET;
    short_v4.sin_addr.s_addr = htonl(0x7f000001);
    assert_false(admin_peer_allowed((struct sockaddr *)&short_v4, 4));
}

static void test_token_compare(void **state)
{
    (void)state;
    assert_true(admin_token_equal(TOKEN, TOKEN));
    assert_false(admin_token_equal(TOKEN, NULL));
    assert_false(admin_token_equal(TOKEN, ""));
    assert_false(admin_token_equal(TOKEN, "t0ken"));
    assert_false(admin_token_equal(TOKEN, TOKEN "x"));
    assert_false(admin_token_equal(TOKEN, "X0ken-for-the-admin-test"));
    assert_false(admin_token_equal(TOKEN, "t0ken-for-the-admin-tesT"));
}

/* ---- real requests -------------------------------------------------- */

static int reloads;

static int fake_reload(void *ctx, char **body)
{
    (void)ctx;
    reloads++;
    *body = strdup("{\"generation\":2}");
    return 200;
}

static int fake_rollback(void *ctx, char **body)
{
    (void)ctx;
    *body = strdup("{\"error\":\"no previous generation\"}");
    return 422;
}

static char *fake_status(void *ctx)
{
    (void)ctx;
    return strdup("{\"active\":1}");
}

static char *fake_metrics(void *ctx)
{
    (void)ctx;
    return strdup("classify_reloads_total 0\n");
}

static const struct admin_handlers handlers = {
    NULL, fake_reload, fake_rollback, fake_status, fake_metrics,
};

struct got {
    long status;
    char body[512];
};

static size_t keep(char *p, size_t size, size_t n, void *arg)
{
    struct got *g = arg;
    size_t have = strlen(g->body);

    snprintf(g->body + have, sizeof(g->body) - have, "%.*s", (int)(size * n),
             p);
    return size * n;
}

/* method path on port (or the Unix socket sock); auth: header or NULL. */
static struct got request(unsigned port, const char *sock, const char *method,
                          const char *path, const char *auth)
{
    struct got g = {0, ""};
    struct curl_slist *hdr = NULL;
    CURL *h = curl_easy_init();
    char url[256];

    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
    if (sock != NULL) {
        curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, sock);
        snprintf(url, sizeof(url), "http://localhost%s", path);
    }
    if (auth != NULL) {
        hdr = curl_slist_append(NULL, auth);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "POST") == 0)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &g);
    assert_int_equal(curl_easy_perform(h), CURLE_OK);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &g.status);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    return g;
}

static void test_token_required(void **state)
{
    char logpath[] = "/tmp/classify-admin-log.XXXXXX", text[8192] = "";
    int fd = mkstemp(logpath);
    struct admin_server *s;
    char err[256];
    unsigned port;
    struct got g;
    ssize_t n;

    (void)state;
    assert_true(fd >= 0);
    core_log_setup(CORE_LOG_DEBUG, fd);
    s = admin_start("127.0.0.1:0", TOKEN, &handlers, err, sizeof(err));
    assert_non_null(s);
    port = admin_port(s);

    g = request(port, NULL, "GET", "/status", NULL);
    assert_int_equal(g.status, 401);
    assert_non_null(strstr(g.body, "admin token required"));
    g = request(port, NULL, "POST", "/reload",
                "Authorization: Bearer wrong-token");
    assert_int_equal(g.status, 401);
    assert_non_null(strstr(g.body, "admin token rejected"));
    g = request(port, NULL, "POST", "/reload", "Authorization: " TOKEN);
    assert_int_equal(g.status, 401);
    assert_int_equal(reloads, 0);

    g = request(port, NULL, "POST", "/reload", "Authorization: Bearer " TOKEN);
    assert_int_equal(g.status, 200);
    assert_string_equal(g.body, "{\"generation\":2}");
    assert_int_equal(reloads, 1);
    g = request(port, NULL, "POST", "/rollback",
                "Authorization: Bearer " TOKEN);
    assert_int_equal(g.status, 422);
    g = request(port, NULL, "GET", "/metrics", "Authorization: Bearer " TOKEN);
    assert_int_equal(g.status, 200);
    assert_string_equal(g.body, "classify_reloads_total 0\n");
    g = request(port, NULL, "GET", "/reload", "Authorization: Bearer " TOKEN);
    assert_int_equal(g.status, 405);
    g = request(port, NULL, "GET", "/nope", "Authorization: Bearer " TOKEN);
    assert_int_equal(g.status, 404);
    admin_stop(s);

    core_log_setup(CORE_LOG_WARN, 2);
    n = pread(fd, text, sizeof(text) - 1, 0);
    assert_true(n > 0);
    text[n] = '\0';
    assert_non_null(strstr(text, "missing admin token"));
    assert_non_null(strstr(text, "wrong admin token"));
    assert_null(strstr(text, TOKEN));
    assert_null(strstr(text, "wrong-token"));
    close(fd);
    unlink(logpath);
}

static void test_no_token_and_unix_socket(void **state)
{
    char dir[] = "/tmp/classify-admin.XXXXXX", listen[160], sock[128];
    struct admin_server *s;
    char err[256];
    struct got g;

    (void)state;
    s = admin_start("127.0.0.1:0", NULL, &handlers, err, sizeof(err));
    assert_non_null(s);
    g = request(admin_port(s), NULL, "GET", "/status", NULL);
    assert_int_equal(g.status, 200);
    assert_string_equal(g.body, "{\"active\":1}");
    admin_stop(s);

    assert_non_null(mkdtemp(dir));
    snprintf(sock, sizeof(sock), "%s/admin.sock", dir);
    snprintf(listen, sizeof(listen), "unix:%s", sock);
    s = admin_start(listen, TOKEN, &handlers, err, sizeof(err));
    assert_non_null(s);
    g = request(0, sock, "GET", "/status", NULL);
    assert_int_equal(g.status, 401);
    g = request(0, sock, "GET", "/status", "Authorization: Bearer " TOKEN);
    assert_int_equal(g.status, 200);
    admin_stop(s);
    assert_int_equal(access(sock, F_OK), -1);
    rmdir(dir);
}

static void test_refuses_public_address(void **state)
{
    char err[256];

    (void)state;
    assert_null(admin_start("0.0.0.0:0", NULL, &handlers, err, sizeof(err)));
    assert_non_null(strstr(err, "is not a loopback ADDRESS:PORT"));
    assert_null(
        admin_start("unix:relative.sock", NULL, &handlers, err, sizeof(err)));
    assert_non_null(strstr(err, "absolute path"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_peer_predicate),
        cmocka_unit_test(test_token_compare),
        cmocka_unit_test(test_token_required),
        cmocka_unit_test(test_no_token_and_unix_socket),
        cmocka_unit_test(test_refuses_public_address),
    };
    int rc;

    core_log_setup(CORE_LOG_WARN, 2);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
