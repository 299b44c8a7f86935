/*
 * stagetest.h - helpers of the stage tests: run a stage through the fake
 * host and read fields of its JSON output.
 */
#ifndef STAGETEST_H
#define STAGETEST_H

#include <cjson/cJSON.h>

#include "classify/fakehost.h"

/* The entry function of the plugin linked into this test. */
const cls_stage_desc *cls_stage_entry_v1(void);

/*
 * A fake host with provider kind ("rules", "openai", ...), fallback flag
 * and plugin_dir (NULL keeps the default), with the stage created.  Fails
 * the test when creation fails.
 */
cls_fake_host *st_host(const cls_stage_desc *desc, const char *kind,
                       int fallback, const char *plugin_dir);

/* Destroy the stage and the fake, failing the test on leaked bytes. */
void st_host_free(cls_fake_host *fh);

/*
 * Run the stage on input (JSON text) and return the parsed output; fails
 * the test on a non-OK status.  The caller deletes the result.
 */
cJSON *st_process(cls_fake_host *fh, const char *input);

/* Run an indicator (JSON object text) with no earlier results. */
cJSON *st_indicator(cls_fake_host *fh, const char *indicator);

/* String member key of o (NULL for JSON null or absent). */
const char *st_str(const cJSON *o, const char *key);

/* Number member key of o (fails the test when not a number). */
double st_num(const cJSON *o, const char *key);

/* Boolean member key of o (fails the test when not a boolean). */
int st_bool(const cJSON *o, const char *key);

/*
 * The descriptor of the built plugin name (CLASSIFY_PLUGIN_DIR/name.so),
 * loaded with dlopen as the host does; fails the test when it cannot be
 * loaded.  The library stays loaded until the process exits.
 */
const cls_stage_desc *st_load(const char *name);

#endif /* STAGETEST_H */
