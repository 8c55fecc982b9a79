/* timer.c - deadline lists: one list per timeout length, kept in deadline order for free
 * because every timer on a list was armed with the same length. See timer.h. */
#include <time.h>
#include "timer.h"

uint64_t timer_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void timer_list_init(struct timer_list *l, uint64_t timeout_ms)
{
    l->head = l->tail = NULL;
    l->timeout = timeout_ms;
}

void timer_init(struct timer *t)
{
    t->prev = t->next = NULL;
    t->list = NULL;
    t->deadline = 0;
}

void timer_disarm(struct timer *t)
{
    struct timer_list *l = t->list;
    if (!l)
        return;
    if (t->prev)
        t->prev->next = t->next;
    else
        l->head = t->next;
    if (t->next)
        t->next->prev = t->prev;
    else
        l->tail = t->prev;
    timer_init(t);
}

void timer_arm(struct timer_list *l, struct timer *t, uint64_t now)
{
    timer_disarm(t);
    if (!l->timeout)
        return;
    t->deadline = now + l->timeout;
    t->list = l;
    t->prev = l->tail;
    t->next = NULL;
    if (l->tail)
        l->tail->next = t;
    else
        l->head = t;
    l->tail = t;
}

uint64_t timer_earliest(struct timer_list *const *lists, int n)
{
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < n; i++)
        if (lists[i]->head && lists[i]->head->deadline < best)
            best = lists[i]->head->deadline;
    return best;
}

struct timer *timer_pop_expired(struct timer_list *l, uint64_t now)
{
    struct timer *t = l->head;
    if (!t || t->deadline > now)
        return NULL;
    timer_disarm(t);
    return t;
}
