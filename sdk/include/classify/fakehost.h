/*
 * classify/fakehost.h - an in-process fake of the classify host for stage
 * unit tests.  Link a test with libclassify-fakehost.a (CMake target
 * classify_fakehost); no server, database or network is involved.
 *
 * The fake implements every member of cls_host_api: options come from
 * cls_fake_host_set_option(), LLM replies from a script queued with
 * cls_fake_host_push_llm_reply(), time and randomness from fixed seeds,
 * and it counts instance memory so a test can assert that destroy()
 * freed everything.  It is single-threaded: use one fake per thread.
 */
#ifndef CLASSIFY_FAKEHOST_H
#define CLASSIFY_FAKEHOST_H

#include "classify/stage.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cls_fake_host cls_fake_host;

/* A new fake with provider "rules" and no options.  NULL on ENOMEM. */
cls_fake_host *cls_fake_host_new(void);

/* Destroy the instance if one is live, then free the fake. */
void cls_fake_host_free(cls_fake_host *fh);

/*
 * Set a stage option by its textual value ("0.7", "true", "abc").  The
 * value is checked against the descriptor's schema at create time, as the
 * real host does.  Returns CLS_OK or CLS_ENOMEM.
 */
cls_status cls_fake_host_set_option(cls_fake_host *fh, const char *key,
                                    const char *value);

/* Provider kind ("rules", "openai", "anthropic") and fallback flag. */
cls_status cls_fake_host_set_provider(cls_fake_host *fh, const char *kind,
                                      int fallback_to_rules);

/* Directory returned by plugin_dir() and used by read_file(). */
cls_status cls_fake_host_set_plugin_dir(cls_fake_host *fh, const char *dir);

/*
 * Queue the outcome of the next llm_complete(): with CLS_OK, text is the
 * reply (parsed as JSON for reply->object); otherwise the call returns
 * status with text as its message.  Replies are consumed in order; a call
 * with an empty queue fails with CLS_FAIL.
 */
cls_status cls_fake_host_push_llm_reply(cls_fake_host *fh, cls_status status,
                                        const char *text);

/* The system and user messages of the n-th llm_complete() (0-based), or
 * NULL.  Owned by the fake. */
const char *cls_fake_host_llm_system(const cls_fake_host *fh, size_t n);
const char *cls_fake_host_llm_user(const cls_fake_host *fh, size_t n);
size_t cls_fake_host_llm_calls(const cls_fake_host *fh);

/*
 * Check desc as the loader does (magic, size, ABI), validate the options
 * against its schema and call create().  On failure returns the status
 * and fills err.
 */
cls_status cls_fake_host_create(cls_fake_host *fh, const cls_stage_desc *desc,
                                cls_error *err);

/*
 * Run process() on input_json (the input object described in stage.h).
 * On CLS_OK, *output_json is the stage's output as compact JSON, malloc'd,
 * which the caller frees with free().  Otherwise returns the status and
 * fills err.
 */
cls_status cls_fake_host_process(cls_fake_host *fh, const char *input_json,
                                 char **output_json, cls_error *err);

/* Call destroy() and return the instance bytes still allocated. */
size_t cls_fake_host_destroy(cls_fake_host *fh);

/* All log lines so far, newline-separated.  Owned by the fake. */
const char *cls_fake_host_log(const cls_fake_host *fh);

#ifdef __cplusplus
}
#endif

#endif /* CLASSIFY_FAKEHOST_H */
