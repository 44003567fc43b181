/*
 * folder.c - the folder-and-link backend (backend.h): the transaction of
 * install.c behind the table of operations. Install, switch, health check
 * and commit (or switch back) happen in one call, so there is never
 * anything to confirm later.
 */
#include <stdio.h>
#include <string.h>

#include "install/backend.h"

static int folder_open(void **ret, const install_opts *o)
{
	install_ctx *c;

	GUARD(install_open(&c, o));
	*ret = c;
	return 0;
}

static void folder_close(void *be)
{
	install_close(be);
}

static int folder_state_read(const install_opts *o, install_state *ret)
{
	return install_state_read(o->state_dir, ret);
}

static const install_state *folder_state(const void *be)
{
	return install_get_state(be);
}

static int folder_recover(void *be, install_result *ret)
{
	return install_recover(be, ret);
}

static int folder_install(void *be, const install_artifact *a, install_result *ret)
{
	ENSURE(!a->read, PAWL_E_UNSUPPORTED,
	       "install: the folder backend installs a staged file, not an image stream");
	return install_release(be, a, ret);
}

static int folder_rollback(void *be, bool previous_is_recovery, install_result *ret)
{
	return install_rollback(be, previous_is_recovery, ret);
}

static int folder_clear_bad(void *be, const char *version)
{
	return install_clear_bad(be, version);
}

static void place(pawl_install_place *p, const char *name, const char *version, int state)
{
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->version, sizeof(p->version), "%s", version);
	p->state = state;
}

/* "current" (what the link names) and "previous" (kept for rollback). */
static int folder_places(const void *be, pawl_install_place *out, size_t max, size_t *ret_n)
{
	const install_state *st = install_get_state(be);
	size_t n = 0;

	ENSURE(max >= 2, PAWL_E_INVALID, "install: room for 2 places needed");
	place(&out[n++], "current", st->installed,
	      st->installed[0] ? PAWL_INSTALL_PLACE_ACTIVE : PAWL_INSTALL_PLACE_EMPTY);
	if (st->previous[0])
		place(&out[n++], "previous", st->previous, PAWL_INSTALL_PLACE_INACTIVE);
	*ret_n = n;
	return 0;
}

const install_backend install_backend_folder = {
	.name = "folder",
	.open = folder_open,
	.close = folder_close,
	.state_read = folder_state_read,
	.state = folder_state,
	.recover = folder_recover,
	.install = folder_install,
	.confirm = NULL,
	.mark = NULL,
	.rollback = folder_rollback,
	.clear_bad = folder_clear_bad,
	.places = folder_places,
};

const install_backend *install_backend_find(const char *name)
{
	static const install_backend *const all[] = { &install_backend_folder,
						       &install_backend_slot };

	if (!name)
		return &install_backend_folder;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(all[i]->name, name) == 0)
			return all[i];
	return NULL;
}
