/*
 * reload.c - `classify reload`, `classify rollback` and
 * `classify generations`: talk to the admin listener of classifyd
 * (admin.listen: loopback HOST:PORT or unix:/path), with the bearer token
 * from the variable admin.token_env names, if any.
 */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define ADMIN_TIMEOUT_MS 120000L

/*
 * One request to the admin listener.  Returns the HTTP status (0 when
 * nothing answered, with the reason printed) and the body in *out.
 */
static long admin_request(const struct classify_config *cfg, const char *url,
                          const char *method, const char *path, char **out)
{
    const char *listen = url ? url : cfg->admin_listen;
    const char *token =
        cfg->admin_token_env ? getenv(cfg->admin_token_env) : NULL;
    char target[1024], auth[1024], err[512];
    const char *headers[2] = {NULL, NULL};
    struct cli_http_request req = {method, target,  NULL,
                                   NULL,   headers, ADMIN_TIMEOUT_MS};
    long status;

    if (strncmp(listen, "unix:", 5) == 0) {
        req.unix_socket = listen + 5;
        snprintf(target, sizeof(target), "http://localhost%s", path);
    }
    else {
        snprintf(target, sizeof(target), "%s%s%s",
                 strncmp(listen, "http://", 7) ? "http://" : "", listen, path);
    }
    if (token != NULL && token[0] != '\0') {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        headers[0] = auth;
    }
    if (strcmp(method, "POST") == 0)
        req.body = "";
    status = cli_http_request(&req, out, err, sizeof(err));
    if (status == 0)
        fprintf(stderr, "classify: admin API: %s\n", err);
    return status;
}

static const char *str_of(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsString(v) ? v->valuestring : "";
}

static double num_of(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* Print the outcome of a reload or rollback; returns the exit code. */
static int report(const char *cmd, long status, const char *body)
{
    cJSON *o = body ? cJSON_Parse(body) : NULL;
    const cJSON *reg = cJSON_GetObjectItemCaseSensitive(o, "registered");
    int rc = CLI_OK;

    if (status == 200) {
        printf("generation %.0f active (replaced %.0f): %s; %.0f stage(s) "
               "reused\n",
               num_of(o, "generation"), num_of(o, "replaced"),
               str_of(o, "summary"), num_of(o, "reused"));
        if (cJSON_IsBool(reg))
            printf("services changed: deployment %s\n",
                   cJSON_IsTrue(reg) ? "registered again with Restate"
                                     : "NOT registered; run `classify "
                                       "register`");
    }
    else if (status == 0) {
        rc = CLI_UNREACHABLE;
    }
    else {
        fprintf(stderr, "classify %s: refused (%ld): %s\n", cmd, status,
                o ? str_of(o, "error") : (body ? body : ""));
        rc = status == 401 || status == 403 ? CLI_USAGE : CLI_PARTIAL;
    }
    cJSON_Delete(o);
    return rc;
}

/* Options every admin command takes. */
static int parse(int argc, char **argv, const char *usage, const char **url,
                 int *json)
{
    static const struct option opts[] = {
        {"admin", required_argument, NULL, 'a'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    while ((c = getopt_long(argc, argv, "a:jh", opts, NULL)) != -1) {
        if (c == 'a')
            *url = optarg;
        else if (c == 'j' && json != NULL)
            *json = 1;
        else {
            fputs(usage, c == 'h' ? stdout : stderr);
            return c == 'h' ? CLI_OK : CLI_USAGE;
        }
    }
    if (optind != argc) {
        fputs(usage, stderr);
        return CLI_USAGE;
    }
    return -1;
}

static int post(struct cli_global *g, int argc, char **argv, const char *cmd,
                const char *usage)
{
    const char *url = NULL;
    char *body = NULL;
    long status;
    int rc = parse(argc, argv, usage, &url, NULL);

    if (rc >= 0)
        return rc;
    if (cli_load_config(g) != 0)
        return CLI_USAGE;
    status = admin_request(g->config, url, "POST",
                           strcmp(cmd, "reload") == 0 ? "/reload" : "/rollback",
                           &body);
    rc = report(cmd, status, body);
    free(body);
    return rc;
}

static const char reload_usage[] =
    "usage: classify reload [--admin ADDR]\n"
    "\n"
    "Asks classifyd (admin.listen, or --admin HOST:PORT | unix:/PATH) to\n"
    "read its configuration again and load the stage plugins that changed.\n"
    "A refused reload leaves the running generation serving.\n";

static const char rollback_usage[] =
    "usage: classify rollback [--admin ADDR]\n"
    "\n"
    "Asks classifyd to return to the generation replaced last: new\n"
    "invocations use its plugin builds again.\n";

static const char generations_usage[] =
    "usage: classify generations [--admin ADDR] [--json]\n"
    "\n"
    "Shows the pipeline generations classifyd has loaded (active,\n"
    "retiring, stuck), their stages and their calls in flight.\n";

int cli_reload(struct cli_global *g, int argc, char **argv)
{
    return post(g, argc, argv, "reload", reload_usage);
}

int cli_rollback(struct cli_global *g, int argc, char **argv)
{
    return post(g, argc, argv, "rollback", rollback_usage);
}

static void print_generation(const cJSON *gen)
{
    const cJSON *s;

    printf("generation %.0f  %-8s  %.0f in flight", num_of(gen, "id"),
           str_of(gen, "state"), num_of(gen, "in_flight"));
    if (cJSON_GetObjectItemCaseSensitive(gen, "retired_ms") != NULL)
        printf("  retired %.1f s ago", num_of(gen, "retired_ms") / 1000.0);
    printf("\n");
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(gen, "stages"))
        printf("  %-22s %-8s build %-14s gen %-3.0f %3.0f running\n",
               str_of(s, "name"), str_of(s, "version"), str_of(s, "build_id"),
               num_of(s, "generation"), num_of(s, "in_flight"));
}

int cli_show_generations(struct cli_global *g, const char *url, int json)
{
    const cJSON *gen;
    char *body = NULL;
    cJSON *o;
    long status;

    if (cli_load_config(g) != 0)
        return CLI_USAGE;
    status = admin_request(g->config, url, "GET", "/status", &body);
    if (status != 200) {
        if (status != 0)
            fprintf(stderr, "classify: admin API answered %ld: %s\n", status,
                    body ? body : "");
        free(body);
        return status == 0 ? CLI_UNREACHABLE : CLI_USAGE;
    }
    if (json) {
        printf("%s\n", body);
        free(body);
        return CLI_OK;
    }
    o = cJSON_Parse(body);
    free(body);
    printf("active generation %.0f; reloads %.0f, refusals %.0f, rollbacks "
           "%.0f, generations closed %.0f\n",
           num_of(o, "active"), num_of(o, "reloads"), num_of(o, "refusals"),
           num_of(o, "rollbacks"), num_of(o, "closed"));
    if (str_of(o, "last_error")[0] != '\0')
        printf("last refusal: %s\n", str_of(o, "last_error"));
    cJSON_ArrayForEach(gen, cJSON_GetObjectItemCaseSensitive(o, "generations"))
        print_generation(gen);
    cJSON_Delete(o);
    return CLI_OK;
}

int cli_generations(struct cli_global *g, int argc, char **argv)
{
    const char *url = NULL;
    int json = 0, rc = parse(argc, argv, generations_usage, &url, &json);

    if (rc >= 0)
        return rc;
    return cli_show_generations(g, url, json);
}
