/*
 * fake_server.h - start and query a fake-llm process from a test.
 *
 * The server binary is FAKE_LLM_PATH (set by CMake).  It listens on
 * 127.0.0.1 only; tests run inside a loopback-only network namespace
 * (run-netns.sh).
 */
#ifndef TESTS_LLM_FAKE_SERVER_H
#define TESTS_LLM_FAKE_SERVER_H

#include <sys/types.h>

struct cJSON;

struct fake_server {
    pid_t pid;
    unsigned port;
    char script_path[64];
    char base_url[64];   /* http://127.0.0.1:<port> */
    char openai_url[80]; /* base_url + "/v1" */
};

/*
 * Start fake-llm with script_json (NULL: classifier mode) and extra
 * command-line arguments (NULL-terminated list, may be NULL).  Returns 0
 * once the server printed its port, -1 on failure (message on stderr).
 */
int fake_start(struct fake_server *fs, const char *script_json,
               const char *const *extra_args);

/* Stop the server (SIGTERM, then wait) and remove its script file. */
void fake_stop(struct fake_server *fs);

/*
 * GET path ("/stats" or "/requests") and parse the answer; caller frees
 * with cJSON_Delete.  NULL on failure.
 */
struct cJSON *fake_get(const struct fake_server *fs, const char *path);

/* One number from /stats, or -1 on failure. */
double fake_stat(const struct fake_server *fs, const char *name);

#endif /* TESTS_LLM_FAKE_SERVER_H */
