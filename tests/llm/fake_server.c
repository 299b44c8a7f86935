/*
 * fake_server.c - run a fake-llm child process for a test.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "fake_server.h"

#define MAX_ARGS 24

static int write_script(struct fake_server *fs, const char *json)
{
    size_t len = strlen(json);
    int fd;

    snprintf(fs->script_path, sizeof(fs->script_path),
             "/tmp/fake-llm-script-XXXXXX");
    fd = mkstemp(fs->script_path);
    if (fd < 0)
        return -1;
    if (write(fd, json, len) != (ssize_t)len) {
        close(fd);
        return -1;
    }
    return close(fd);
}

static void exec_child(struct fake_server *fs, int out_fd,
                       const char *const *extra)
{
    const char *argv[MAX_ARGS];
    int n = 0;

    argv[n++] = FAKE_LLM_PATH;
    if (fs->script_path[0] != '\0') {
        argv[n++] = "--script";
        argv[n++] = fs->script_path;
    }
    for (; extra != NULL && *extra != NULL && n < MAX_ARGS - 1; extra++)
        argv[n++] = *extra;
    argv[n] = NULL;
    dup2(out_fd, STDOUT_FILENO);
    prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlive the test */
    execv(FAKE_LLM_PATH, (char *const *)argv);
    _exit(127);
}

static int read_port(struct fake_server *fs, int fd)
{
    FILE *f = fdopen(fd, "r");
    char line[64];
    int rc = -1;

    if (f == NULL)
        return -1;
    if (fgets(line, sizeof(line), f) != NULL &&
        sscanf(line, "PORT %u", &fs->port) == 1 && fs->port > 0)
        rc = 0;
    fclose(f);
    return rc;
}

int fake_start(struct fake_server *fs, const char *script_json,
               const char *const *extra_args)
{
    int pipefd[2];

    memset(fs, 0, sizeof(*fs));
    if (script_json != NULL && write_script(fs, script_json) != 0)
        return -1;
    if (pipe(pipefd) != 0)
        return -1;
    fs->pid = fork();
    if (fs->pid < 0)
        return -1;
    if (fs->pid == 0) {
        close(pipefd[0]);
        exec_child(fs, pipefd[1], extra_args);
    }
    close(pipefd[1]);
    if (read_port(fs, pipefd[0]) != 0) {
        fprintf(stderr, "fake_start: %s printed no port\n", FAKE_LLM_PATH);
        fake_stop(fs);
        return -1;
    }
    snprintf(fs->base_url, sizeof(fs->base_url), "http://127.0.0.1:%u",
             fs->port);
    snprintf(fs->openai_url, sizeof(fs->openai_url), "%s/v1", fs->base_url);
    return 0;
}

void fake_stop(struct fake_server *fs)
{
    int status;

    if (fs->pid > 0) {
        kill(fs->pid, SIGTERM);
        while (waitpid(fs->pid, &status, 0) < 0 && errno == EINTR)
            ;
        fs->pid = 0;
    }
    if (fs->script_path[0] != '\0')
        unlink(fs->script_path);
    fs->script_path[0] = '\0';
}

struct buf {
    char *data;
    size_t len;
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    struct buf *b = arg;
    char *grown = realloc(b->data, b->len + size * n + 1);

    if (grown == NULL)
        return 0;
    memcpy(grown + b->len, p, size * n);
    b->data = grown;
    b->len += size * n;
    b->data[b->len] = '\0';
    return size * n;
}

cJSON *fake_get(const struct fake_server *fs, const char *path)
{
    CURL *curl = curl_easy_init();
    struct buf b = {0};
    char url[128];
    cJSON *out = NULL;

    if (curl == NULL)
        return NULL;
    snprintf(url, sizeof(url), "%s%s", fs->base_url, path);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
    if (curl_easy_perform(curl) == CURLE_OK && b.data != NULL)
        out = cJSON_Parse(b.data);
    curl_easy_cleanup(curl);
    free(b.data);
    return out;
}

double fake_stat(const struct fake_server *fs, const char *name)
{
    cJSON *stats = fake_get(fs, "/stats");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(stats, name);
    double out = cJSON_IsNumber(v) ? v->valuedouble : -1;

    cJSON_Delete(stats);
    return out;
}
