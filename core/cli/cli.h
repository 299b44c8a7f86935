/*
 * cli/cli.h - the classify command-line tool: shared pieces of its
 * commands.
 *
 * Exit codes (also in `classify --help`):
 *   0  everything asked for was done;
 *   1  usage or configuration error: nothing was done;
 *   2  done, but some items failed or were rejected (see the summary);
 *   3  infrastructure unreachable: database, Restate or S3;
 *   4  gave up waiting (--timeout) with work still in flight.
 */
#ifndef CORE_CLI_CLI_H
#define CORE_CLI_CLI_H

#include <stddef.h>

#include "config/config.h"

struct core_store;

enum cli_exit {
    CLI_OK = 0,
    CLI_USAGE = 1,
    CLI_PARTIAL = 2,
    CLI_UNREACHABLE = 3,
    CLI_TIMEOUT = 4
};

/* Options every command shares. */
struct cli_global {
    const char *config_path;
    struct classify_config *config; /* loaded on demand */
    const char *database;           /* --database override or NULL */
    int verbose;                    /* --verbose: log lines at the
                                       configured level, not just warnings */
};

/*
 * Load the configuration named by g (printing every problem on stderr).
 * Returns 0, or -1 after printing.  The result lives in g->config and is
 * freed by cli_global_fini().
 */
int cli_load_config(struct cli_global *g);

/*
 * Open the store of the configured database and apply migrations.
 * Returns 0 and *out, or -1 after printing the reason.
 */
int cli_open_store(struct cli_global *g, struct core_store **out);

void cli_global_fini(struct cli_global *g);

/* The commands: argv[0] is the command name.  Return an exit code. */
int cli_seed(struct cli_global *g, int argc, char **argv);
int cli_run(struct cli_global *g, int argc, char **argv);
int cli_status(struct cli_global *g, int argc, char **argv);
int cli_export(struct cli_global *g, int argc, char **argv);
int cli_eval(struct cli_global *g, int argc, char **argv);
int cli_register(struct cli_global *g, int argc, char **argv);
int cli_reload(struct cli_global *g, int argc, char **argv);
int cli_rollback(struct cli_global *g, int argc, char **argv);
int cli_generations(struct cli_global *g, int argc, char **argv);

/*
 * Print the pipeline generations classifyd has loaded, from its admin API
 * (url NULL: the configured admin.listen), as text or JSON.  Returns an
 * exit code; CLI_UNREACHABLE when classifyd does not answer.
 */
int cli_show_generations(struct cli_global *g, const char *url, int json);

/* One HTTP request of the CLI. */
struct cli_http_request {
    const char *method;         /* "GET", "POST", ... */
    const char *url;            /* http://host:port/path */
    const char *unix_socket;    /* connect through this socket, or NULL */
    const char *body;           /* NUL-terminated, or NULL for none */
    const char *const *headers; /* "name: value" lines, NULL-terminated */
    long timeout_ms;            /* the whole exchange */
};

/*
 * Perform req.  Returns the HTTP status (0 when no answer came, with the
 * transport error in err) and the response body in *resp (malloc'd,
 * NUL-terminated, may be NULL).  Thread-safe.
 */
long cli_http_request(const struct cli_http_request *req, char **resp,
                      char *err, size_t err_len);

/*
 * POST body (JSON) to url with optional extra header lines ("k: v",
 * NULL-terminated list).  Returns the HTTP status (0 when no answer came,
 * with the transport error in err) and the response body in *resp
 * (malloc'd, NUL-terminated, may be NULL).  timeout_ms bounds the whole
 * exchange.  Thread-safe.
 */
long cli_http_post(const char *url, const char *body,
                   const char *const *headers, long timeout_ms, char **resp,
                   char *err, size_t err_len);

/*
 * SHA-256 of data[0..len) or of the file at path as 64 lower-case hex
 * digits plus NUL.  Return 0, or -1 (file unreadable, digest failure).
 */
int cli_sha256_hex(const void *data, size_t len, char hex[65]);
int cli_sha256_file(const char *path, char hex[65]);

/* GET url; same contract as cli_http_post(). */
long cli_http_get(const char *url, long timeout_ms, char **resp, char *err,
                  size_t err_len);

#endif /* CORE_CLI_CLI_H */
