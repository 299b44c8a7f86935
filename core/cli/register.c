/*
 * register.c - `classify register`: register classifyd as a deployment
 * with the Restate admin API.
 */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char register_usage[] =
    "usage: classify register [--admin URL] [--uri URL]\n"
    "\n"
    "Registers the host at restate.deployment_url (or --uri) with the\n"
    "Restate admin API at restate.admin_url (or --admin), over HTTP/1.1,\n"
    "replacing an earlier registration of the same URI.\n";

int cli_register(struct cli_global *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"admin", required_argument, NULL, 'a'},
        {"uri", required_argument, NULL, 'u'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *admin = NULL, *uri = NULL;
    char url[1024], err[512];
    char *resp = NULL, *body;
    cJSON *req;
    long status;
    int c;

    while ((c = getopt_long(argc, argv, "a:u:h", opts, NULL)) != -1) {
        if (c == 'a')
            admin = optarg;
        else if (c == 'u')
            uri = optarg;
        else {
            fputs(register_usage, c == 'h' ? stdout : stderr);
            return c == 'h' ? CLI_OK : CLI_USAGE;
        }
    }
    if ((admin == NULL || uri == NULL) && cli_load_config(g) != 0)
        return CLI_USAGE;
    if (admin == NULL)
        admin = g->config->restate_admin_url;
    if (uri == NULL)
        uri = g->config->restate_deployment_url;

    snprintf(url, sizeof(url), "%s/deployments", admin);
    req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "uri", uri);
    cJSON_AddBoolToObject(req, "use_http_11", 1);
    cJSON_AddBoolToObject(req, "force", 1);
    body = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    if (body == NULL)
        return CLI_USAGE;
    status = cli_http_post(url, body, NULL, 30000, &resp, err, sizeof(err));
    free(body);
    if (status == 0) {
        fprintf(stderr, "classify register: %s\n", err);
        return CLI_UNREACHABLE;
    }
    if (status < 200 || status > 299) {
        fprintf(stderr, "classify register: %s answered %ld: %s\n", url, status,
                resp ? resp : "");
        free(resp);
        return CLI_USAGE;
    }
    printf("registered %s with %s\n", uri, admin);
    free(resp);
    return CLI_OK;
}
