/*
 * seed.c - `classify seed FILE`: import indicators into the database.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "store/store.h"

static const char seed_usage[] =
    "usage: classify seed FILE [--format jsonl|csv] [--all-or-nothing]\n"
    "\n"
    "Imports indicators (one JSON object per line, or CSV with a header\n"
    "row of the same field names) into source_indicators.  Every rejected\n"
    "line is reported with its line number, field and reason.  The format\n"
    "defaults to the file's extension.  With --all-or-nothing a single\n"
    "rejected line writes nothing at all.\n";

static int format_of(const char *path, const char *given)
{
    const char *dot = strrchr(path, '.');

    if (given != NULL)
        return core_store_format_parse(given);
    if (dot != NULL && strcmp(dot, ".csv") == 0)
        return CORE_STORE_CSV;
    return CORE_STORE_JSONL;
}

static void print_report(const char *path,
                         const struct core_store_seed_report *r)
{
    size_t i;

    for (i = 0; i < r->reject_count; i++) {
        const struct core_store_reject *j = &r->rejects[i];

        fprintf(stderr, "%s:%lu: rejected%s%s: %s\n", path, j->line,
                j->field[0] ? ", field " : "", j->field, j->reason);
    }
    printf("seed %s: %lu read, %lu inserted, %lu updated, %lu unchanged, "
           "%lu rejected\n",
           path, r->lines, r->inserted, r->updated, r->unchanged, r->rejected);
}

int cli_seed(struct cli_global *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'},
        {"all-or-nothing", no_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct core_store_seed_options so = {0};
    struct core_store_seed_report report;
    struct core_store_error err;
    struct core_store *store = NULL;
    const char *given = NULL;
    int c, format, rc = CLI_USAGE;

    while ((c = getopt_long(argc, argv, "f:ah", opts, NULL)) != -1) {
        if (c == 'f')
            given = optarg;
        else if (c == 'a')
            so.all_or_nothing = 1;
        else {
            fputs(seed_usage, c == 'h' ? stdout : stderr);
            return c == 'h' ? CLI_OK : CLI_USAGE;
        }
    }
    if (optind != argc - 1) {
        fputs(seed_usage, stderr);
        return CLI_USAGE;
    }
    format = format_of(argv[optind], given);
    if (format < 0) {
        fprintf(stderr, "classify seed: --format: expected jsonl or csv\n");
        return CLI_USAGE;
    }
    if (cli_open_store(g, &store) != 0)
        return CLI_UNREACHABLE;

    memset(&report, 0, sizeof(report));
    if (core_store_seed_file(store, argv[optind], format, &so, &report, &err) !=
        0) {
        fprintf(stderr, "classify seed: %s\n", err.message);
        rc = err.rc == CORE_STORE_ECONN ? CLI_UNREACHABLE : CLI_USAGE;
        goto out;
    }
    print_report(argv[optind], &report);
    rc = report.rejected > 0 ? CLI_PARTIAL : CLI_OK;

out:
    core_store_seed_report_free(&report);
    core_store_close(store);
    return rc;
}
