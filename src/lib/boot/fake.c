/*
 * fake.c - a backend for tests: it keeps the primary slot, the two states
 * and the booted slot in memory, answers with what it was last told, and
 * logs every call in order, so that a test of the slot installer can
 * assert the exact sequence ("set-primary b" only after the image was
 * verified, never "set-state a bad" for the booted slot...). It can fail
 * any operation on demand. It is not reachable from a bootloader string.
 */
#include <stdio.h>
#include <string.h>

#include "boot/boot_impl.h"

#define FAKE_LOG_MAX (1024 * 1024)
#define FAKE_FAILS 8

typedef struct fake_priv {
	boot_slot primary;
	boot_state state[2];
	boot_slot booted;
	pawl_buf log;
	struct {
		char op[16];
		int code;
	} fail[FAKE_FAILS];
} fake_priv;

/* Log the call; then fail it if a failure was armed for op. */
static int record(boot_backend *b, const char *op, const char *slot, const char *state)
{
	fake_priv *f = b->priv;

	GUARD(buf_printf(&f->log, "%s%s%s%s%s\n", op, slot ? " " : "", slot ? slot : "",
			 state ? " " : "", state ? state : ""));
	for (size_t i = 0; i < FAKE_FAILS; i++) {
		if (f->fail[i].code < 0 && strcmp(f->fail[i].op, op) == 0) {
			int code = f->fail[i].code;

			f->fail[i].code = 0;
			return pawl_error_set(code, "fake boot backend: %s%s%s failed (as asked)", op,
					      slot ? " " : "", slot ? slot : "");
		}
	}
	return 0;
}

static int fake_get_primary(boot_backend *b, boot_slot *ret)
{
	fake_priv *f = b->priv;

	GUARD(record(b, "get-primary", NULL, NULL));
	*ret = f->primary;
	return 0;
}

static int fake_set_primary(boot_backend *b, boot_slot slot)
{
	fake_priv *f = b->priv;

	GUARD(record(b, "set-primary", boot_slot_name(slot), NULL));
	f->primary = slot;
	return 0;
}

static int fake_get_state(boot_backend *b, boot_slot slot, boot_state *ret)
{
	fake_priv *f = b->priv;

	GUARD(record(b, "get-state", boot_slot_name(slot), NULL));
	*ret = f->state[slot];
	return 0;
}

static int fake_set_state(boot_backend *b, boot_slot slot, boot_state st)
{
	fake_priv *f = b->priv;

	GUARD(record(b, "set-state", boot_slot_name(slot), boot_state_name(st)));
	f->state[slot] = st;
	return 0;
}

static int fake_get_current(boot_backend *b, boot_slot *ret)
{
	fake_priv *f = b->priv;

	GUARD(record(b, "get-current", NULL, NULL));
	*ret = f->booted;
	return 0;
}

static void fake_free(boot_backend *b)
{
	fake_priv *f = b->priv;

	if (!f)
		return;
	buf_free(&f->log);
	free(f);
	b->priv = NULL;
}

static const boot_ops fake_ops = {
	.name = "fake",
	.get_primary = fake_get_primary,
	.set_primary = fake_set_primary,
	.get_state = fake_get_state,
	.set_state = fake_set_state,
	.get_current = fake_get_current,
	.free = fake_free,
};

int boot_fake_new(boot_backend **ret)
{
	boot_backend *b;
	fake_priv *f;

	ENSURE(ret, PAWL_E_INVALID, "boot_fake_new: no output");
	b = xcalloc(1, sizeof(*b));
	f = xcalloc(1, sizeof(*f));
	if (!b || !f) {
		free(b);
		free(f);
		return PAWL_E_NOMEM;
	}
	f->primary = BOOT_SLOT_A;
	f->state[BOOT_SLOT_A] = BOOT_GOOD;
	f->state[BOOT_SLOT_B] = BOOT_BAD;
	f->booted = BOOT_SLOT_A;
	f->log = (pawl_buf)PAWL_BUF_INIT(FAKE_LOG_MAX);
	b->ops = &fake_ops;
	b->priv = f;
	b->tries = BOOT_DEFAULT_TRIES;
	b->timeout_ms = BOOT_DEFAULT_SCRIPT_TIMEOUT_MS;
	*ret = b;
	return 0;
}

static fake_priv *fake_of(const boot_backend *b)
{
	return b && b->ops == &fake_ops ? b->priv : NULL;
}

const char *boot_fake_log(const boot_backend *b)
{
	fake_priv *f = fake_of(b);

	return f && f->log.data ? f->log.data : "";
}

void boot_fake_clear_log(boot_backend *b)
{
	fake_priv *f = fake_of(b);

	if (f)
		buf_reset(&f->log);
}

void boot_fake_fail_next(boot_backend *b, const char *op, int code)
{
	fake_priv *f = fake_of(b);

	if (!f || !op || code >= 0 || strlen(op) >= sizeof(f->fail[0].op))
		return;
	for (size_t i = 0; i < FAKE_FAILS; i++) {
		if (f->fail[i].code == 0) {
			snprintf(f->fail[i].op, sizeof(f->fail[i].op), "%s", op);
			f->fail[i].code = code;
			return;
		}
	}
}

void boot_fake_set_booted(boot_backend *b, boot_slot s)
{
	fake_priv *f = fake_of(b);

	if (f && (s == BOOT_SLOT_A || s == BOOT_SLOT_B))
		f->booted = s;
}
