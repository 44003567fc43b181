/*
 * pkcs11_module.c - PKCS#11 modules and logins, shared by every signer in
 * the process: a module is dlopen()ed and C_Initialize()d once and
 * finalised with its last user (only if pawl initialised it); a token is
 * logged out with the last signer that uses it (only if pawl logged it
 * in). Also the names of CK_RV codes for messages. See pkcs11_impl.h.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>

#include "crypto/pkcs11_impl.h"

static const char *const proxy_modules[] = {
	"/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so",
	"/usr/lib/aarch64-linux-gnu/p11-kit-proxy.so",
	"/usr/lib64/p11-kit-proxy.so",
	"/usr/lib/p11-kit-proxy.so",
};

/* ---------------- CK_RV names ---------------- */

static const struct {
	CK_RV rv;
	const char *name;
} rv_names[] = {
	{ CKR_HOST_MEMORY, "CKR_HOST_MEMORY" },
	{ CKR_SLOT_ID_INVALID, "CKR_SLOT_ID_INVALID" },
	{ CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR" },
	{ CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED" },
	{ CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD" },
	{ CKR_CANT_LOCK, "CKR_CANT_LOCK" },
	{ CKR_ATTRIBUTE_SENSITIVE, "CKR_ATTRIBUTE_SENSITIVE" },
	{ CKR_ATTRIBUTE_TYPE_INVALID, "CKR_ATTRIBUTE_TYPE_INVALID" },
	{ CKR_DATA_LEN_RANGE, "CKR_DATA_LEN_RANGE" },
	{ CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR" },
	{ CKR_DEVICE_MEMORY, "CKR_DEVICE_MEMORY" },
	{ CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED" },
	{ CKR_FUNCTION_NOT_SUPPORTED, "CKR_FUNCTION_NOT_SUPPORTED" },
	{ CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID" },
	{ CKR_KEY_TYPE_INCONSISTENT, "CKR_KEY_TYPE_INCONSISTENT" },
	{ CKR_KEY_FUNCTION_NOT_PERMITTED, "CKR_KEY_FUNCTION_NOT_PERMITTED" },
	{ CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID" },
	{ CKR_MECHANISM_PARAM_INVALID, "CKR_MECHANISM_PARAM_INVALID" },
	{ CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID" },
	{ CKR_OPERATION_ACTIVE, "CKR_OPERATION_ACTIVE" },
	{ CKR_OPERATION_NOT_INITIALIZED, "CKR_OPERATION_NOT_INITIALIZED" },
	{ CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT" },
	{ CKR_PIN_LEN_RANGE, "CKR_PIN_LEN_RANGE" },
	{ CKR_PIN_EXPIRED, "CKR_PIN_EXPIRED" },
	{ CKR_PIN_LOCKED, "CKR_PIN_LOCKED" },
	{ CKR_SESSION_COUNT, "CKR_SESSION_COUNT" },
	{ CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID" },
	{ CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT" },
	{ CKR_TOKEN_NOT_RECOGNIZED, "CKR_TOKEN_NOT_RECOGNIZED" },
	{ CKR_USER_ALREADY_LOGGED_IN, "CKR_USER_ALREADY_LOGGED_IN" },
	{ CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN" },
	{ CKR_USER_PIN_NOT_INITIALIZED, "CKR_USER_PIN_NOT_INITIALIZED" },
	{ CKR_USER_TYPE_INVALID, "CKR_USER_TYPE_INVALID" },
	{ CKR_BUFFER_TOO_SMALL, "CKR_BUFFER_TOO_SMALL" },
	{ CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED" },
	{ CKR_CRYPTOKI_ALREADY_INITIALIZED, "CKR_CRYPTOKI_ALREADY_INITIALIZED" },
};

int PAWL_PRINTF(3, 4) p11_rv_fail(int code, CK_RV rv, const char *fmt, ...)
{
	char msg[768];
	const char *name = NULL;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < ARRAY_SIZE(rv_names); i++)
		if (rv_names[i].rv == rv)
			name = rv_names[i].name;
	if (rv == CKR_HOST_MEMORY)
		code = PAWL_E_NOMEM;
	if (name)
		return pawl_error_set(code, "%s: %s", msg, name);
	return pawl_error_set(code, "%s: CKR 0x%lx", msg, (unsigned long)rv);
}

/* A module may use OpenSSL itself, in this process, and leave errors on
 * this thread's queue (SoftHSM2 leaves "no such engine" behind on every
 * C_Initialize). pawl's messages report the earliest queued error, so
 * calls into a module are bracketed with ERR_set_mark() and
 * ERR_pop_to_mark(), and what the module left is dropped before pawl's own
 * OpenSSL calls. */
void p11_drop_module_errors(void)
{
	ERR_pop_to_mark();
	ERR_set_mark();
}

/* Guards the registry and every login/logout; loads hold it throughout
 * (they are rare), signing does not take it. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct p11_module *registry;
static pid_t registry_pid;

void p11_registry_lock(void)
{
	pthread_mutex_lock(&registry_lock);
}

void p11_registry_unlock(void)
{
	pthread_mutex_unlock(&registry_lock);
}

void p11_module_put(struct p11_module *m)
{
	struct p11_module **pp;

	if (!m || --m->refs > 0)
		return;
	for (pp = &registry; *pp; pp = &(*pp)->next) {
		if (*pp == m) {
			*pp = m->next;
			break;
		}
	}
	if (m->finalize)
		(void)m->fl->C_Finalize(NULL);
	dlclose(m->dl);
	free(m->path);
	free(m);
}

int p11_module_get(struct p11_module **ret, const char *path)
{
	CK_C_INITIALIZE_ARGS args = { .flags = CKF_OS_LOCKING_OK };
	CK_C_GetFunctionList get_list;
	CK_FUNCTION_LIST_PTR fl = NULL;
	struct p11_module *m;
	struct stat st;
	const char *err;
	void *dl;
	CK_RV rv;

	/* In a forked child the parent's modules are not initialised: forget
	 * them (without touching them) and start again. */
	if (registry_pid != getpid()) {
		registry = NULL;
		registry_pid = getpid();
	}
	if (stat(path, &st) != 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "PKCS#11 module %.256s", path);
	ENSURE(S_ISREG(st.st_mode), PAWL_E_IO, "PKCS#11 module %.256s is not a regular file",
	       path);
	(void)dlerror();
	dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		err = dlerror();
		return pawl_error_set(PAWL_E_KEY, "cannot load PKCS#11 module %.256s: %.256s", path,
				      err ? err : "unknown error");
	}
	/* The same module under another name (a symlink) is the same
	 * handle: share its state, or a second C_Initialize would find it
	 * initialised and the first C_Finalize would pull it from under the
	 * second user. */
	for (m = registry; m; m = m->next) {
		if (m->dl == dl) {
			dlclose(dl);
			m->refs++;
			*ret = m;
			return 0;
		}
	}
	*(void **)&get_list = dlsym(dl, "C_GetFunctionList");
	if (!get_list) {
		dlclose(dl);
		return pawl_error_set(PAWL_E_KEY,
				      "%.256s is not a PKCS#11 module (no C_GetFunctionList)", path);
	}
	rv = get_list(&fl);
	if (rv != CKR_OK || !fl) {
		dlclose(dl);
		return p11_rv_fail(PAWL_E_KEY, rv,
				   "PKCS#11 module %.256s: C_GetFunctionList failed", path);
	}
	if (fl->version.major < 2) {
		dlclose(dl);
		return pawl_error_set(PAWL_E_UNSUPPORTED,
				      "PKCS#11 module %.256s implements Cryptoki %u.%u; 2.x or "
				      "later needed",
				      path, fl->version.major, fl->version.minor);
	}
	rv = fl->C_Initialize(&args);
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		dlclose(dl);
		return p11_rv_fail(PAWL_E_KEY, rv, "PKCS#11 module %.256s: C_Initialize failed",
				   path);
	}
	m = xcalloc(1, sizeof(*m));
	if (m)
		m->path = xstrdup(path);
	if (!m || !m->path) {
		if (rv == CKR_OK)
			(void)fl->C_Finalize(NULL);
		dlclose(dl);
		free(m);
		return PAWL_E_NOMEM;
	}
	m->dl = dl;
	m->fl = fl;
	m->refs = 1;
	/* Already initialised by someone else in this process: theirs to
	 * finalise. */
	m->finalize = rv == CKR_OK;
	m->next = registry;
	registry = m;
	*ret = m;
	return 0;
}

struct p11_login *p11_login_find(struct p11_module *m, CK_SLOT_ID slot)
{
	for (struct p11_login *l = m->logins; l; l = l->next)
		if (l->slot == slot)
			return l;
	return NULL;
}

int p11_login_add(struct p11_module *m, CK_SLOT_ID slot, bool ours, struct p11_login **ret)
{
	struct p11_login *l = xcalloc(1, sizeof(*l));

	if (!l)
		return PAWL_E_NOMEM;
	l->slot = slot;
	l->refs = 1;
	l->ours = ours;
	l->next = m->logins;
	m->logins = l;
	*ret = l;
	return 0;
}

/* Drop one reference; the last one logs the token out through session
 * (if pawl logged it in). */
void p11_login_put(struct p11_module *m, struct p11_login *l, CK_SESSION_HANDLE session)
{
	struct p11_login **pp;

	if (--l->refs > 0)
		return;
	if (l->ours && session != CK_INVALID_HANDLE)
		(void)m->fl->C_Logout(session);
	for (pp = &m->logins; *pp; pp = &(*pp)->next) {
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	}
	free(l);
}

const char *p11_module_default(void)
{
	const char *env = secure_getenv("PAWL_PKCS11_MODULE");

	if (env && *env)
		return env;
	for (size_t i = 0; i < ARRAY_SIZE(proxy_modules); i++)
		if (access(proxy_modules[i], F_OK) == 0)
			return proxy_modules[i];
	return NULL;
}
