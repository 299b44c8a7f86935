/*
 * text.c - tokenizer and whole-token phrase matching (see text.h).
 */
#include "text.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int is_word(unsigned char c)
{
    return is_alpha(c) || is_digit(c);
}

static char to_lower(char c)
{
    if (c >= 'A' && c <= 'Z')
        return (char)(c - 'A' + 'a');
    return c;
}

static void push_char(struct ct_token *t, size_t *len, char c)
{
    if (*len + 1 >= CT_TOKEN_LEN)
        return;
    t->raw[*len] = c;
    t->lower[*len] = to_lower(c);
    (*len)++;
}

static void finish_token(struct ct_text *out, size_t len)
{
    struct ct_token *t = &out->tok[out->n];
    int letters = 0;
    int upper = 1;
    size_t i;

    t->raw[len] = '\0';
    t->lower[len] = '\0';
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)t->raw[i];

        if (c >= 'a' && c <= 'z')
            upper = 0;
        if (is_alpha(c))
            letters++;
    }
    t->all_upper = letters > 0 && upper;
    out->n++;
}

/* Length of the word run at s (with inner '.'/',' rules), written into t. */
static size_t scan_word(const char *s, struct ct_token *t, size_t *len)
{
    size_t i = 0;

    while (s[i] != '\0') {
        unsigned char c = (unsigned char)s[i];
        unsigned char prev = i > 0 ? (unsigned char)s[i - 1] : 0;
        unsigned char next = (unsigned char)s[i + 1];

        if (is_word(c)) {
            push_char(t, len, (char)c);
        }
        else if (c == '.' && is_alpha(prev) && is_alpha(next)) {
            /* "U.S" -> "US": the dot is dropped. */
        }
        else if ((c == '.' || c == ',') && is_digit(prev) && is_digit(next)) {
            push_char(t, len, (char)c);
        }
        else {
            break;
        }
        i++;
    }
    return i;
}

void ct_tokenize(const char *s, struct ct_text *out)
{
    size_t i = 0;

    out->n = 0;
    if (s == NULL)
        return;
    while (s[i] != '\0' && out->n < CT_MAX_TOKENS) {
        unsigned char c = (unsigned char)s[i];
        size_t len = 0;

        if (is_word(c)) {
            i += scan_word(s + i, &out->tok[out->n], &len);
            finish_token(out, len);
            continue;
        }
        if (c == '%' || c == '$' || c == '/') {
            push_char(&out->tok[out->n], &len, (char)c);
            finish_token(out, len);
        }
        i++;
    }
}

/* Does token tok match the pattern word w (length wl, '*' = prefix)? */
static int word_match(const struct ct_token *tok, const char *w, size_t wl)
{
    if (wl > 0 && w[wl - 1] == '*') {
        wl--;
        return wl < CT_TOKEN_LEN && strncmp(tok->lower, w, wl) == 0;
    }
    return strlen(tok->lower) == wl && strncmp(tok->lower, w, wl) == 0;
}

/* Try phrase at token position at; return tokens matched or 0. */
static size_t match_at(const struct ct_text *t, const char *phrase, size_t at)
{
    const char *p = phrase;
    size_t k = at;

    while (*p != '\0') {
        const char *end = strchr(p, ' ');
        size_t wl = end ? (size_t)(end - p) : strlen(p);

        if (k >= t->n || !word_match(&t->tok[k], p, wl))
            return 0;
        k++;
        p += wl;
        while (*p == ' ')
            p++;
    }
    return k - at;
}

int ct_find(const struct ct_text *t, const char *phrase, size_t from,
            size_t *len)
{
    size_t i;
    size_t m;

    if (phrase == NULL || *phrase == '\0')
        return -1;
    if (*phrase == '=') {
        m = match_at(t, phrase + 1, 0);
        if (from > 0 || m == 0 || m != t->n)
            return -1;
        if (len != NULL)
            *len = m;
        return 0;
    }
    for (i = from; i < t->n; i++) {
        m = match_at(t, phrase, i);
        if (m > 0) {
            if (len != NULL)
                *len = m;
            return (int)i;
        }
    }
    return -1;
}

int ct_match_any(const struct ct_text *t, const char *alternatives, char *hit,
                 size_t hitlen)
{
    char phrase[128];
    const char *p = alternatives;

    if (p == NULL)
        return 0;
    while (*p != '\0') {
        const char *end = strchr(p, '|');
        size_t n = end ? (size_t)(end - p) : strlen(p);

        if (n > 0 && n < sizeof(phrase)) {
            memcpy(phrase, p, n);
            phrase[n] = '\0';
            if (ct_find(t, phrase, 0, NULL) >= 0) {
                if (hitlen > 0) {
                    strncpy(hit, phrase, hitlen - 1);
                    hit[hitlen - 1] = '\0';
                }
                return 1;
            }
        }
        p += n;
        if (*p == '|')
            p++;
    }
    return 0;
}

int ct_blank(const char *s)
{
    if (s == NULL)
        return 1;
    for (; *s != '\0'; s++) {
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return 0;
    }
    return 1;
}

int ct_ieq(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return 0;
    for (; *a != '\0' && *b != '\0'; a++, b++) {
        if (to_lower(*a) != to_lower(*b))
            return 0;
    }
    return *a == *b;
}

int ct_in_list(const char *list, char sep, const char *word)
{
    const char *p = list;
    size_t n;

    if (list == NULL || word == NULL || *word == '\0')
        return 0;
    n = strlen(word);
    while ((p = strstr(p, word)) != NULL) {
        int start = p == list || p[-1] == sep;
        int end = p[n] == '\0' || p[n] == sep;

        if (start && end)
            return 1;
        p += n;
    }
    return 0;
}

void ct_note(char *buf, size_t size, const char *fmt, ...)
{
    size_t used = strlen(buf);
    char line[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    snprintf(buf + used, size - used, "%s%s", used > 0 ? "; " : "", line);
}
