/*
 * digest.c - SHA-256 of a buffer or a file, as lower-case hex (OpenSSL).
 */
#include <openssl/evp.h>
#include <stdio.h>

#include "cli/cli.h"

static void to_hex(const unsigned char *md, unsigned int len, char hex[65])
{
    unsigned int i;

    for (i = 0; i < len && i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

int cli_sha256_hex(const void *data, size_t len, char hex[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL))
        return -1;
    to_hex(md, mdlen, hex);
    return 0;
}

int cli_sha256_file(const char *path, char hex[65])
{
    unsigned char md[EVP_MAX_MD_SIZE], buf[8192];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    FILE *f = fopen(path, "rb");
    size_t n;
    int rc = -1;

    if (ctx == NULL || f == NULL || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
        goto out;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        EVP_DigestUpdate(ctx, buf, n);
    if (ferror(f) || !EVP_DigestFinal_ex(ctx, md, &mdlen))
        goto out;
    to_hex(md, mdlen, hex);
    rc = 0;

out:
    if (f != NULL)
        fclose(f);
    EVP_MD_CTX_free(ctx);
    return rc;
}
