/*
 * export.c - `classify export`: classifications as JSONL or CSV, to a
 * file, to stdout, or to an S3-compatible store with a run manifest.
 *
 * Rows stream from a database cursor to the destination: nothing holds
 * the whole export in memory.  A file is written under a temporary name
 * and renamed when complete; an S3 object only appears when its upload
 * is committed.  Either way a failure leaves nothing half-written.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "s3/s3.h"
#include "store/store.h"

static const char export_usage[] =
    "usage: classify export [--format jsonl|csv] [--run-id ID]\n"
    "                       [--output FILE | --to s3://BUCKET/PREFIX\n"
    "                        [--endpoint URL] [--region REGION]\n"
    "                        [--path-style]]\n"
    "\n"
    "Writes the classifications (of one run with --run-id) to FILE, to\n"
    "stdout (the default, or --output -), or to S3 as PREFIX/<name> plus\n"
    "PREFIX/manifest.json (counts, plugin versions, config hash, timing).\n"
    "S3 credentials come only from AWS_ACCESS_KEY_ID and\n"
    "AWS_SECRET_ACCESS_KEY.\n";

struct export_args {
    const char *format;
    const char *run_id;
    const char *output;
    const char *to;
    struct s3_config s3;
    int path_style_set;
};

static int parse(struct export_args *a, int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'},
        {"run-id", required_argument, NULL, 'r'},
        {"output", required_argument, NULL, 'o'},
        {"to", required_argument, NULL, 't'},
        {"endpoint", required_argument, NULL, 'e'},
        {"region", required_argument, NULL, 'g'},
        {"path-style", no_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    while ((c = getopt_long(argc, argv, "f:r:o:t:e:g:ph", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            a->format = optarg;
            break;
        case 'r':
            a->run_id = optarg;
            break;
        case 'o':
            a->output = optarg;
            break;
        case 't':
            a->to = optarg;
            break;
        case 'e':
            a->s3.endpoint = optarg;
            break;
        case 'g':
            a->s3.region = optarg;
            break;
        case 'p':
            a->s3.path_style = 1;
            a->path_style_set = 1;
            break;
        case 'h':
            fputs(export_usage, stdout);
            return 1;
        default:
            fputs(export_usage, stderr);
            return -1;
        }
    }
    if (optind != argc || (a->output && a->to)) {
        fputs(export_usage, stderr);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* To a file or stdout                                                 */
/* ------------------------------------------------------------------ */

static int write_file(void *ctx, const char *data, size_t len)
{
    return fwrite(data, 1, len, ctx) == len ? 0 : -1;
}

static int export_local(struct core_store *store,
                        const struct core_store_export_options *eo,
                        const char *output)
{
    struct core_store_error err;
    char tmp[4096];
    uint64_t rows = 0;
    FILE *f = stdout;
    int rc;

    if (output != NULL && strcmp(output, "-") != 0) {
        snprintf(tmp, sizeof(tmp), "%s.partial-%ld", output, (long)getpid());
        f = fopen(tmp, "w");
        if (f == NULL) {
            fprintf(stderr, "classify export: %s: cannot write there: %s\n",
                    output, strerror(errno));
            return CLI_USAGE;
        }
    }
    rc = core_store_export(store, eo, write_file, f, &rows, &err);
    if (f == stdout) {
        if (rc != 0)
            fprintf(stderr, "classify export: %s\n", err.message);
        return rc == 0 && fflush(f) == 0 ? CLI_OK : CLI_UNREACHABLE;
    }

    if (rc != 0) {
        /* A database failure: nothing is left under the final name. */
        fprintf(stderr, "classify export: %s\n", err.message);
        fclose(f);
        unlink(tmp);
        return err.rc == CORE_STORE_EIO ? CLI_USAGE : CLI_UNREACHABLE;
    }
    if (fclose(f) != 0 || rename(tmp, output) != 0) {
        fprintf(stderr, "classify export: %s: %s\n", output, strerror(errno));
        unlink(tmp);
        return CLI_USAGE;
    }
    fprintf(stderr, "exported %llu row(s) to %s%s\n", (unsigned long long)rows,
            output,
            rows == 0 && eo->run_id ? " (no rows: is the run id right?)" : "");
    return CLI_OK;
}

/* ------------------------------------------------------------------ */
/* To S3                                                               */
/* ------------------------------------------------------------------ */

static int write_s3(void *ctx, const char *data, size_t len)
{
    struct s3_error err;

    return s3_writer_write(ctx, data, len, &err);
}

static int add_plugin(void *ctx, const char *dimension, const char *value,
                      uint64_t count)
{
    cJSON *m = ctx;
    cJSON *arr = cJSON_GetObjectItem(m, dimension);

    if (arr == NULL)
        arr = cJSON_AddObjectToObject(m, dimension);
    cJSON_AddNumberToObject(arr, value, (double)count);
    return 0;
}

static char *manifest(struct core_store *store, const struct cli_global *g,
                      const struct export_args *a, const char *object,
                      uint64_t rows, double seconds)
{
    cJSON *m = cJSON_CreateObject();
    struct core_store_error err;
    char hash[65] = "";
    char *text;

    if (m == NULL)
        return NULL;
    cJSON_AddStringToObject(m, "run_id", a->run_id ? a->run_id : "all");
    cJSON_AddStringToObject(m, "object", object);
    cJSON_AddStringToObject(m, "format", a->format ? a->format : "jsonl");
    cJSON_AddNumberToObject(m, "rows", (double)rows);
    cJSON_AddNumberToObject(m, "export_seconds", seconds);
    cJSON_AddNumberToObject(m, "exported_at", (double)time(NULL));
    if (cli_sha256_file(g->config_path, hash) == 0)
        cJSON_AddStringToObject(m, "config_sha256", hash);
    if (a->run_id != NULL &&
        core_store_run_breakdown(store, a->run_id, add_plugin, m, &err) != 0)
        cJSON_AddStringToObject(m, "breakdown_error", err.message);
    text = cJSON_Print(m);
    cJSON_Delete(m);
    return text;
}

static double mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int export_s3(struct core_store *store, const struct cli_global *g,
                     const struct export_args *a,
                     const struct core_store_export_options *eo)
{
    const char *name = eo->format == CORE_STORE_CSV ? "classifications.csv"
                                                    : "classifications.jsonl";
    struct s3_writer *w = NULL;
    struct core_store_error serr;
    struct s3_error err;
    uint64_t rows = 0, size = 0;
    double t0 = mono();
    char *man = NULL;

    if (s3_writer_open_url(a->to, name, &a->s3, &w, &err) != 0)
        goto fail;
    if (core_store_export(store, eo, write_s3, w, &rows, &serr) != 0) {
        s3_writer_abort(w);
        fprintf(stderr, "classify export: %s\n", serr.message);
        return CLI_UNREACHABLE;
    }
    if (s3_writer_commit(w, &size, &err) != 0)
        goto fail;
    man = manifest(store, g, a, name, rows, mono() - t0);
    if (man == NULL ||
        s3_writer_open_url(a->to, "manifest.json", &a->s3, &w, &err) != 0)
        goto fail;
    if (s3_writer_write(w, man, strlen(man), &err) != 0) {
        s3_writer_abort(w);
        goto fail;
    }
    if (s3_writer_commit(w, NULL, &err) != 0)
        goto fail;
    fprintf(stderr, "exported %llu row(s), %llu bytes, to %s/%s\n",
            (unsigned long long)rows, (unsigned long long)size, a->to, name);
    free(man);
    return CLI_OK;

fail:
    free(man);
    fprintf(stderr, "classify export: %s%s%s\n", err.code,
            err.code[0] ? ": " : "", err.message);
    return CLI_UNREACHABLE;
}

int cli_export(struct cli_global *g, int argc, char **argv)
{
    struct export_args a;
    struct core_store_export_options eo = {0};
    struct core_store *store = NULL;
    struct s3_config env;
    int rc, format;

    memset(&a, 0, sizeof(a));
    rc = parse(&a, argc, argv);
    if (rc != 0)
        return rc > 0 ? CLI_OK : CLI_USAGE;
    format = core_store_format_parse(a.format ? a.format : "jsonl");
    if (format < 0) {
        fprintf(stderr, "classify export: --format: expected jsonl or csv\n");
        return CLI_USAGE;
    }
    s3_config_from_env(&env, NULL);
    if (a.s3.endpoint == NULL)
        a.s3.endpoint = env.endpoint;
    if (a.s3.region == NULL)
        a.s3.region = env.region;
    if (!a.path_style_set)
        a.s3.path_style = env.path_style;

    eo.table = CORE_STORE_EXPORT_CLASSIFICATIONS;
    eo.format = (enum core_store_format)format;
    eo.run_id = a.run_id;
    if (cli_open_store(g, &store) != 0)
        return CLI_UNREACHABLE;
    rc = a.to ? export_s3(store, g, &a, &eo)
              : export_local(store, &eo, a.output);
    core_store_close(store);
    return rc;
}
