/* timer.h - connection deadlines without a timer per connection.
 * Every timeout of one kind has the same length, so arming always appends at the tail of that
 * kind's list and each list stays sorted by deadline: arming, re-arming and cancelling are O(1),
 * and the nearest deadline of a list is its head. The loop sleeps until the nearest head. */
#ifndef AWS_TIMER_H
#define AWS_TIMER_H

#include <stdbool.h>
#include <stdint.h>

struct timer_list;

struct timer {
    struct timer *prev, *next;
    struct timer_list *list;  /* NULL when not armed */
    uint64_t deadline;        /* ms, CLOCK_MONOTONIC */
};

struct timer_list {
    struct timer *head, *tail;
    uint64_t timeout;         /* ms; 0 disables the list (timer_arm does nothing) */
};

/* Milliseconds on CLOCK_MONOTONIC. */
uint64_t timer_now(void);
void timer_list_init(struct timer_list *l, uint64_t timeout_ms);
void timer_init(struct timer *t);
/* (Re)arms t on l with deadline now + l->timeout, removing it from any list first. */
void timer_arm(struct timer_list *l, struct timer *t, uint64_t now);
void timer_disarm(struct timer *t);
/* The earliest deadline of the lists, or UINT64_MAX when none is armed. */
uint64_t timer_earliest(struct timer_list *const *lists, int n);
/* Removes and returns the head of l when its deadline is <= now; NULL otherwise. */
struct timer *timer_pop_expired(struct timer_list *l, uint64_t now);

#endif
