/*
 * text.h - whole-token text matching shared by the stage plugins.
 *
 * Unit strings and indicator names are split into tokens once; rule tables
 * then name phrases ("hundred million", "per capita", "export*") that must
 * match whole tokens, never substrings, so "France" is not "franc" and
 * "treatments" is not "mt".  Everything here is pure and reentrant.
 */
#ifndef CLS_COMMON_TEXT_H
#define CLS_COMMON_TEXT_H

#include <stddef.h>

#define CT_MAX_TOKENS 96
#define CT_TOKEN_LEN  40

/* One token: its text as written, lower-cased, and whether every letter in
 * it is upper-case (currency codes count only then). */
struct ct_token {
    char raw[CT_TOKEN_LEN];
    char lower[CT_TOKEN_LEN];
    int all_upper;
};

/* A tokenized string.  Tokens past CT_MAX_TOKENS are dropped. */
struct ct_text {
    size_t n;
    struct ct_token tok[CT_MAX_TOKENS];
};

/*
 * Split s into tokens: runs of letters and digits (bytes >= 0x80 count as
 * letters, so UTF-8 words stay whole; a '.' between two letters is dropped
 * so "U.S." is "US"; a '.' or ',' between two digits is kept), and the
 * single symbols % $ / each as a token of its own.  Everything else
 * separates.  s may be NULL (no tokens).  Never fails.
 */
void ct_tokenize(const char *s, struct ct_text *out);

/*
 * Position of the first match of phrase in t at or after token from, or
 * -1.  A phrase is words separated by single spaces; a word ending in '*'
 * matches any token it prefixes; a phrase starting with '=' matches only
 * when it covers all of t.  Case-insensitive.  *len (may be NULL) gets the
 * number of tokens matched.
 */
int ct_find(const struct ct_text *t, const char *phrase, size_t from,
            size_t *len);

/*
 * First phrase of alternatives ('|'-separated phrases) found in t, copied
 * into hit (hitlen bytes, may be 0); returns 1 on a hit, 0 otherwise.  An
 * empty or NULL list never matches.
 */
int ct_match_any(const struct ct_text *t, const char *alternatives, char *hit,
                 size_t hitlen);

/* Non-zero when s is NULL or only white space. */
int ct_blank(const char *s);

/* Case-insensitive ASCII equality of two strings (NULL equals nothing). */
int ct_ieq(const char *a, const char *b);

/*
 * Non-zero when word is one whole item of list, whose items are separated
 * by sep ('|' in the rule tables, ' ' in word lists); case-sensitive.  A
 * NULL list and a NULL or empty word never match.
 */
int ct_in_list(const char *list, char sep, const char *word);

/*
 * Append one clause, printf-formatted and cut at 255 bytes, to the
 * reasoning text buf (size bytes, NUL-terminated), after "; " when buf is
 * not empty; what does not fit is cut.  Never fails.
 */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
void ct_note(char *buf, size_t size, const char *fmt, ...);

#endif /* CLS_COMMON_TEXT_H */
