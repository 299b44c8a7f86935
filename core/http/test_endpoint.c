/*
 * test_endpoint.c - cmocka tests of the HTTP endpoint with a fake app.
 *
 * The endpoint runs in this process on 127.0.0.1 (ephemeral port) and is
 * driven with libcurl.  The fake app echoes invocation bodies, serves a
 * manifest naming the negotiated version, and has a handler that only
 * returns once several invocations run at the same time.
 */
#include "http/endpoint.h"

#include <curl/curl.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define CONCURRENT 4

/* Count server-side sockets of port (peer port differs) with TCP_NODELAY. */
static void count_server_sockets(uint16_t port, int *total, int *nodelay)
{
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *de;

    *total = *nodelay = 0;
    if (dir == NULL)
        return;
    while ((de = readdir(dir)) != NULL) {
        struct sockaddr_storage local, peer;
        socklen_t llen = sizeof(local), plen = sizeof(peer);
        int fd = atoi(de->d_name), val = 0;
        socklen_t vlen = sizeof(val);

        if (de->d_name[0] == '.' || fd == dirfd(dir))
            continue;
        if (getsockname(fd, (struct sockaddr *)&local, &llen) != 0 ||
            local.ss_family != AF_INET ||
            getpeername(fd, (struct sockaddr *)&peer, &plen) != 0)
            continue;
        if (ntohs(((struct sockaddr_in *)&local)->sin_port) != port)
            continue;
        (*total)++;
        if (getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &val, &vlen) == 0 &&
            val != 0)
            (*nodelay)++;
    }
    closedir(dir);
}

/* ---- fake app ---------------------------------------------------------- */

static uint16_t probe_port; /* port of the endpoint under test */

struct fake_session {
    int blocking;
    int probe;
    int version;
    char *body;
    size_t len;
};

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int gate_count;

static char *fake_discover(void *ctx, int version, size_t *len)
{
    char *out = malloc(32);

    (void)ctx;
    *len = (size_t)snprintf(out, 32, "{\"v\":%d}", version);
    return out;
}

static void *fake_open(void *ctx, const char *service, const char *handler,
                       int version, const char *inv_id, int *status)
{
    struct fake_session *s;

    (void)ctx;
    (void)inv_id;
    if (strcmp(service, "svc") != 0 ||
        (strcmp(handler, "echo") != 0 && strcmp(handler, "block") != 0 &&
         strcmp(handler, "probe") != 0)) {
        *status = 404;
        return NULL;
    }
    s = calloc(1, sizeof(*s));
    s->blocking = strcmp(handler, "block") == 0;
    s->probe = strcmp(handler, "probe") == 0;
    s->version = version;
    return s;
}

static int fake_feed(void *session, const uint8_t *data, size_t len)
{
    struct fake_session *s = session;

    s->body = realloc(s->body, s->len + len + 1);
    memcpy(s->body + s->len, data, len);
    s->len += len;
    return 0;
}

/* Wait until CONCURRENT blocking sessions are inside finish; 1 if so. */
static int wait_for_peers(void)
{
    struct timespec deadline;
    int all;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 10;
    pthread_mutex_lock(&gate_lock);
    gate_count++;
    pthread_cond_broadcast(&gate_cond);
    while (gate_count < CONCURRENT &&
           pthread_cond_timedwait(&gate_cond, &gate_lock, &deadline) == 0)
        ;
    all = gate_count >= CONCURRENT;
    pthread_mutex_unlock(&gate_lock);
    return all;
}

static int fake_finish(void *session, uint8_t **out, size_t *out_len)
{
    struct fake_session *s = session;
    char *buf;

    if (s->probe) {
        int total, nodelay;

        /* Before any response byte: only our own setsockopt can count. */
        count_server_sockets(probe_port, &total, &nodelay);
        buf = malloc(64);
        *out_len = (size_t)sprintf(buf, "total=%d nodelay=%d", total, nodelay);
        *out = (uint8_t *)buf;
        return 0;
    }
    if (s->blocking) {
        buf = strdup(wait_for_peers() ? "together" : "alone");
        *out = (uint8_t *)buf;
        *out_len = strlen(buf);
        return 0;
    }
    buf = malloc(s->len + 16);
    *out_len = (size_t)sprintf(buf, "v%d:", s->version);
    if (s->len > 0)
        memcpy(buf + *out_len, s->body, s->len);
    *out_len += s->len;
    *out = (uint8_t *)buf;
    return 0;
}

static void fake_close(void *session)
{
    struct fake_session *s = session;

    free(s->body);
    free(s);
}

static const struct core_http_app fake_app = {
    .ctx = NULL,
    .manifest_min = 1,
    .manifest_max = 4,
    .discover = fake_discover,
    .session_open = fake_open,
    .session_feed = fake_feed,
    .session_finish = fake_finish,
    .session_close = fake_close,
};

/* ---- client helpers ---------------------------------------------------- */

struct reply {
    long status;
    char *body;
    size_t len;
    char ctype[128];
};

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct reply *r = arg;

    r->body = realloc(r->body, r->len + size * n + 1);
    memcpy(r->body + r->len, data, size * n);
    r->len += size * n;
    r->body[r->len] = '\0';
    return size * n;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    struct reply *r = arg;
    size_t len = size * n;
    const char *name = "content-type: ";

    if (len > strlen(name) && strncasecmp(data, name, strlen(name)) == 0) {
        size_t vlen = len - strlen(name);

        while (vlen > 0 && (data[strlen(name) + vlen - 1] == '\r' ||
                            data[strlen(name) + vlen - 1] == '\n'))
            vlen--;
        if (vlen >= sizeof(r->ctype))
            vlen = sizeof(r->ctype) - 1;
        memcpy(r->ctype, data + strlen(name), vlen);
        r->ctype[vlen] = '\0';
    }
    return len;
}

/*
 * Perform method on path of ep with extra header lines and body; the curl
 * handle is reused when given (keep-alive), else a fresh one is used.
 */
static void perform(CURL *reuse, struct core_http_endpoint *ep,
                    const char *path, const char *const *headers,
                    const char *body, size_t body_len, struct reply *r)
{
    CURL *c = reuse != NULL ? reuse : curl_easy_init();
    struct curl_slist *list = NULL;
    char url[256];

    memset(r, 0, sizeof(*r));
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s",
             (unsigned)core_http_port(ep), path);
    for (; headers != NULL && *headers != NULL; headers++)
        list = curl_slist_append(list, *headers);

    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }

    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(list);
    if (reuse == NULL)
        curl_easy_cleanup(c);
}

static int setup(void **state)
{
    struct core_http_limits limits = {.max_body_bytes = 64 * 1024};

    *state = core_http_start("127.0.0.1:0", &fake_app, &limits);
    return *state == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    core_http_stop(*state);
    return 0;
}

#define MANIFEST(v)   "application/vnd.restate.endpointmanifest.v" #v "+json"
#define INVOCATION(v) "application/vnd.restate.invocation.v" #v

/* ---- tests ------------------------------------------------------------- */

static void test_discover_picks_highest(void **state)
{
    const char *h[] = {"accept: " MANIFEST(1) ", " MANIFEST(2) ", " MANIFEST(
                           3) ", " MANIFEST(4),
                       NULL};
    struct reply r;

    perform(NULL, *state, "/discover", h, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.ctype, MANIFEST(4));
    assert_string_equal(r.body, "{\"v\":4}");
    free(r.body);
}

static void test_discover_subset_and_params(void **state)
{
    const char *h[] = {"accept: " MANIFEST(2) ";q=0.5, " MANIFEST(1), NULL};
    struct reply r;

    perform(NULL, *state, "/discover", h, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.ctype, MANIFEST(2));
    assert_string_equal(r.body, "{\"v\":2}");
    free(r.body);
}

static void test_discover_rejects_unknown(void **state)
{
    const char *h[] = {"accept: application/json, " MANIFEST(9), NULL};
    const char *none[] = {"accept:", NULL};
    struct reply r;

    perform(NULL, *state, "/discover", h, NULL, 0, &r);
    assert_int_equal(r.status, 415);
    assert_string_equal(r.ctype, "application/json");
    assert_non_null(strstr(r.body, "Unsupported service discovery protocol"));
    assert_non_null(strstr(r.body, "application/json"));
    free(r.body);

    perform(NULL, *state, "/discover", none, NULL, 0, &r);
    assert_int_equal(r.status, 415);
    assert_string_equal(r.body, "{\"message\":\"Missing accept header\"}");
    free(r.body);
}

static void test_discover_respects_app_range(void **state)
{
    struct core_http_app app = fake_app;
    struct core_http_endpoint *ep;
    const char *all[] = {"accept: " MANIFEST(1) ", " MANIFEST(4), NULL};
    const char *high[] = {"accept: " MANIFEST(4), NULL};
    struct reply r;

    (void)state;
    app.manifest_max = 3;
    ep = core_http_start("127.0.0.1:0", &app, NULL);
    assert_non_null(ep);

    perform(NULL, ep, "/discover", all, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.ctype, MANIFEST(1));
    free(r.body);

    perform(NULL, ep, "/discover", high, NULL, 0, &r);
    assert_int_equal(r.status, 415);
    free(r.body);
    core_http_stop(ep);
}

static void test_invoke_echoes_content_type(void **state)
{
    const char *v5[] = {"content-type: " INVOCATION(5), NULL};
    const char *v6[] = {"content-type: " INVOCATION(6), NULL};
    struct reply r;

    perform(NULL, *state, "/invoke/svc/echo", v5, "abc", 3, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.ctype, INVOCATION(5));
    assert_int_equal(r.len, 6);
    assert_memory_equal(r.body, "v5:abc", 6);
    free(r.body);

    perform(NULL, *state, "/invoke/svc/echo", v6, "", 0, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.ctype, INVOCATION(6));
    assert_memory_equal(r.body, "v6:", 3);
    free(r.body);
}

static void test_invoke_rejects_content_types(void **state)
{
    const char *bad[][2] = {{"content-type: " INVOCATION(7), NULL},
                            {"content-type: " INVOCATION(4), NULL},
                            {"content-type: application/json", NULL},
                            {"content-type: " INVOCATION(6) "; x=1", NULL},
                            {"content-type:", NULL}};
    struct reply r;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        perform(NULL, *state, "/invoke/svc/echo", bad[i], "x", 1, &r);
        assert_int_equal(r.status, 415);
        assert_non_null(strstr(r.body, "unsupported invocation content type"));
        free(r.body);
    }
}

static void test_invoke_unknown_target(void **state)
{
    const char *v6[] = {"content-type: " INVOCATION(6), NULL};
    const char *paths[] = {"/invoke/svc/nope", "/invoke/other/echo",
                           "/invoke/svc", "/invoke/svc/echo/x", "/invoke//e"};
    struct reply r;
    size_t i;

    for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        perform(NULL, *state, paths[i], v6, "x", 1, &r);
        assert_int_equal(r.status, 404);
        free(r.body);
    }
}

static void test_invoke_large_body_streamed(void **state)
{
    const char *v6[] = {"content-type: " INVOCATION(6), NULL};
    size_t n = 60 * 1024, i;
    char *body = malloc(n);
    struct reply r;

    for (i = 0; i < n; i++)
        body[i] = (char)('a' + i % 26);
    perform(NULL, *state, "/invoke/svc/echo", v6, body, n, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, n + 3);
    assert_memory_equal(r.body + 3, body, n);
    free(r.body);
    free(body);
}

static void test_invoke_body_limit(void **state)
{
    const char *v6[] = {"content-type: " INVOCATION(6), NULL};
    size_t n = 200 * 1024;
    char *body = calloc(1, n);
    struct reply r;

    perform(NULL, *state, "/invoke/svc/echo", v6, body, n, &r);
    assert_int_equal(r.status, 413);
    assert_non_null(strstr(r.body, "exceeds the limit of 65536 bytes"));
    free(r.body);
    free(body);

    /* The endpoint still serves afterwards. */
    perform(NULL, *state, "/invoke/svc/echo", v6, "ok", 2, &r);
    assert_int_equal(r.status, 200);
    free(r.body);
}

static void test_health_and_other_paths(void **state)
{
    const char *v6[] = {"content-type: " INVOCATION(6), NULL};
    struct reply r;

    perform(NULL, *state, "/health", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "OK");
    free(r.body);

    perform(NULL, *state, "/nothing", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 404);
    free(r.body);

    perform(NULL, *state, "/invoke/svc/echo", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 405);
    free(r.body);

    perform(NULL, *state, "/discover", v6, "x", 1, &r);
    assert_int_equal(r.status, 405);
    free(r.body);
}

static void test_accepted_sockets_have_nodelay(void **state)
{
    const char *v6[] = {"content-type: " INVOCATION(6), NULL};
    struct reply r;
    int total = 0, nodelay = 0;

    probe_port = core_http_port(*state);
    perform(NULL, *state, "/invoke/svc/probe", v6, "", 0, &r);
    assert_int_equal(r.status, 200);
    /* Sockets of earlier exchanges may not be closed yet: every
     * server-side socket must have the option, and there is at least one. */
    assert_int_equal(sscanf(r.body, "total=%d nodelay=%d", &total, &nodelay),
                     2);
    free(r.body);
    assert_true(total >= 1);
    assert_int_equal(nodelay, total);
}

struct client_arg {
    struct core_http_endpoint *ep;
    struct reply r;
};

static void *client_thread(void *p)
{
    struct client_arg *a = p;
    const char *v6[] = {"content-type: " INVOCATION(6), NULL};

    perform(NULL, a->ep, "/invoke/svc/block", v6, "x", 1, &a->r);
    return NULL;
}

static void test_invocations_run_concurrently(void **state)
{
    struct client_arg args[CONCURRENT];
    pthread_t th[CONCURRENT];
    int i;

    gate_count = 0;
    for (i = 0; i < CONCURRENT; i++) {
        args[i].ep = *state;
        assert_int_equal(pthread_create(&th[i], NULL, client_thread, &args[i]),
                         0);
    }
    for (i = 0; i < CONCURRENT; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].r.status, 200);
        assert_string_equal(args[i].r.body, "together");
        free(args[i].r.body);
    }
}

static void test_stop_with_idle_keepalive(void **state)
{
    const char *v6[] = {"content-type: " INVOCATION(6), NULL};
    struct core_http_endpoint *ep;
    struct timespec t0, t1;
    CURL *c = curl_easy_init();
    struct reply r;

    (void)state;
    ep = core_http_start("127.0.0.1:0", &fake_app, NULL);
    assert_non_null(ep);
    perform(c, ep, "/invoke/svc/echo", v6, "a", 1, &r);
    assert_int_equal(r.status, 200);
    free(r.body);

    /* The client keeps its connection open; stop must not wait for the
     * idle timeout (120 s by default). */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    core_http_stop(ep);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true(t1.tv_sec - t0.tv_sec < 5);
    curl_easy_cleanup(c);
}

static void test_bad_listen_addresses(void **state)
{
    (void)state;
    assert_null(core_http_start("localhost:80", &fake_app, NULL));
    assert_null(core_http_start("127.0.0.1", &fake_app, NULL));
    assert_null(core_http_start("127.0.0.1:99999", &fake_app, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_discover_picks_highest),
        cmocka_unit_test(test_discover_subset_and_params),
        cmocka_unit_test(test_discover_rejects_unknown),
        cmocka_unit_test(test_discover_respects_app_range),
        cmocka_unit_test(test_invoke_echoes_content_type),
        cmocka_unit_test(test_invoke_rejects_content_types),
        cmocka_unit_test(test_invoke_unknown_target),
        cmocka_unit_test(test_invoke_large_body_streamed),
        cmocka_unit_test(test_invoke_body_limit),
        cmocka_unit_test(test_health_and_other_paths),
        cmocka_unit_test(test_accepted_sockets_have_nodelay),
        cmocka_unit_test(test_invocations_run_concurrently),
        cmocka_unit_test(test_stop_with_idle_keepalive),
        cmocka_unit_test(test_bad_listen_addresses),
    };
    int rc;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
