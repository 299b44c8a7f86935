/*
 * limiter.c - the pace towards one provider, shared by every thread.
 *
 * Two token buckets (requests, tokens) refill continuously at
 * limit/window and hold at most one window's worth, as providers' own
 * limits do.  Callers queue in FIFO order (an intrusive list of waiters
 * that live on the callers' stacks); only the head of the queue waits for
 * the buckets, the others wait for their turn.  Waits are
 * pthread_cond_timedwait on CLOCK_MONOTONIC: nobody spins.  settle() gives
 * back what a call over-estimated and wakes the head, so the pace follows
 * the tokens really used.
 */
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "llm/llm_internal.h"

struct waiter {
    struct waiter *prev, *next;
};

struct bucket {
    double cap;   /* 0: unlimited */
    double level; /* may go negative after settle() or pause() */
    double rate;  /* per ms */
};

struct llm_limiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct bucket req, tok;
    int64_t last_ms;
    int64_t paused_until;
    struct waiter *head, *tail;
    double input_ratio;
    bool closed;
};

int64_t llm_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void bucket_init(struct bucket *b, uint32_t limit, uint32_t window_ms)
{
    b->cap = limit;
    b->level = limit;
    b->rate = (double)limit / window_ms;
}

struct llm_limiter *llm_limiter_create(uint32_t requests_per_window,
                                       uint32_t tokens_per_window,
                                       uint32_t window_ms)
{
    struct llm_limiter *lim = calloc(1, sizeof(*lim));
    pthread_condattr_t attr;

    if (lim == NULL)
        return NULL;
    if (window_ms == 0)
        window_ms = 60000;
    bucket_init(&lim->req, requests_per_window, window_ms);
    bucket_init(&lim->tok, tokens_per_window, window_ms);
    lim->input_ratio = 1.0;
    lim->last_ms = llm_now_ms();
    pthread_mutex_init(&lim->mu, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&lim->cv, &attr);
    pthread_condattr_destroy(&attr);
    return lim;
}

void llm_limiter_destroy(struct llm_limiter *lim)
{
    if (lim == NULL)
        return;
    pthread_cond_destroy(&lim->cv);
    pthread_mutex_destroy(&lim->mu);
    free(lim);
}

static void refill(struct llm_limiter *lim, int64_t now)
{
    double dt = (double)(now - lim->last_ms);

    if (dt <= 0)
        return;
    lim->req.level = fmin(lim->req.cap, lim->req.level + lim->req.rate * dt);
    lim->tok.level = fmin(lim->tok.cap, lim->tok.level + lim->tok.rate * dt);
    lim->last_ms = now;
}

/* When will b hold need (ms from now)?  0 if it does already. */
static int64_t bucket_wait(const struct bucket *b, double need)
{
    if (b->cap == 0 || b->level >= need)
        return 0;
    return (int64_t)ceil((need - b->level) / b->rate);
}

static void enqueue(struct llm_limiter *lim, struct waiter *w)
{
    w->next = NULL;
    w->prev = lim->tail;
    if (lim->tail != NULL)
        lim->tail->next = w;
    else
        lim->head = w;
    lim->tail = w;
}

static void dequeue(struct llm_limiter *lim, struct waiter *w)
{
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        lim->head = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    else
        lim->tail = w->prev;
    pthread_cond_broadcast(&lim->cv);
}

static void wait_until(struct llm_limiter *lim, int64_t when_ms)
{
    struct timespec ts;

    ts.tv_sec = when_ms / 1000;
    ts.tv_nsec = (when_ms % 1000) * 1000000;
    pthread_cond_timedwait(&lim->cv, &lim->mu, &ts);
}

/* For the head: ms until it may go (0: now). */
static int64_t head_wait(struct llm_limiter *lim, double need, int64_t now)
{
    int64_t w = bucket_wait(&lim->req, 1);
    int64_t t = bucket_wait(&lim->tok, need);

    if (t > w)
        w = t;
    if (lim->paused_until - now > w)
        w = lim->paused_until - now;
    return w;
}

int llm_limiter_acquire(struct llm_limiter *lim, uint64_t est_tokens,
                        int64_t deadline_ms, uint64_t *waited_ms)
{
    struct waiter self;
    double need = (double)est_tokens;
    int64_t start = llm_now_ms(), now, wait;
    int rc = -1;

    pthread_mutex_lock(&lim->mu);
    if (lim->tok.cap > 0 && need > lim->tok.cap)
        need = lim->tok.cap;
    enqueue(lim, &self);
    for (;;) {
        now = llm_now_ms();
        refill(lim, now);
        if (lim->closed) {
            rc = -2;
            break;
        }
        if (lim->head != &self) {
            if (now >= deadline_ms)
                break;
            wait_until(lim, deadline_ms);
            continue;
        }
        wait = head_wait(lim, need, now);
        if (wait == 0) {
            if (lim->req.cap > 0)
                lim->req.level -= 1;
            if (lim->tok.cap > 0)
                lim->tok.level -= need;
            rc = 0;
            break;
        }
        if (now + wait > deadline_ms)
            break;
        wait_until(lim, now + wait);
    }
    dequeue(lim, &self);
    pthread_mutex_unlock(&lim->mu);
    if (waited_ms != NULL)
        *waited_ms = (uint64_t)(llm_now_ms() - start);
    return rc;
}

void llm_limiter_settle(struct llm_limiter *lim, uint64_t est_tokens,
                        uint64_t used_tokens)
{
    double est = (double)est_tokens;

    pthread_mutex_lock(&lim->mu);
    if (lim->tok.cap > 0) {
        if (est > lim->tok.cap)
            est = lim->tok.cap;
        refill(lim, llm_now_ms());
        lim->tok.level =
            fmin(lim->tok.cap, lim->tok.level + est - (double)used_tokens);
    }
    pthread_cond_broadcast(&lim->cv);
    pthread_mutex_unlock(&lim->mu);
}

void llm_limiter_pause(struct llm_limiter *lim, uint64_t pause_ms)
{
    int64_t until = llm_now_ms() + (int64_t)pause_ms;

    pthread_mutex_lock(&lim->mu);
    if (until > lim->paused_until)
        lim->paused_until = until;
    refill(lim, llm_now_ms());
    if (lim->req.level > 0)
        lim->req.level = 0;
    if (lim->tok.level > 0)
        lim->tok.level = 0;
    pthread_cond_broadcast(&lim->cv);
    pthread_mutex_unlock(&lim->mu);
}

int llm_limiter_sleep(struct llm_limiter *lim, uint64_t ms)
{
    int64_t until = llm_now_ms() + (int64_t)ms;
    int rc = 0;

    pthread_mutex_lock(&lim->mu);
    while (!lim->closed && llm_now_ms() < until)
        wait_until(lim, until);
    if (lim->closed)
        rc = -2;
    pthread_mutex_unlock(&lim->mu);
    return rc;
}

void llm_limiter_close(struct llm_limiter *lim)
{
    pthread_mutex_lock(&lim->mu);
    lim->closed = true;
    pthread_cond_broadcast(&lim->cv);
    pthread_mutex_unlock(&lim->mu);
}

int llm_limiter_closed(struct llm_limiter *lim)
{
    int closed;

    pthread_mutex_lock(&lim->mu);
    closed = lim->closed;
    pthread_mutex_unlock(&lim->mu);
    return closed;
}

double llm_limiter_input_ratio(struct llm_limiter *lim)
{
    double r;

    pthread_mutex_lock(&lim->mu);
    r = lim->input_ratio;
    pthread_mutex_unlock(&lim->mu);
    return r;
}

void llm_limiter_observe_input(struct llm_limiter *lim, uint64_t estimated,
                               uint64_t actual)
{
    double seen;

    if (estimated == 0 || actual == 0)
        return;
    seen = (double)actual / (double)estimated;
    seen = fmax(0.25, fmin(4.0, seen));
    pthread_mutex_lock(&lim->mu);
    lim->input_ratio = 0.8 * lim->input_ratio + 0.2 * seen;
    pthread_mutex_unlock(&lim->mu);
}
