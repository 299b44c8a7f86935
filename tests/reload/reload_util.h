/*
 * reload_util.h - helpers shared by the reload tests: deploying a plugin
 * file the way operators must (write a new file, rename it over the old
 * one), counting open descriptors and mappings of the private copies, and
 * invoking a stage of the active generation.
 */
#ifndef TESTS_RELOAD_UTIL_H
#define TESTS_RELOAD_UTIL_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stage/call.h"
#include "stage/pipeline.h"

/*
 * Copy src to dst through dst.tmp and rename(2): the deployed path gets a
 * new inode, as docs/operations.md asks.  Returns 0 or -1.
 */
static inline int deploy(const char *src, const char *dst)
{
    char tmp[4096], buf[65536];
    FILE *in = fopen(src, "rb"), *out;
    size_t n;
    int rc = 0;

    snprintf(tmp, sizeof(tmp), "%s.tmp", dst);
    out = fopen(tmp, "wb");
    if (in == NULL || out == NULL)
        rc = -1;
    while (rc == 0 && (n = fread(buf, 1, sizeof(buf), in)) > 0)
        rc = fwrite(buf, 1, n, out) == n ? 0 : -1;
    if (in != NULL)
        fclose(in);
    if (out != NULL && fclose(out) != 0)
        rc = -1;
    return rc == 0 ? rename(tmp, dst) : -1;
}

/* Entries of /proc/self/fd (the directory's own descriptor included). */
static inline int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* Lines of /proc/self/maps naming a file under dir. */
static inline int count_maps(const char *dir)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[8192];
    int n = 0;

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL)
        n += strstr(line, dir) != NULL;
    fclose(f);
    return n;
}

/* Regular entries in dir. */
static inline int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/*
 * Run stage name of the active generation of h on one item, holding a
 * generation reference for the call as the stage services do.  On success
 * returns the output (malloc'd) and the generation id in *gen.
 */
static inline char *invoke_active(struct pipeline_holder *h, const char *name,
                                  const char *item, unsigned *gen)
{
    struct pipeline *p = pipeline_holder_acquire(h);
    struct cls_host *s = p ? pipeline_find(p, name) : NULL;
    char input[256], *out = NULL;
    cls_error err = {CLS_OK, ""};

    snprintf(input, sizeof(input), "{\"indicator\":{\"id\":\"%s\"}}", item);
    if (s != NULL && stage_invoke(s, NULL, item, input, strlen(input), &out,
                                  &err) != CLS_OK) {
        fprintf(stderr, "invoke %s: %s\n", name, err.message);
        out = NULL;
    }
    if (gen != NULL)
        *gen = p ? p->id : 0;
    pipeline_release(p);
    return out;
}

#endif /* TESTS_RELOAD_UTIL_H */
