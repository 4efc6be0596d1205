/*
 * The Linux peer of coresched's benchmark: `/init` of the initramfs that `cargo qemu -- --bench
 * --vs-linux` boots on Debian's arm64 Linux 6.1 (see qemu/src/linux.rs, which builds it with
 * `aarch64-linux-gnu-gcc -static -O2`).
 *
 * It runs the five scheduler workloads coresched's benchmark runs, timing each with
 * clock_gettime(CLOCK_MONOTONIC). QEMU runs with `-icount shift=0,sleep=off`, where a guest
 * nanosecond is one instruction and idle time jumps to the next deadline, so every figure is an
 * instruction count. Linux's own background work still moves a figure by a few instructions
 * now and then, so each figure is the median of ROUNDS rounds, each with fresh threads.
 *
 * It prints `linux release <uname -r>`, then one line per figure, `linux <name> <n>` (`-` when
 * the board cannot run the workload), then `linux done`, and powers off. A failed call prints
 * `linux error <what>: <why>` and powers off as well.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

/* Rounds per figure (odd, so the median is one round). */
#define ROUNDS 5
/* Yields, round trips, sleeps or spawns run before timing starts, so caches and lazily built
 * kernel state (thread stacks, futex hash entries) are warm. */
#define WARM_UP 100
/* Switches each of the two threads makes in yield_switch. */
#define YIELDS_PER_THREAD 5000
/* Round trips in each futex ping-pong: two hand-offs each. */
#define ROUND_TRIPS 5000
/* Sleeps timed in sleep_lateness (odd, so the median is one sample). */
#define SLEEPS 101
#define SLEEP_NS 100000
/* Threads spawned and joined in spawn_join. */
#define SPAWNS 500

static void power_off(void)
{
	fflush(stdout);
	sync();
	reboot(RB_POWER_OFF);
	/* Only reached if the kernel refused: let init exit, which the kernel turns into a panic,
	 * and `panic=-1` with QEMU's `-no-reboot` into QEMU's exit. */
	exit(1);
}

/* Reports a failed call (`error` is its errno-style code) and powers off. */
static void fail(const char *what, int error)
{
	printf("linux error %s: %s\n", what, strerror(error));
	power_off();
}

static uint64_t now_ns(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static void report(const char *name, uint64_t value)
{
	printf("linux %s %llu\n", name, (unsigned long long)value);
}

static void report_missing(const char *name)
{
	printf("linux %s -\n", name);
}

static int by_value(const void *left, const void *right)
{
	uint64_t a = *(const uint64_t *)left, b = *(const uint64_t *)right;
	return (a > b) - (a < b);
}

/* The median of `count` values (sorted in place; `count` odd). */
static uint64_t median(uint64_t *values, int count)
{
	qsort(values, count, sizeof(values[0]), by_value);
	return values[count / 2];
}

/* The median of ROUNDS evaluations of `round`. */
#define MEDIAN_OF_ROUNDS(round)                                  \
	({                                                       \
		uint64_t rounds_[ROUNDS];                        \
		for (int round_ = 0; round_ < ROUNDS; round_++)  \
			rounds_[round_] = (round);               \
		median(rounds_, ROUNDS);                         \
	})

/* Starts `body(argument)` on a thread pinned to `cpu`. */
static pthread_t start_pinned(int cpu, void *(*body)(void *), void *argument)
{
	pthread_attr_t attributes;
	cpu_set_t cpus;
	pthread_t thread;
	int error;

	CPU_ZERO(&cpus);
	CPU_SET(cpu, &cpus);
	pthread_attr_init(&attributes);
	error = pthread_attr_setaffinity_np(&attributes, sizeof(cpus), &cpus);
	if (error)
		fail("pthread_attr_setaffinity_np", error);
	error = pthread_create(&thread, &attributes, body, argument);
	if (error)
		fail("pthread_create", error);
	pthread_attr_destroy(&attributes);
	return thread;
}

static void join(pthread_t thread)
{
	int error = pthread_join(thread, NULL);
	if (error)
		fail("pthread_join", error);
}

/* yield_switch: two threads on one core, each calling sched_yield in a loop. Both wait for
 * each other before they start, so every yield switches to the other thread. */
struct yielder {
	atomic_int *started;
	uint64_t begin;
	uint64_t end;
};

static void *yield_loop(void *argument)
{
	struct yielder *self = argument;
	atomic_fetch_add(self->started, 1);
	while (atomic_load(self->started) < 2)
		sched_yield();
	for (int i = 0; i < WARM_UP; i++)
		sched_yield();
	self->begin = now_ns();
	for (int i = 0; i < YIELDS_PER_THREAD; i++)
		sched_yield();
	self->end = now_ns();
	return NULL;
}

static uint64_t yield_switch(int cpu)
{
	atomic_int started = 0;
	struct yielder first = { .started = &started }, second = { .started = &started };
	pthread_t first_thread = start_pinned(cpu, yield_loop, &first);
	pthread_t second_thread = start_pinned(cpu, yield_loop, &second);
	join(first_thread);
	join(second_thread);
	uint64_t begin = first.begin < second.begin ? first.begin : second.begin;
	uint64_t end = first.end > second.end ? first.end : second.end;
	return (end - begin) / (2 * YIELDS_PER_THREAD);
}

/* handoff_*: a futex ping-pong. `turn` says whose move it is; a player waits on the futex
 * until it is its turn, then hands the turn over and wakes the other. */
struct player {
	atomic_int *turn;
	int side;
	uint64_t begin;
	uint64_t end; /* side 0 only */
};

static void wait_for_turn(atomic_int *turn, int side)
{
	while (atomic_load(turn) != side)
		syscall(SYS_futex, turn, FUTEX_WAIT_PRIVATE, !side, NULL, NULL, 0);
}

static void hand_over(atomic_int *turn, int side)
{
	atomic_store(turn, !side);
	syscall(SYS_futex, turn, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void *play(void *argument)
{
	struct player *self = argument;
	for (int i = 0; i < WARM_UP + ROUND_TRIPS; i++) {
		wait_for_turn(self->turn, self->side);
		if (i == WARM_UP)
			self->begin = now_ns();
		hand_over(self->turn, self->side);
	}
	/* Side 0 moved first, so the last hand-off is back to it. */
	if (self->side == 0) {
		wait_for_turn(self->turn, self->side);
		self->end = now_ns();
	}
	return NULL;
}

/* Per hand-off: side 0's clock runs from its first timed move until the turn comes back after
 * the last round trip, which is 2 * ROUND_TRIPS hand-offs. */
static uint64_t futex_handoff(int first_cpu, int second_cpu)
{
	atomic_int turn = 0;
	struct player first = { .turn = &turn, .side = 0 }, second = { .turn = &turn, .side = 1 };
	pthread_t first_thread = start_pinned(first_cpu, play, &first);
	pthread_t second_thread = start_pinned(second_cpu, play, &second);
	join(first_thread);
	join(second_thread);
	return (first.end - first.begin) / (2 * ROUND_TRIPS);
}

/* sleep_lateness: the median, over SLEEPS sleeps of SLEEP_NS, of how long after its deadline
 * each sleep returned. Linux's default timer slack for a normal thread (50 us) applies, and is
 * most of the figure. */
static uint64_t sleep_lateness(void)
{
	static uint64_t lateness[SLEEPS];
	const struct timespec duration = { .tv_nsec = SLEEP_NS };
	for (int i = 0; i < WARM_UP + SLEEPS; i++) {
		uint64_t deadline = now_ns() + SLEEP_NS;
		if (nanosleep(&duration, NULL))
			fail("nanosleep", errno);
		uint64_t woke = now_ns();
		if (i >= WARM_UP)
			lateness[i - WARM_UP] = woke - deadline;
	}
	return median(lateness, SLEEPS);
}

static void *return_at_once(void *argument)
{
	return argument;
}

/* spawn_join: pthread_create then pthread_join of a thread that returns at once, per pair,
 * timed by a spawner thread pinned to one core; the threads it creates inherit its affinity, so
 * they run on its core too. */
static void *spawn_and_join(void *argument)
{
	uint64_t *per_pair = argument;
	uint64_t begin = 0;
	for (int i = 0; i < WARM_UP + SPAWNS; i++) {
		if (i == WARM_UP)
			begin = now_ns();
		pthread_t thread;
		int error = pthread_create(&thread, NULL, return_at_once, NULL);
		if (error)
			fail("pthread_create", error);
		join(thread);
	}
	*per_pair = (now_ns() - begin) / SPAWNS;
	return NULL;
}

static uint64_t spawn_join(int cpu)
{
	uint64_t per_pair = 0;
	join(start_pinned(cpu, spawn_and_join, &per_pair));
	return per_pair;
}

int main(void)
{
	struct utsname system;
	cpu_set_t online;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (uname(&system))
		fail("uname", errno);
	if (sched_getaffinity(0, sizeof(online), &online))
		fail("sched_getaffinity", errno);
	printf("linux release %s\n", system.release);

	report("yield_switch", MEDIAN_OF_ROUNDS(yield_switch(0)));
	report("handoff_same_core", MEDIAN_OF_ROUNDS(futex_handoff(0, 0)));
	if (CPU_COUNT(&online) >= 2)
		report("handoff_cross_core", MEDIAN_OF_ROUNDS(futex_handoff(0, 1)));
	else
		report_missing("handoff_cross_core");
	report("sleep_lateness", sleep_lateness());
	report("spawn_join", MEDIAN_OF_ROUNDS(spawn_join(0)));
	printf("linux done\n");
	power_off();
}
