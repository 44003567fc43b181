/*
 * test_boot.c - the bootloader backends (src/lib/boot/) on temporary
 * files, and the shipped boot scripts through the boot simulator.
 *
 *  - GRUB: a real grubenv written by grub-editenv; U-Boot: a redundant
 *    environment in a plain file, built and read back here with our own
 *    CRC-32 (so libubootenv is checked against the format, not itself);
 *    custom: shell scripts that keep their state in files, fail, print
 *    garbage, or hang.
 *  - Boot counting end to end: the backend calls the agent will make,
 *    then tests/integration/bootsim (a second implementation of the
 *    deploy/boot/ scripts) boots the device: an unconfirmed new slot
 *    falls back, mark-bad falls back at once, mark-good keeps the slot.
 *  - The scripts: grub-script-check passes the shipped grub.cfg (and
 *    fails a broken one); the simulator's copy of each script's logic
 *    lines matches the script, so the two cannot drift apart.
 *  - Refusals: corrupt and missing environments (never recreated), bad
 *    values, unsafe owners and modes, libubootenv's lock as a link, the
 *    pawl.slot= edge cases.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "boot/boot.h"
#include "boot/boot_impl.h"
#include "pawl/common.h"
#include "testing.h"

#define GRUB_EDITENV "/usr/bin/grub-editenv"
#define UENV_SIZE 0x4000

/* ---------------- helpers ---------------- */

struct fx {
	char dir[1024];
	char grubenv[PATH_MAX];
	char envfile[PATH_MAX];
	char fwcfg[PATH_MAX];
	char script[PATH_MAX];
};

static char *xdtemp(void)
{
	const char *tmp = getenv("TMPDIR");
	char tmpl[PATH_MAX];

	snprintf(tmpl, sizeof(tmpl), "%s/pawl-boot-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(tmpl));
	return strdup(tmpl);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char *d;

	assert_non_null(f);
	d = xdtemp();
	snprintf(f->dir, sizeof(f->dir), "%s", d);
	free(d);
	snprintf(f->grubenv, sizeof(f->grubenv), "%s/grubenv", f->dir);
	snprintf(f->envfile, sizeof(f->envfile), "%s/uboot.env", f->dir);
	snprintf(f->fwcfg, sizeof(f->fwcfg), "%s/fw_env.config", f->dir);
	snprintf(f->script, sizeof(f->script), "%s/boot-script", f->dir);
	pawl_error_clear();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	t_rm_rf(f->dir);
	free(f);
	return 0;
}

/* Run argv to its exit; stdout into out (NUL-terminated). Returns the
 * exit status, or -1 when it did not exit normally. */
static int run(char *const argv[], char *out, size_t outsz)
{
	int p[2], status;
	size_t n = 0;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		ssize_t r = read(p[0], out + n, outsz - 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
		if (n == outsz - 1)
			break;
	}
	out[n] = '\0';
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static const char *builddir(void)
{
	const char *b = getenv("PAWL_BUILDDIR");

	if (!b || !*b)
		fail_msg("PAWL_BUILDDIR is not set (run the tests through meson test)");
	return b;
}

static const char *srcdir(void)
{
	const char *s = getenv("PAWL_SRCDIR");

	if (!s || !*s)
		fail_msg("PAWL_SRCDIR is not set (run the tests through meson test)");
	return s;
}

/* One power-on under the simulator: 'a', 'b' or 'n' (none). */
static char boot_once(const char *kind, const char *path)
{
	char sim[PATH_MAX], out[64];
	char *argv[] = { sim, (char *)kind, (char *)path, NULL };
	int rc;

	snprintf(sim, sizeof(sim), "%s/tests/integration/bootsim", builddir());
	if (access(sim, X_OK) != 0)
		fail_msg("%s is missing: build the tree first (ninja -C build)", sim);
	rc = run(argv, out, sizeof(out));
	if (rc == 0 && (strcmp(out, "a\n") == 0 || strcmp(out, "b\n") == 0))
		return out[0];
	if (rc == 2 && strcmp(out, "none\n") == 0)
		return 'n';
	fail_msg("bootsim %s %s: exit %d, output \"%s\"", kind, path, rc, out);
	return '?';
}

static void grub_editenv(const char *file, const char *a1, const char *a2, const char *a3,
			 const char *a4, const char *a5, const char *a6)
{
	char out[4096];
	char *argv[] = { (char *)GRUB_EDITENV, (char *)file, (char *)a1, (char *)a2, (char *)a3,
			 (char *)a4, (char *)a5, (char *)a6, NULL };

	assert_int_equal(run(argv, out, sizeof(out)), 0);
}

static char *grub_list(const char *file)
{
	static char out[8192];
	char *argv[] = { (char *)GRUB_EDITENV, (char *)file, (char *)"list", NULL };

	assert_int_equal(run(argv, out, sizeof(out)), 0);
	return out;
}

/* A grubenv with slot a good and running, slot b empty. */
static void grub_init(struct fx *f)
{
	grub_editenv(f->grubenv, "create", NULL, NULL, NULL, NULL, NULL);
	grub_editenv(f->grubenv, "set", "ORDER=A B", "A_OK=1", "A_TRY=0", "B_OK=0", "B_TRY=0");
}

static boot_backend *open_grub(struct fx *f)
{
	char spec[PATH_MAX + 8];
	boot_backend *b = NULL;

	snprintf(spec, sizeof(spec), "grub:%s", f->grubenv);
	t_ok(boot_open(spec, NULL, &b));
	assert_string_equal(boot_backend_name(b), "grub");
	return b;
}

/* --- U-Boot environments, written and read here from the format --- */

static uint32_t crc32_of(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
	}
	return ~c;
}

/* Write one copy at off: CRC, flag byte when redundant, "k=v\0...\0". */
static void uenv_put(const char *file, off_t off, bool redund, unsigned char flags,
		     const char *vars, size_t vars_len, bool good_crc)
{
	unsigned char *buf = calloc(1, UENV_SIZE);
	size_t hdr = redund ? 5 : 4;
	uint32_t crc;
	int fd;

	assert_non_null(buf);
	assert_true(vars_len + hdr + 1 < UENV_SIZE);
	memcpy(buf + hdr, vars, vars_len);
	crc = crc32_of(buf + hdr, UENV_SIZE - hdr) ^ (good_crc ? 0 : 1);
	buf[0] = (unsigned char)crc;
	buf[1] = (unsigned char)(crc >> 8);
	buf[2] = (unsigned char)(crc >> 16);
	buf[3] = (unsigned char)(crc >> 24);
	if (redund)
		buf[4] = flags;
	fd = open(file, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, buf, UENV_SIZE, off), UENV_SIZE);
	close(fd);
	free(buf);
}

typedef struct ucopy {
	bool crc_ok;
	unsigned char flags;
	unsigned char data[UENV_SIZE];
} ucopy;

static void uenv_get_copy(const char *file, off_t off, bool redund, ucopy *c)
{
	unsigned char buf[UENV_SIZE];
	size_t hdr = redund ? 5 : 4;
	uint32_t stored;
	int fd = open(file, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, UENV_SIZE, off), UENV_SIZE);
	close(fd);
	stored = (uint32_t)buf[0] | (uint32_t)buf[1] << 8 | (uint32_t)buf[2] << 16 |
		 (uint32_t)buf[3] << 24;
	c->crc_ok = crc32_of(buf + hdr, UENV_SIZE - hdr) == stored;
	c->flags = redund ? buf[4] : 0;
	memset(c->data, 0, sizeof(c->data));
	memcpy(c->data, buf + hdr, UENV_SIZE - hdr);
}

/* The value of name in a copy's data, or NULL. */
static const char *uenv_var(const ucopy *c, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < UENV_SIZE - 5 && c->data[i];) {
		const char *e = (const char *)c->data + i;

		if (strncmp(e, name, n) == 0 && e[n] == '=')
			return e + n + 1;
		i += strlen(e) + 1;
	}
	return NULL;
}

#define UENV_START "bootcmd=run pawl_boot\0BOOT_ORDER=A B\0BOOT_A_LEFT=3\0BOOT_B_LEFT=0\0"

/* A redundant environment in one file: copy 0 valid (flag 1) with slot a
 * good, copy 1 never written (a bad CRC). */
static void uboot_init(struct fx *f, bool redund)
{
	char cfg[2 * PATH_MAX + 64];

	uenv_put(f->envfile, 0, redund, 1, UENV_START, sizeof(UENV_START), true);
	if (redund) {
		uenv_put(f->envfile, UENV_SIZE, true, 0, "", 1, false);
		snprintf(cfg, sizeof(cfg), "# test environment\n%s 0x0000 0x4000\n%s 0x4000 0x4000\n",
			 f->envfile, f->envfile);
	} else {
		snprintf(cfg, sizeof(cfg), "%s 0x0000 0x4000\n", f->envfile);
	}
	t_write_file(f->fwcfg, cfg, strlen(cfg));
}

static const char *spec_of(struct fx *f)
{
	static char spec[PATH_MAX + 8];

	snprintf(spec, sizeof(spec), "uboot:%s", f->fwcfg);
	return spec;
}

static boot_backend *open_uboot(struct fx *f, unsigned tries)
{
	char spec[PATH_MAX + 8];
	boot_opts o = BOOT_OPTS_INIT;
	boot_backend *b = NULL;

	o.tries = tries;
	snprintf(spec, sizeof(spec), "uboot:%s", f->fwcfg);
	t_ok(boot_open(spec, &o, &b));
	assert_string_equal(boot_backend_name(b), "uboot");
	return b;
}

/* The copy in force, as U-Boot picks it. */
static void uenv_current(struct fx *f, ucopy *out)
{
	ucopy c0, c1;

	uenv_get_copy(f->envfile, 0, true, &c0);
	uenv_get_copy(f->envfile, UENV_SIZE, true, &c1);
	assert_true(c0.crc_ok || c1.crc_ok);
	if (c0.crc_ok && (!c1.crc_ok || (unsigned char)(c0.flags - c1.flags) < 128))
		*out = c0;
	else
		*out = c1;
}

/* --- custom scripts --- */

static void write_script(const char *path, const char *body, mode_t mode)
{
	char text[8192];

	snprintf(text, sizeof(text), "#!/bin/sh\nd=$(dirname \"$0\")\n%s", body);
	unlink(path);
	t_write_file(path, text, strlen(text));
	assert_int_equal(chmod(path, mode), 0);
}

/* A script that keeps the slots' state in files beside it. */
static const char custom_ok[] =
	"echo \"$*\" >>\"$d/calls\"\n"
	"case \"$1\" in\n"
	"get-primary) cat \"$d/primary\" ;;\n"
	"set-primary) echo \"$2\" >\"$d/primary\"; echo chatter ;;\n"
	"get-state) cat \"$d/state-$2\" ;;\n"
	"set-state) echo \"$3\" >\"$d/state-$2\" ;;\n"
	"get-current) cat \"$d/current\" ;;\n"
	"*) echo \"unknown verb $1\" >&2; exit 64 ;;\n"
	"esac\n";

static void custom_init(struct fx *f, const char *body)
{
	char p[PATH_MAX + 16];

	write_script(f->script, body, 0755);
	snprintf(p, sizeof(p), "%s/primary", f->dir);
	t_write_file(p, "a\n", 2);
	snprintf(p, sizeof(p), "%s/state-a", f->dir);
	t_write_file(p, "good\n", 5);
	snprintf(p, sizeof(p), "%s/state-b", f->dir);
	t_write_file(p, "bad\n", 4);
	snprintf(p, sizeof(p), "%s/current", f->dir);
	t_write_file(p, "a\n", 2);
}

static boot_backend *open_custom(struct fx *f, unsigned timeout_ms)
{
	char spec[PATH_MAX + 8];
	boot_opts o = BOOT_OPTS_INIT;
	boot_backend *b = NULL;

	o.timeout_ms = timeout_ms;
	snprintf(spec, sizeof(spec), "custom:%s", f->script);
	t_ok(boot_open(spec, &o, &b));
	return b;
}

static char *file_text(struct fx *f, const char *name)
{
	char p[PATH_MAX + 64];

	snprintf(p, sizeof(p), "%s/%s", f->dir, name);
	return t_read_file(p, NULL);
}

static void assert_msg_has(const char *needle)
{
	const char *m = pawl_error_last()->message;

	if (!strstr(m, needle))
		fail_msg("error message \"%s\" lacks \"%s\"", m, needle);
}

static void confirm_slot(boot_backend *b, boot_slot s)
{
	t_ok(boot_set_state(b, s, BOOT_GOOD));
}

/* ---------------- slots, specs ---------------- */

static void test_names(void **state)
{
	boot_slot s;

	(void)state;
	assert_string_equal(boot_slot_name(BOOT_SLOT_A), "a");
	assert_string_equal(boot_slot_name(BOOT_SLOT_B), "b");
	assert_int_equal(boot_slot_other(BOOT_SLOT_A), BOOT_SLOT_B);
	assert_int_equal(boot_slot_other(BOOT_SLOT_B), BOOT_SLOT_A);
	t_ok(boot_slot_parse("b", &s));
	assert_int_equal(s, BOOT_SLOT_B);
	t_fails(boot_slot_parse("B", &s), PAWL_E_INVALID);
	t_fails(boot_slot_parse("c", &s), PAWL_E_INVALID);
	t_fails(boot_slot_parse("", &s), PAWL_E_INVALID);
	assert_string_equal(boot_state_name(BOOT_GOOD), "good");
	assert_string_equal(boot_state_name(BOOT_BAD), "bad");
}

static void test_spec(void **state)
{
	struct fx *f = *state;
	boot_backend *b = NULL;
	boot_opts o = BOOT_OPTS_INIT;
	char spec[PATH_MAX + 16];

	t_fails(boot_open("grub", NULL, &b), PAWL_E_INVALID);
	t_fails(boot_open("grub:boot/grubenv", NULL, &b), PAWL_E_INVALID);
	t_fails(boot_open("grub:", NULL, &b), PAWL_E_INVALID);
	t_fails(boot_open("lilo:/etc/lilo.conf", NULL, &b), PAWL_E_INVALID);
	assert_msg_has("not one of grub, uboot, custom");
	/* The fake backend is for tests only: no string reaches it. */
	t_fails(boot_open("fake:/x", NULL, &b), PAWL_E_INVALID);
	t_fails(boot_open("GRUB:/boot/grub/grubenv", NULL, &b), PAWL_E_INVALID);
	snprintf(spec, sizeof(spec), "custom:%s/none", f->dir);
	t_fails(boot_open(spec, NULL, &b), PAWL_E_NOT_FOUND);
	snprintf(spec, sizeof(spec), "grub:%s/none", f->dir);
	t_fails(boot_open(spec, NULL, &b), PAWL_E_NOT_FOUND);
	o.tries = BOOT_MAX_TRIES + 1;
	t_fails(boot_open("grub:/x", &o, &b), PAWL_E_INVALID);
	o = (boot_opts)BOOT_OPTS_INIT;
	o.version = 99;
	t_fails(boot_open("grub:/x", &o, &b), PAWL_E_INVALID);
	o = (boot_opts)BOOT_OPTS_INIT;
	o.grub_editenv = "grub-editenv";
	t_fails(boot_open("grub:/x", &o, &b), PAWL_E_INVALID);
	assert_null(b);
	boot_free(NULL);
}

/* ---------------- the kernel command line ---------------- */

static int slot_of(const char *text, boot_slot *s)
{
	pawl_error_clear();
	return boot_cmdline_slot(text, strlen(text), s);
}

static void test_cmdline(void **state)
{
	boot_slot s = BOOT_SLOT_NONE;

	(void)state;
	t_ok(slot_of("BOOT_IMAGE=/vmlinuz root=/dev/sda2 ro quiet pawl.slot=a\n", &s));
	assert_int_equal(s, BOOT_SLOT_A);
	t_ok(slot_of("pawl.slot=b", &s));
	assert_int_equal(s, BOOT_SLOT_B);
	t_ok(slot_of("\tquiet\npawl.slot=b\n", &s));
	assert_int_equal(s, BOOT_SLOT_B);
	/* absent */
	t_fails(slot_of("root=/dev/sda2 ro quiet\n", &s), PAWL_E_NOT_FOUND);
	assert_msg_has("--booted-slot");
	t_fails(slot_of("", &s), PAWL_E_NOT_FOUND);
	/* other parameters that merely look alike */
	t_fails(slot_of("pawl.slotx=a", &s), PAWL_E_NOT_FOUND);
	t_fails(slot_of("xpawl.slot=a mypawl.slot=b pawl.slots=a", &s), PAWL_E_NOT_FOUND);
	t_fails(slot_of("pawl_slot=a", &s), PAWL_E_NOT_FOUND);
	/* twice: the same slot is fine, two slots are ambiguous */
	t_ok(slot_of("pawl.slot=a quiet pawl.slot=a", &s));
	assert_int_equal(s, BOOT_SLOT_A);
	t_fails(slot_of("pawl.slot=a pawl.slot=b", &s), PAWL_E_FORMAT);
	assert_msg_has("ambiguous");
	/* not a slot */
	t_fails(slot_of("pawl.slot=c", &s), PAWL_E_FORMAT);
	assert_msg_has("pawl.slot=c");
	t_fails(slot_of("pawl.slot=", &s), PAWL_E_FORMAT);
	t_fails(slot_of("pawl.slot", &s), PAWL_E_FORMAT);
	t_fails(slot_of("pawl.slot=A", &s), PAWL_E_FORMAT);
	t_fails(slot_of("pawl.slot=ab", &s), PAWL_E_FORMAT);
	t_fails(slot_of("pawl.slot=a,b", &s), PAWL_E_FORMAT);
	/* quoting as the kernel does it */
	t_ok(slot_of("pawl.slot=\"b\"", &s));
	assert_int_equal(s, BOOT_SLOT_B);
	t_ok(slot_of("\"pawl.slot=a\"", &s));
	assert_int_equal(s, BOOT_SLOT_A);
	t_fails(slot_of("init=\"/bin/sh pawl.slot=b\" quiet", &s), PAWL_E_NOT_FOUND);
	t_ok(slot_of("dyndbg=\"file x.c +p\" pawl.slot=b", &s));
	assert_int_equal(s, BOOT_SLOT_B);
	/* after "--" the words are init's */
	t_fails(slot_of("quiet -- pawl.slot=a", &s), PAWL_E_NOT_FOUND);
	t_ok(slot_of("pawl.slot=b -- pawl.slot=a", &s));
	assert_int_equal(s, BOOT_SLOT_B);
	/* RAUC's parameter */
	t_ok(slot_of("rauc.slot=A", &s));
	assert_int_equal(s, BOOT_SLOT_A);
	t_ok(slot_of("rauc.slot=B pawl.slot=b", &s));
	assert_int_equal(s, BOOT_SLOT_B);
	t_fails(slot_of("rauc.slot=R", &s), PAWL_E_FORMAT);
	t_fails(slot_of("rauc.slot=a", &s), PAWL_E_FORMAT);
	t_fails(slot_of("rauc.slot=A pawl.slot=b", &s), PAWL_E_FORMAT);
	/* a NUL byte is no command line */
	t_fails(boot_cmdline_slot("pawl.slot=a\0x", 13, &s), PAWL_E_FORMAT);
}

static void test_cmdline_file(void **state)
{
	struct fx *f = *state;
	char p[PATH_MAX + 16];
	boot_slot s = BOOT_SLOT_NONE;

	snprintf(p, sizeof(p), "%s/cmdline", f->dir);
	t_write_file(p, "console=ttyS0 pawl.slot=b\n", 26);
	t_ok(boot_read_cmdline(p, &s));
	assert_int_equal(s, BOOT_SLOT_B);
	t_write_file(p, "console=ttyS0 pawl.slot=x\n", 26);
	t_fails(boot_read_cmdline(p, &s), PAWL_E_FORMAT);
	assert_msg_has(p);
	snprintf(p, sizeof(p), "%s/none", f->dir);
	t_fails(boot_read_cmdline(p, &s), PAWL_E_NOT_FOUND);
}

/* ---------------- the fake backend ---------------- */

static void test_fake(void **state)
{
	boot_backend *b = NULL;
	boot_slot s;
	boot_state st;

	(void)state;
	t_ok(boot_fake_new(&b));
	assert_string_equal(boot_backend_name(b), "fake");
	assert_string_equal(boot_fake_log(b), "");
	t_ok(boot_get_primary(b, &s));
	assert_int_equal(s, BOOT_SLOT_A);
	t_ok(boot_get_state(b, BOOT_SLOT_B, &st));
	assert_int_equal(st, BOOT_BAD);
	t_ok(boot_set_primary(b, BOOT_SLOT_B));
	t_ok(boot_set_state(b, BOOT_SLOT_B, BOOT_GOOD));
	t_ok(boot_get_booted(b, BOOT_SLOT_NONE, &s));
	assert_int_equal(s, BOOT_SLOT_A);
	/* the override wins, and the backend is not asked */
	t_ok(boot_get_booted(b, BOOT_SLOT_B, &s));
	assert_int_equal(s, BOOT_SLOT_B);
	t_ok(boot_get_primary(b, &s));
	assert_int_equal(s, BOOT_SLOT_B);
	assert_string_equal(boot_fake_log(b), "get-primary\n"
					      "get-state b\n"
					      "set-primary b\n"
					      "set-state b good\n"
					      "get-current\n"
					      "get-primary\n");
	boot_fake_clear_log(b);
	/* an armed failure fails once, is logged, changes nothing */
	boot_fake_fail_next(b, "set-primary", PAWL_E_IO);
	t_fails(boot_set_primary(b, BOOT_SLOT_A), PAWL_E_IO);
	t_ok(boot_get_primary(b, &s));
	assert_int_equal(s, BOOT_SLOT_B);
	t_ok(boot_set_primary(b, BOOT_SLOT_A));
	boot_fake_set_booted(b, BOOT_SLOT_B);
	t_ok(boot_get_booted(b, BOOT_SLOT_NONE, &s));
	assert_int_equal(s, BOOT_SLOT_B);
	assert_string_equal(boot_fake_log(b), "set-primary a\nget-primary\nset-primary a\n"
					      "get-current\n");
	/* arguments are checked before any backend sees them */
	t_fails(boot_set_primary(b, (boot_slot)2), PAWL_E_INVALID);
	t_fails(boot_set_state(b, BOOT_SLOT_A, (boot_state)7), PAWL_E_INVALID);
	t_fails(boot_get_state(b, BOOT_SLOT_NONE, &st), PAWL_E_INVALID);
	t_fails(boot_get_booted(b, (boot_slot)5, &s), PAWL_E_INVALID);
	assert_string_equal(boot_fake_log(b), "set-primary a\nget-primary\nset-primary a\n"
					      "get-current\n");
	boot_free(b);
}

/* ---------------- GRUB ---------------- */

static void test_grub_roundtrip(void **state)
{
	struct fx *f = *state;
	boot_backend *b;
	boot_slot s;
	boot_state st;
	struct stat before, after;
	char tmp[PATH_MAX + 32];

	grub_init(f);
	assert_int_equal(chmod(f->grubenv, 0640), 0);
	b = open_grub(f);
	t_ok(boot_get_primary(b, &s));
	assert_int_equal(s, BOOT_SLOT_A);
	t_ok(boot_get_state(b, BOOT_SLOT_A, &st));
	assert_int_equal(st, BOOT_GOOD);
	t_ok(boot_get_state(b, BOOT_SLOT_B, &st));
	assert_int_equal(st, BOOT_BAD);

	/* set-primary b: RAUC's three variables, in one rename */
	assert_int_equal(stat(f->grubenv, &before), 0);
	t_ok(boot_set_primary(b, BOOT_SLOT_B));
	assert_string_equal(grub_list(f->grubenv), "ORDER=B A\nA_OK=1\nA_TRY=0\nB_OK=1\nB_TRY=0\n");
	assert_int_equal(stat(f->grubenv, &after), 0);
	assert_true(after.st_ino != before.st_ino);
	assert_int_equal(after.st_mode & 07777, 0640);
	snprintf(tmp, sizeof(tmp), "%s/.grubenv.pawl-new", f->dir);
	assert_int_equal(access(tmp, F_OK), -1);
	t_ok(boot_get_primary(b, &s));
	assert_int_equal(s, BOOT_SLOT_B);
	t_ok(boot_get_state(b, BOOT_SLOT_B, &st));
	assert_int_equal(st, BOOT_GOOD);

	t_ok(boot_set_state(b, BOOT_SLOT_B, BOOT_BAD));
	assert_string_equal(grub_list(f->grubenv), "ORDER=B A\nA_OK=1\nA_TRY=0\nB_OK=0\nB_TRY=0\n");
	t_ok(boot_get_state(b, BOOT_SLOT_B, &st));
	assert_int_equal(st, BOOT_BAD);
	t_ok(boot_get_primary(b, &s));
	assert_int_equal(s, BOOT_SLOT_A);
	t_ok(boot_set_state(b, BOOT_SLOT_B, BOOT_GOOD));
	t_ok(boot_get_state(b, BOOT_SLOT_B, &st));
	assert_int_equal(st, BOOT_GOOD);

	/* A slot that has had its try (TRY=1) is not good, as in RAUC. */
	grub_editenv(f->grubenv, "set", "B_TRY=1", NULL, NULL, NULL, NULL);
	t_ok(boot_get_state(b, BOOT_SLOT_B, &st));
	assert_int_equal(st, BOOT_BAD);
	t_ok(boot_get_primary(b, &s));
	assert_int_equal(s, BOOT_SLOT_A);
	/* Not in ORDER: bad, whatever its flags. */
	grub_editenv(f->grubenv, "set", "ORDER=A", "B_TRY=0", NULL, NULL, NULL);
	t_ok(boot_get_state(b, BOOT_SLOT_B, &st));
	assert_int_equal(st, BOOT_BAD);
	/* Neither bootable */
	grub_editenv(f->grubenv, "set", "ORDER=B A", "A_OK=0", "B_OK=0", NULL, NULL);
	t_fails(boot_get_primary(b, &s), PAWL_E_NOT_FOUND);
	assert_msg_has(f->grubenv);
	/* Other variables are kept. */
	grub_editenv(f->grubenv, "set", "saved_entry=2", NULL, NULL, NULL, NULL);
	t_ok(boot_set_primary(b, BOOT_SLOT_A));
	assert_non_null(strstr(grub_list(f->grubenv), "saved_entry=2\n"));
	boot_free(b);
}

static void test_grub_bad_env(void **state)
{
	struct fx *f = *state;
	boot_backend *b;
	boot_slot s;
	boot_state st;
	char *before;
	size_t blen;

	grub_init(f);
	b = open_grub(f);
	/* Values GRUB's script would not read as we do. */
	grub_editenv(f->grubenv, "set", "A_OK=01", NULL, NULL, NULL, NULL);
	t_fails(boot_get_state(b, BOOT_SLOT_A, &st), PAWL_E_FORMAT);
	assert_msg_has("A_OK");
	assert_msg_has(f->grubenv);
	grub_editenv(f->grubenv, "set", "A_OK=1", "ORDER=A C", NULL, NULL, NULL);
	t_fails(boot_get_primary(b, &s), PAWL_E_FORMAT);
	assert_msg_has("ORDER");
	grub_editenv(f->grubenv, "set", "ORDER=A A", NULL, NULL, NULL, NULL);
	t_fails(boot_get_primary(b, &s), PAWL_E_FORMAT);
	grub_editenv(f->grubenv, "set", "ORDER=A B", NULL, NULL, NULL, NULL);
	grub_editenv(f->grubenv, "unset", "B_TRY", NULL, NULL, NULL, NULL);
	grub_editenv(f->grubenv, "set", "A_OK=0", NULL, NULL, NULL, NULL);
	t_fails(boot_get_primary(b, &s), PAWL_E_NOT_FOUND);
	assert_msg_has("B_TRY");
	/* A value with a newline cannot hide a variable in the list. */
	grub_editenv(f->grubenv, "set", "note=x\nA_TRY=1", NULL, NULL, NULL, NULL);
	t_fails(boot_get_state(b, BOOT_SLOT_A, &st), PAWL_E_FORMAT);

	/* Corrupt: refused for reading and writing, and left as it is. */
	t_write_file(f->grubenv, "# not a GRUB block\nORDER=A B\n", 29);
	t_fails(boot_get_primary(b, &s), PAWL_E_FORMAT);
	assert_msg_has("not a GRUB environment block");
	t_fails(boot_set_primary(b, BOOT_SLOT_B), PAWL_E_FORMAT);
	before = t_read_file(f->grubenv, &blen);
	assert_int_equal(blen, 29);
	free(before);

	/* Missing: never created (grub-editenv would create it silently). */
	unlink(f->grubenv);
	t_fails(boot_get_primary(b, &s), PAWL_E_NOT_FOUND);
	t_fails(boot_set_primary(b, BOOT_SLOT_B), PAWL_E_NOT_FOUND);
	assert_msg_has("grub-editenv FILE create");
	assert_int_equal(access(f->grubenv, F_OK), -1);
	/* A link in its place is not followed. */
	assert_int_equal(symlink("/etc/hostname", f->grubenv), 0);
	t_fails(boot_set_state(b, BOOT_SLOT_A, BOOT_GOOD), PAWL_E_IO);
	boot_free(b);
}

/* grub-editenv that truncates the block it was given, then dies: what a
 * power cut inside grub-editenv's in-place rewrite leaves. */
static void test_grub_atomic(void **state)
{
	struct fx *f = *state;
	char tool[PATH_MAX + 16], spec[PATH_MAX + 8], tmp[PATH_MAX + 32];
	boot_opts o = BOOT_OPTS_INIT;
	boot_backend *b = NULL;
	char *before, *after;
	boot_slot s;

	grub_init(f);
	snprintf(tool, sizeof(tool), "%s/editenv", f->dir);
	write_script(tool,
		     "case \"$2\" in list) exec " GRUB_EDITENV " \"$1\" list ;; esac\n"
		     ": >\"$1\"\necho 'grub-editenv: error: cut short.' >&2\nexit 1\n",
		     0755);
	o.grub_editenv = tool;
	snprintf(spec, sizeof(spec), "grub:%s", f->grubenv);
	t_ok(boot_open(spec, &o, &b));
	before = strdup(grub_list(f->grubenv));
	t_fails(boot_set_primary(b, BOOT_SLOT_B), PAWL_E_IO);
	assert_msg_has("set-primary b");
	assert_msg_has("exited with status 1");
	assert_msg_has("cut short");
	/* The block GRUB reads is whole and unchanged; the copy is gone. */
	after = grub_list(f->grubenv);
	assert_string_equal(after, before);
	snprintf(tmp, sizeof(tmp), "%s/.grubenv.pawl-new", f->dir);
	assert_int_equal(access(tmp, F_OK), -1);
	t_ok(boot_get_primary(b, &s));
	assert_int_equal(s, BOOT_SLOT_A);
	assert_int_equal(boot_once("grub", f->grubenv), 'a');
	/* Booted and not yet confirmed (A_TRY=1): as in RAUC, no slot is
	 * "primary" until confirm marks it good again. */
	t_fails(boot_get_primary(b, &s), PAWL_E_NOT_FOUND);
	free(before);
	boot_free(b);

	/* A copy left by a killed run is replaced, not trusted. */
	b = open_grub(f);
	confirm_slot(b, BOOT_SLOT_A);
	t_write_file(tmp, "stale", 5);
	t_ok(boot_set_primary(b, BOOT_SLOT_B));
	assert_int_equal(access(tmp, F_OK), -1);
	t_ok(boot_get_primary(b, &s));
	assert_int_equal(s, BOOT_SLOT_B);
	boot_free(b);
}

/* ---------------- U-Boot ---------------- */

static void test_uboot_roundtrip(void **state)
{
	struct fx *f = *state;
	boot_backend *b;
	boot_slot s;
	boot_state st;
	ucopy c0, c1;

	uboot_init(f, true);
	b = open_uboot(f, 0);
	t_ok(boot_get_primary(b, &s));
	assert_int_equal(s, BOOT_SLOT_A);
	t_ok(boot_get_state(b, BOOT_SLOT_A, &st));
	assert_int_equal(st, BOOT_GOOD);
	t_ok(boot_get_state(b, BOOT_SLOT_B, &st));
	assert_int_equal(st, BOOT_BAD);

	/* set-primary b: written to the other copy, flag bumped, in one go */
	t_ok(boot_set_primary(b, BOOT_SLOT_B));
	uenv_get_copy(f->envfile, 0, true, &c0);
	uenv_get_copy(f->envfile, UENV_SIZE, true, &c1);
	assert_true(c0.crc_ok);
	assert_int_equal(c0.flags, 1);
	assert_string_equal(uenv_var(&c0, "BOOT_ORDER"), "A B"); /* untouched */
	assert_true(c1.crc_ok);
	assert_int_equal(c1.flags, 2);
	assert_string_equal(uenv_var(&c1, "BOOT_ORDER"), "B A");
	assert_string_equal(uenv_var(&c1, "BOOT_B_LEFT"), "3");
	assert_string_equal(uenv_var(&c1, "BOOT_A_LEFT"), "3");
	assert_string_equal(uenv_var(&c1, "bootcmd"), "run pawl_boot");
	t_ok(boot_get_primary(b, &s));
	assert_int_equal(s, BOOT_SLOT_B);
	t_ok(boot_get_state(b, BOOT_SLOT_B, &st));
	assert_int_equal(st, BOOT_GOOD);

	/* bad: no tries, out of BOOT_ORDER (RAUC); back to copy 0, flag 3 */
	t_ok(boot_set_state(b, BOOT_SLOT_B, BOOT_BAD));
	uenv_current(f, &c0);
	assert_int_equal(c0.flags, 3);
	assert_string_equal(uenv_var(&c0, "BOOT_ORDER"), "A");
	assert_string_equal(uenv_var(&c0, "BOOT_B_LEFT"), "0");
	t_ok(boot_get_state(b, BOOT_SLOT_B, &st));
	assert_int_equal(st, BOOT_BAD);
	t_ok(boot_get_primary(b, &s));
	assert_int_equal(s, BOOT_SLOT_A);

	/* good: tries back, and back into BOOT_ORDER, last */
	t_ok(boot_set_state(b, BOOT_SLOT_B, BOOT_GOOD));
	uenv_current(f, &c0);
	assert_string_equal(uenv_var(&c0, "BOOT_ORDER"), "A B");
	assert_string_equal(uenv_var(&c0, "BOOT_B_LEFT"), "3");
	t_ok(boot_get_state(b, BOOT_SLOT_B, &st));
	assert_int_equal(st, BOOT_GOOD);
	t_ok(boot_get_primary(b, &s));
	assert_int_equal(s, BOOT_SLOT_A);
	boot_free(b);

	/* tries from the options, written in hexadecimal */
	b = open_uboot(f, 12);
	t_ok(boot_set_primary(b, BOOT_SLOT_B));
	uenv_current(f, &c0);
	assert_string_equal(uenv_var(&c0, "BOOT_B_LEFT"), "c");
	assert_string_equal(uenv_var(&c0, "BOOT_ORDER"), "B A");
	boot_free(b);
}

static void test_uboot_single_copy(void **state)
{
	struct fx *f = *state;
	boot_backend *b;
	boot_slot s;
	ucopy c;

	uboot_init(f, false);
	b = open_uboot(f, 0);
	t_ok(boot_set_primary(b, BOOT_SLOT_B));
	uenv_get_copy(f->envfile, 0, false, &c);
	assert_true(c.crc_ok);
	assert_string_equal(uenv_var(&c, "BOOT_ORDER"), "B A");
	t_ok(boot_get_primary(b, &s));
	assert_int_equal(s, BOOT_SLOT_B);
	boot_free(b);
}

static void test_uboot_bad_env(void **state)
{
	struct fx *f = *state;
	boot_backend *b;
	boot_slot s;
	boot_state st;
	char *before, *after;
	size_t blen, alen;
	char cfg[PATH_MAX + 64];

	uboot_init(f, true);
	b = open_uboot(f, 0);

	/* One copy bad: the other is in force (redundancy over a file). */
	uenv_put(f->envfile, UENV_SIZE, true, 9, "BOOT_ORDER=B A\0BOOT_B_LEFT=1\0BOOT_A_LEFT=1\0",
		 sizeof("BOOT_ORDER=B A\0BOOT_B_LEFT=1\0BOOT_A_LEFT=1\0"), false);
	t_ok(boot_get_primary(b, &s));
	assert_int_equal(s, BOOT_SLOT_A);
	/* both good: the newer flag wins */
	uenv_put(f->envfile, UENV_SIZE, true, 9, "BOOT_ORDER=B A\0BOOT_B_LEFT=1\0BOOT_A_LEFT=1\0",
		 sizeof("BOOT_ORDER=B A\0BOOT_B_LEFT=1\0BOOT_A_LEFT=1\0"), true);
	t_ok(boot_get_primary(b, &s));
	assert_int_equal(s, BOOT_SLOT_B);

	/* Neither copy valid: an error, and nothing is written. */
	uenv_put(f->envfile, 0, true, 1, UENV_START, sizeof(UENV_START), false);
	uenv_put(f->envfile, UENV_SIZE, true, 2, UENV_START, sizeof(UENV_START), false);
	before = t_read_file(f->envfile, &blen);
	t_fails(boot_get_primary(b, &s), PAWL_E_FORMAT);
	assert_msg_has("CRC");
	assert_msg_has(f->fwcfg);
	t_fails(boot_set_primary(b, BOOT_SLOT_B), PAWL_E_FORMAT);
	t_fails(boot_set_state(b, BOOT_SLOT_A, BOOT_GOOD), PAWL_E_FORMAT);
	after = t_read_file(f->envfile, &alen);
	assert_int_equal(alen, blen);
	assert_memory_equal(before, after, blen);
	free(before);
	free(after);

	/* Bad values */
#define PUT_ENV(s) uenv_put(f->envfile, 0, true, 50, s, sizeof(s), true)
	PUT_ENV("BOOT_ORDER=A B\0BOOT_A_LEFT=0x3\0BOOT_B_LEFT=0\0");
	t_fails(boot_get_state(b, BOOT_SLOT_A, &st), PAWL_E_FORMAT);
	assert_msg_has("BOOT_A_LEFT");
	PUT_ENV("BOOT_ORDER=A B\0BOOT_A_LEFT=zz\0BOOT_B_LEFT=0\0");
	t_fails(boot_get_primary(b, &s), PAWL_E_FORMAT);
	PUT_ENV("BOOT_ORDER=A B\0BOOT_A_LEFT=\0BOOT_B_LEFT=0\0");
	t_fails(boot_get_primary(b, &s), PAWL_E_FORMAT);
	PUT_ENV("BOOT_ORDER=A B\0BOOT_A_LEFT=123456789\0BOOT_B_LEFT=0\0");
	t_fails(boot_get_primary(b, &s), PAWL_E_FORMAT);
	PUT_ENV("BOOT_ORDER=A A\0BOOT_A_LEFT=3\0BOOT_B_LEFT=0\0");
	t_fails(boot_get_primary(b, &s), PAWL_E_FORMAT);
	PUT_ENV("BOOT_ORDER=A R\0BOOT_A_LEFT=3\0BOOT_B_LEFT=0\0");
	t_fails(boot_get_primary(b, &s), PAWL_E_FORMAT);
	/* Missing variables */
	PUT_ENV("BOOT_ORDER=B A\0BOOT_A_LEFT=3\0");
	t_fails(boot_get_primary(b, &s), PAWL_E_NOT_FOUND);
	assert_msg_has("BOOT_B_LEFT");
	PUT_ENV("bootcmd=boot\0");
	t_fails(boot_get_primary(b, &s), PAWL_E_NOT_FOUND);
	assert_msg_has("BOOT_ORDER");
	/* set-primary without a BOOT_ORDER yet: both slots, this one first */
	t_ok(boot_set_primary(b, BOOT_SLOT_B));
	t_ok(boot_get_primary(b, &s));
	assert_int_equal(s, BOOT_SLOT_B);
#undef PUT_ENV
	boot_free(b);

	/* The configuration names a device that is not there... */
	snprintf(cfg, sizeof(cfg), "%s/none 0x0000 0x4000\n", f->dir);
	t_write_file(f->fwcfg, cfg, strlen(cfg));
	t_fails(boot_open(spec_of(f), NULL, &b), PAWL_E_NOT_FOUND);
	assert_msg_has("/none");
	/* ... or one it then cannot use (a size past its end). */
	snprintf(cfg, sizeof(cfg), "%s 0x0000 0x40000\n", f->envfile);
	t_write_file(f->fwcfg, cfg, strlen(cfg));
	b = open_uboot(f, 0);
	t_fails(boot_get_primary(b, &s), PAWL_E_IO);
	assert_msg_has("cannot read it");
	boot_free(b);
}

static void test_uboot_owner(void **state)
{
	struct fx *f = *state;
	char cfg[2 * PATH_MAX], sub[PATH_MAX], env2[PATH_MAX + 16];
	boot_backend *b = NULL;

	uboot_init(f, true);
	/* fw_env.config itself */
	assert_int_equal(chmod(f->fwcfg, 0666), 0);
	t_fails(boot_open(spec_of(f), NULL, &b), PAWL_E_POLICY);
	assert_msg_has("fw_env.config");
	assert_int_equal(chmod(f->fwcfg, 0644), 0);
	/* the environment file it names */
	assert_int_equal(chmod(f->envfile, 0662), 0);
	t_fails(boot_open(spec_of(f), NULL, &b), PAWL_E_POLICY);
	assert_msg_has("U-Boot environment device");
	assert_int_equal(chmod(f->envfile, 0600), 0);
	t_ok(boot_open(spec_of(f), NULL, &b));
	boot_free(b);
	b = NULL;
	/* a file in a directory anyone may write: it could become a link */
	snprintf(sub, sizeof(sub), "%s/shared", f->dir);
	snprintf(env2, sizeof(env2), "%s/env", sub);
	assert_int_equal(mkdir(sub, 0777), 0);
	assert_int_equal(chmod(sub, 0777), 0);
	uenv_put(env2, 0, false, 0, UENV_START, sizeof(UENV_START), true);
	snprintf(cfg, sizeof(cfg), "%s 0x0000 0x4000\n", env2);
	t_write_file(f->fwcfg, cfg, strlen(cfg));
	t_fails(boot_open(spec_of(f), NULL, &b), PAWL_E_POLICY);
	assert_msg_has(sub);
	/* a relative name: where it leads depends on the cwd */
	t_write_file(f->fwcfg, "uboot.env 0x0000 0x4000\n", 24);
	t_fails(boot_open(spec_of(f), NULL, &b), PAWL_E_POLICY);
	/* a device node: its owner and mode are the system's */
	t_write_file(f->fwcfg, "# comment\n/dev/null 0x0000 0x4000\n", 34);
	t_ok(boot_open(spec_of(f), NULL, &b));
	boot_free(b);
}

static void test_uboot_lock(void **state)
{
	struct fx *f = *state;
	char lockdir[PATH_MAX], victim[PATH_MAX], lock[PATH_MAX + 32];
	struct stat st;
	int dfd;

	snprintf(lockdir, sizeof(lockdir), "%s/lock", f->dir);
	snprintf(victim, sizeof(victim), "%s/victim", f->dir);
	snprintf(lock, sizeof(lock), "%s/fw_printenv.lock", lockdir);
	assert_int_equal(mkdir(lockdir, 01777), 0);
	assert_int_equal(chmod(lockdir, 01777), 0);
	dfd = open(lockdir, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	/* missing: created, a regular file of ours */
	t_ok(uboot_check_lock_at(dfd, "fw_printenv.lock", lockdir));
	assert_int_equal(lstat(lock, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	t_ok(uboot_check_lock_at(dfd, "fw_printenv.lock", lockdir));
	/* a link planted there: refused, and its target untouched */
	unlink(lock);
	t_write_file(victim, "precious", 8);
	assert_int_equal(symlink(victim, lock), 0);
	t_fails(uboot_check_lock_at(dfd, "fw_printenv.lock", lockdir), PAWL_E_POLICY);
	assert_msg_has("symbolic link");
	assert_int_equal(stat(victim, &st), 0);
	assert_int_equal(st.st_size, 8);
	unlink(lock);
	/* someone else's file: they could swap it for a link later */
	if (geteuid() == 0) {
		t_write_file(lock, "", 0);
		assert_int_equal(chown(lock, 65534, 65534), 0);
		t_fails(uboot_check_lock_at(dfd, "fw_printenv.lock", lockdir), PAWL_E_POLICY);
		assert_msg_has("uid 65534");
		unlink(lock);
	}
	/* a directory anyone may write, without the sticky bit */
	assert_int_equal(chmod(lockdir, 0777), 0);
	t_fails(uboot_check_lock_at(dfd, "fw_printenv.lock", lockdir), PAWL_E_POLICY);
	assert_msg_has("not sticky");
	close(dfd);
}

/* ---------------- custom ---------------- */

static void test_custom_roundtrip(void **state)
{
	struct fx *f = *state;
	boot_backend *b;
	boot_slot s;
	boot_state st;
	char *calls, *env;
	char leak[PATH_MAX + 16], num[16];
	int fd;

	custom_init(f, custom_ok);
	b = open_custom(f, 0);
	assert_string_equal(boot_backend_name(b), "custom");
	t_ok(boot_get_primary(b, &s));
	assert_int_equal(s, BOOT_SLOT_A);
	t_ok(boot_set_primary(b, BOOT_SLOT_B));
	t_ok(boot_get_primary(b, &s));
	assert_int_equal(s, BOOT_SLOT_B);
	t_ok(boot_get_state(b, BOOT_SLOT_B, &st));
	assert_int_equal(st, BOOT_BAD);
	t_ok(boot_set_state(b, BOOT_SLOT_B, BOOT_GOOD));
	t_ok(boot_get_state(b, BOOT_SLOT_B, &st));
	assert_int_equal(st, BOOT_GOOD);
	t_ok(boot_set_state(b, BOOT_SLOT_A, BOOT_BAD));
	t_ok(boot_get_state(b, BOOT_SLOT_A, &st));
	assert_int_equal(st, BOOT_BAD);
	t_ok(boot_get_booted(b, BOOT_SLOT_NONE, &s));
	assert_int_equal(s, BOOT_SLOT_A);
	t_ok(boot_get_booted(b, BOOT_SLOT_B, &s)); /* override: not called */
	assert_int_equal(s, BOOT_SLOT_B);
	calls = file_text(f, "calls");
	assert_string_equal(calls, "get-primary\n"
				   "set-primary b\n"
				   "get-primary\n"
				   "get-state b\n"
				   "set-state b good\n"
				   "get-state b\n"
				   "set-state a bad\n"
				   "get-state a\n"
				   "get-current\n");
	free(calls);

	/* A fixed environment, and none of our descriptors. */
	fd = open("/dev/null", O_RDONLY); /* deliberately without O_CLOEXEC */
	assert_true(fd > 2);
	snprintf(num, sizeof(num), "%d", fd);
	snprintf(leak, sizeof(leak), "%s/leakfd", f->dir);
	t_write_file(leak, num, strlen(num));
	write_script(f->script,
		     "env >\"$d/env\"\n"
		     "if [ -e /proc/$$/fd/$(cat \"$d/leakfd\") ]; then echo leaked >\"$d/leak\"; fi\n"
		     "echo a\n",
		     0755);
	setenv("PAWL_BOOT_TEST_SECRET", "x", 1);
	t_ok(boot_get_primary(b, &s));
	unsetenv("PAWL_BOOT_TEST_SECRET");
	close(fd);
	env = file_text(f, "env");
	assert_non_null(strstr(env, "PATH=/usr/sbin:/usr/bin:/sbin:/bin\n"));
	assert_non_null(strstr(env, "LC_ALL=C\n"));
	assert_null(strstr(env, "PAWL_BOOT_TEST_SECRET"));
	assert_null(strstr(env, "PAWL_SRCDIR"));
	free(env);
	snprintf(leak, sizeof(leak), "%s/leak", f->dir);
	assert_int_equal(access(leak, F_OK), -1);
	boot_free(b);
}

static void test_custom_errors(void **state)
{
	struct fx *f = *state;
	boot_backend *b;
	boot_slot s;
	boot_state st;
	static const char *const garbage[] = {
		"A", "a ", " a", "a\\nb", "a\\n\\n", "", "slot a", "ok", "a\\r",
	};

	custom_init(f, custom_ok);
	b = open_custom(f, 0);

	/* non-zero exit: names the script, the verb, the status, stderr */
	write_script(f->script, "echo 'no such slot' >&2\nexit 3\n", 0755);
	t_fails(boot_set_primary(b, BOOT_SLOT_B), PAWL_E_IO);
	assert_msg_has(f->script);
	assert_msg_has("set-primary b");
	assert_msg_has("exited with status 3");
	assert_msg_has("no such slot");
	/* killed by a signal */
	write_script(f->script, "kill -9 $$\n", 0755);
	t_fails(boot_set_state(b, BOOT_SLOT_A, BOOT_GOOD), PAWL_E_IO);
	assert_msg_has("set-state a good");
	assert_msg_has("signal 9");

	/* answers that are not exactly one expected word */
	for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
		char body[128];

		snprintf(body, sizeof(body), "printf '%s'\n", garbage[i]);
		write_script(f->script, body, 0755);
		t_fails(boot_get_primary(b, &s), PAWL_E_FORMAT);
		assert_msg_has("get-primary");
		t_fails(boot_get_booted(b, BOOT_SLOT_NONE, &s), PAWL_E_FORMAT);
		assert_msg_has("get-current");
	}
	write_script(f->script, "echo a\n", 0755);
	t_fails(boot_get_state(b, BOOT_SLOT_A, &st), PAWL_E_FORMAT); /* a slot, not a state */
	assert_msg_has("want exactly \"good\" or \"bad\"");
	write_script(f->script, "echo good\n", 0755);
	t_fails(boot_get_primary(b, &s), PAWL_E_FORMAT);
	/* too much output */
	write_script(f->script, "head -c 100000 /dev/zero | tr '\\0' a\n", 0755);
	t_fails(boot_get_primary(b, &s), PAWL_E_LIMIT);
	/* not executable */
	write_script(f->script, "echo a\n", 0644);
	t_fails(boot_get_primary(b, &s), PAWL_E_IO);
	assert_msg_has("cannot run");
	boot_free(b);
}

/* The state of a process: its /proc/PID/stat letter, or 0 when gone. */
static char proc_state(pid_t pid)
{
	char p[64], buf[512], *rp;
	FILE *fp;
	size_t n;

	snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
	fp = fopen(p, "r");
	if (!fp)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	rp = strrchr(buf, ')');
	return rp && rp[1] == ' ' ? rp[2] : 0;
}

static void test_custom_timeout(void **state)
{
	struct fx *f = *state;
	boot_backend *b;
	boot_slot s;
	char *pidtext;
	pid_t pids[2];
	bool gone = false;

	/* The script hangs, and so does a child it started. */
	custom_init(f, "sleep 600 &\necho \"$! $$\" >\"$d/pids\"\nwait\n");
	b = open_custom(f, 300);
	t_fails(boot_get_primary(b, &s), PAWL_E_LIMIT);
	assert_msg_has("timed out after 300 ms");
	assert_msg_has(f->script);
	/* Both were killed: the call leaves nothing running. (Reaping the
	 * orphan is init's, so wait for that, boundedly.) */
	pidtext = file_text(f, "pids");
	{
		long a = strtol(pidtext, NULL, 10), c = strtol(strchr(pidtext, ' ') + 1, NULL, 10);

		pids[0] = (pid_t)a;
		pids[1] = (pid_t)c;
	}
	free(pidtext);
	for (int i = 0; i < 500 && !gone; i++) {
		char s0 = proc_state(pids[0]), s1 = proc_state(pids[1]);

		gone = (s0 == 0 || s0 == 'Z') && (s1 == 0 || s1 == 'Z');
		if (!gone) {
			struct timespec ts = { 0, 10 * 1000000L };

			nanosleep(&ts, NULL);
		}
	}
	if (!gone) {
		kill(pids[0], SIGKILL);
		kill(pids[1], SIGKILL);
		fail_msg("the hung script or its child outlived the call");
	}
	boot_free(b);
}

static void test_custom_owner(void **state)
{
	struct fx *f = *state;
	char spec[PATH_MAX + 8], sub[PATH_MAX + 16], inner[PATH_MAX + 32];
	boot_backend *b = NULL;

	custom_init(f, custom_ok);
	snprintf(spec, sizeof(spec), "custom:%s", f->script);
	/* anyone may rewrite the script */
	assert_int_equal(chmod(f->script, 0777), 0);
	t_fails(boot_open(spec, NULL, &b), PAWL_E_POLICY);
	assert_msg_has("writable by group or others");
	assert_int_equal(chmod(f->script, 0775), 0);
	t_fails(boot_open(spec, NULL, &b), PAWL_E_POLICY);
	assert_int_equal(chmod(f->script, 0755), 0);
	t_ok(boot_open(spec, NULL, &b));
	boot_free(b);
	b = NULL;
	/* anyone may replace it: its directory is writable, not sticky */
	assert_int_equal(chmod(f->dir, 0777), 0);
	t_fails(boot_open(spec, NULL, &b), PAWL_E_POLICY);
	assert_msg_has(f->dir);
	/* sticky (like /tmp): others cannot move our entry */
	assert_int_equal(chmod(f->dir, 01777), 0);
	t_ok(boot_open(spec, NULL, &b));
	boot_free(b);
	b = NULL;
	assert_int_equal(chmod(f->dir, 0700), 0);
	/* a directory further up, through a link */
	snprintf(sub, sizeof(sub), "%s/sub", f->dir);
	snprintf(inner, sizeof(inner), "%s/sub/script", f->dir);
	assert_int_equal(mkdir(sub, 0777), 0);
	assert_int_equal(chmod(sub, 0777), 0);
	write_script(inner, "echo a\n", 0755);
	assert_int_equal(unlink(f->script), 0);
	assert_int_equal(symlink(inner, f->script), 0);
	t_fails(boot_open(spec, NULL, &b), PAWL_E_POLICY);
	assert_msg_has(sub);
	assert_int_equal(chmod(sub, 0755), 0);
	t_ok(boot_open(spec, NULL, &b));
	boot_free(b);
	b = NULL;
	/* someone else's script */
	if (geteuid() == 0) {
		assert_int_equal(chown(inner, 65534, 65534), 0);
		t_fails(boot_open(spec, NULL, &b), PAWL_E_POLICY);
		assert_msg_has("uid 65534");
	}
	/* not a file */
	snprintf(spec, sizeof(spec), "custom:%s", f->dir);
	t_fails(boot_open(spec, NULL, &b), PAWL_E_POLICY);
	assert_null(b);
}

static void test_grub_owner(void **state)
{
	struct fx *f = *state;
	char spec[PATH_MAX + 8];
	boot_backend *b = NULL;

	grub_init(f);
	snprintf(spec, sizeof(spec), "grub:%s", f->grubenv);
	/* grub-editenv runs as root on a name in this directory */
	assert_int_equal(chmod(f->dir, 0777), 0);
	t_fails(boot_open(spec, NULL, &b), PAWL_E_POLICY);
	assert_int_equal(chmod(f->dir, 0755), 0);
	assert_int_equal(chmod(f->grubenv, 0666), 0);
	t_fails(boot_open(spec, NULL, &b), PAWL_E_POLICY);
	assert_int_equal(chmod(f->grubenv, 0644), 0);
	t_ok(boot_open(spec, NULL, &b));
	boot_free(b);
	b = NULL;
	/* grub-editenv itself runs as root: the same rule */
	{
		boot_opts o = BOOT_OPTS_INIT;
		char tool[PATH_MAX + 16];

		snprintf(tool, sizeof(tool), "%s/editenv", f->dir);
		write_script(tool, "exec " GRUB_EDITENV " \"$@\"\n", 0757);
		o.grub_editenv = tool;
		t_fails(boot_open(spec, &o, &b), PAWL_E_POLICY);
		assert_msg_has("grub-editenv");
		assert_int_equal(chmod(tool, 0755), 0);
		t_ok(boot_open(spec, &o, &b));
		boot_free(b);
	}
}

/* ---------------- boot counting end to end ---------------- */

/* What `pawl confirm` will do on the running slot: mark it good. */
static void confirm(boot_backend *b, char booted)
{
	t_ok(boot_set_state(b, booted == 'a' ? BOOT_SLOT_A : BOOT_SLOT_B, BOOT_GOOD));
}

static void test_grub_scenarios(void **state)
{
	struct fx *f = *state;
	boot_backend *b;
	boot_slot s;

	/* Steady state: a runs and confirms every boot. */
	grub_init(f);
	b = open_grub(f);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(boot_once("grub", f->grubenv), 'a');
		confirm(b, 'a');
	}

	/* A new slot never confirmed falls back to the old one after its
	 * try (GRUB: one), and stays there once the old one confirms. */
	t_ok(boot_set_primary(b, BOOT_SLOT_B));
	assert_int_equal(boot_once("grub", f->grubenv), 'b');
	/* ... b hangs or crashes before confirm; the watchdog resets ... */
	assert_int_equal(boot_once("grub", f->grubenv), 'a');
	confirm(b, 'a');
	t_ok(boot_get_primary(b, &s));
	assert_int_equal(s, BOOT_SLOT_A);
	assert_int_equal(boot_once("grub", f->grubenv), 'a');
	confirm(b, 'a');
	assert_int_equal(boot_once("grub", f->grubenv), 'a');
	confirm(b, 'a');

	/* mark-bad falls back at once. */
	t_ok(boot_set_primary(b, BOOT_SLOT_B));
	assert_int_equal(boot_once("grub", f->grubenv), 'b');
	t_ok(boot_set_state(b, BOOT_SLOT_B, BOOT_BAD));
	assert_int_equal(boot_once("grub", f->grubenv), 'a');
	confirm(b, 'a');
	assert_int_equal(boot_once("grub", f->grubenv), 'a');
	confirm(b, 'a');

	/* mark-good keeps it. */
	t_ok(boot_set_primary(b, BOOT_SLOT_B));
	for (int i = 0; i < 4; i++) {
		assert_int_equal(boot_once("grub", f->grubenv), 'b');
		confirm(b, 'b');
	}
	t_ok(boot_get_primary(b, &s));
	assert_int_equal(s, BOOT_SLOT_B);

	/* Nothing OK at all: the script boots its rescue entry. */
	t_ok(boot_set_state(b, BOOT_SLOT_A, BOOT_BAD));
	t_ok(boot_set_state(b, BOOT_SLOT_B, BOOT_BAD));
	assert_int_equal(boot_once("grub", f->grubenv), 'n');
	boot_free(b);

	/* An unreadable block: GRUB's defaults mark nothing OK. */
	t_write_file(f->grubenv, "junk", 4);
	assert_int_equal(boot_once("grub", f->grubenv), 'n');
}

static void test_uboot_scenarios(void **state)
{
	struct fx *f = *state;
	boot_backend *b;
	boot_slot s;
	ucopy c;

	uboot_init(f, true);
	b = open_uboot(f, 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(boot_once("uboot", f->fwcfg), 'a');
		confirm(b, 'a');
	}
	/* bootsim wrote the copy U-Boot's saveenv would: one we read back */
	uenv_current(f, &c);
	assert_true(c.crc_ok);
	assert_string_equal(uenv_var(&c, "bootcmd"), "run pawl_boot");

	/* Never confirmed: three tries, then the old slot. */
	t_ok(boot_set_primary(b, BOOT_SLOT_B));
	assert_int_equal(boot_once("uboot", f->fwcfg), 'b');
	uenv_current(f, &c);
	assert_string_equal(uenv_var(&c, "BOOT_B_LEFT"), "2");
	assert_int_equal(boot_once("uboot", f->fwcfg), 'b');
	assert_int_equal(boot_once("uboot", f->fwcfg), 'b');
	assert_int_equal(boot_once("uboot", f->fwcfg), 'a');
	confirm(b, 'a');
	t_ok(boot_get_primary(b, &s));
	assert_int_equal(s, BOOT_SLOT_A);
	assert_int_equal(boot_once("uboot", f->fwcfg), 'a');
	confirm(b, 'a');

	/* mark-bad falls back at once. */
	t_ok(boot_set_primary(b, BOOT_SLOT_B));
	assert_int_equal(boot_once("uboot", f->fwcfg), 'b');
	t_ok(boot_set_state(b, BOOT_SLOT_B, BOOT_BAD));
	assert_int_equal(boot_once("uboot", f->fwcfg), 'a');
	confirm(b, 'a');

	/* mark-good keeps it, well past its three tries. */
	t_ok(boot_set_primary(b, BOOT_SLOT_B));
	for (int i = 0; i < 5; i++) {
		assert_int_equal(boot_once("uboot", f->fwcfg), 'b');
		confirm(b, 'b');
	}

	/* No slot with tries left: both get three again, and the board
	 * resets and boots the first in BOOT_ORDER. */
	uenv_put(f->envfile, 0, true, 200, "BOOT_ORDER=B A\0BOOT_A_LEFT=0\0BOOT_B_LEFT=0\0",
		 sizeof("BOOT_ORDER=B A\0BOOT_A_LEFT=0\0BOOT_B_LEFT=0\0"), true);
	uenv_put(f->envfile, UENV_SIZE, true, 0, "", 1, false);
	assert_int_equal(boot_once("uboot", f->fwcfg), 'b');
	uenv_current(f, &c);
	assert_string_equal(uenv_var(&c, "BOOT_B_LEFT"), "2");
	assert_string_equal(uenv_var(&c, "BOOT_A_LEFT"), "3");
	boot_free(b);
}

/* ---------------- the shipped scripts ---------------- */

/* The lines between the markers, trimmed, without blanks and comments. */
static char *logic_lines(const char *path)
{
	char *text = t_read_file(path, NULL), *out = calloc(1, strlen(text) + 1);
	bool in = false;
	size_t k = 0;

	assert_non_null(out);
	for (char *line = text, *next; line && *line; line = next) {
		char *end = strchr(line, '\n'), *p = line, *e;

		next = end ? end + 1 : NULL;
		if (end)
			*end = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		e = p + strlen(p);
		while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
			*--e = '\0';
		if (strcmp(p, "# pawl-boot-logic begin") == 0) {
			in = true;
			continue;
		}
		if (strcmp(p, "# pawl-boot-logic end") == 0)
			break;
		if (!in || !*p || *p == '#')
			continue;
		memcpy(out + k, p, strlen(p));
		k += strlen(p);
		out[k++] = '\n';
	}
	assert_true(in);
	free(text);
	return out;
}

static void check_lockstep(const char *kind, const char *script)
{
	char path[PATH_MAX], sim[PATH_MAX], out[16384];
	char *argv[] = { sim, (char *)"logic", (char *)kind, NULL };
	char *want;

	snprintf(path, sizeof(path), "%s/deploy/boot/%s", srcdir(), script);
	snprintf(sim, sizeof(sim), "%s/tests/integration/bootsim", builddir());
	want = logic_lines(path);
	assert_int_equal(run(argv, out, sizeof(out)), 0);
	if (strcmp(want, out) != 0)
		fail_msg("deploy/boot/%s and tests/integration/bootsim.c have drifted apart:\n"
			 "--- script ---\n%s--- simulator ---\n%s",
			 script, want, out);
	free(want);
}

static void test_scripts(void **state)
{
	struct fx *f = *state;
	char path[PATH_MAX], broken[PATH_MAX], out[4096];
	char *argv[] = { (char *)"/usr/bin/grub-script-check", path, NULL };
	char *text, *fi;
	size_t len;

	check_lockstep("grub", "grub.cfg");
	check_lockstep("uboot", "boot.scr.txt");

	snprintf(path, sizeof(path), "%s/deploy/boot/grub.cfg", srcdir());
	assert_int_equal(run(argv, out, sizeof(out)), 0);
	/* and the check does catch a broken one: drop the last "fi" */
	text = t_read_file(path, &len);
	fi = strstr(text, "\nfi\n");
	assert_non_null(fi);
	memmove(fi + 1, fi + 4, strlen(fi + 4) + 1);
	snprintf(broken, sizeof(broken), "%s/broken.cfg", f->dir);
	t_write_file(broken, text, strlen(text));
	free(text);
	snprintf(path, sizeof(path), "%s", broken);
	assert_int_not_equal(run(argv, out, sizeof(out)), 0);
}

/* ---------------- the parsers, directly ---------------- */

static int list_get(const char *text, const char *name, char *val, size_t valsz)
{
	const char *v;
	size_t n;
	int r;

	pawl_error_clear();
	r = grub_list_get(text, strlen(text), name, &v, &n, "grubenv t");
	if (r == 0)
		snprintf(val, valsz, "%.*s", (int)n, v);
	return r;
}

static void test_parsers(void **state)
{
	char v[64];
	const char *p;
	boot_slot order[2];
	size_t n;
	int x;

	(void)state;
	t_ok(list_get("ORDER=B A\nA_OK=1\n", "ORDER", v, sizeof(v)));
	assert_string_equal(v, "B A");
	t_ok(list_get("ORDER=B A\nA_OK=1\nX=a=b\nE=\n", "X", v, sizeof(v)));
	assert_string_equal(v, "a=b");
	t_ok(list_get("E=\n", "E", v, sizeof(v)));
	assert_string_equal(v, "");
	t_fails(list_get("ORDER=B A\n", "A_OK", v, sizeof(v)), PAWL_E_NOT_FOUND);
	t_fails(list_get("", "A_OK", v, sizeof(v)), PAWL_E_NOT_FOUND);
	t_fails(list_get("ORDER=B A", "ORDER", v, sizeof(v)), PAWL_E_FORMAT);
	t_fails(list_get("ORDER=B A\nnoequals\n", "ORDER", v, sizeof(v)), PAWL_E_FORMAT);
	t_fails(list_get("=x\n", "ORDER", v, sizeof(v)), PAWL_E_FORMAT);
	t_fails(list_get("A-B=1\n", "ORDER", v, sizeof(v)), PAWL_E_FORMAT);
	t_fails(list_get("A_OK=1\nA_OK=0\n", "A_OK", v, sizeof(v)), PAWL_E_FORMAT);
	t_fails(list_get("\n", "A_OK", v, sizeof(v)), PAWL_E_FORMAT);
	t_fails(grub_list_get("A=1\0\n", 5, "A", &p, &n, "t"), PAWL_E_FORMAT);

	t_ok(boot_order_parse("A B", 3, order, &n, "ORDER", "t"));
	assert_int_equal(n, 2);
	assert_int_equal(order[0], BOOT_SLOT_A);
	assert_int_equal(order[1], BOOT_SLOT_B);
	t_ok(boot_order_parse(" B  ", 4, order, &n, "ORDER", "t"));
	assert_int_equal(n, 1);
	assert_int_equal(order[0], BOOT_SLOT_B);
	t_ok(boot_order_parse("", 0, order, &n, "ORDER", "t"));
	assert_int_equal(n, 0);
	t_fails(boot_order_parse("A B A", 5, order, &n, "ORDER", "t"), PAWL_E_FORMAT);
	t_fails(boot_order_parse("A B B", 5, order, &n, "ORDER", "t"), PAWL_E_FORMAT);
	t_fails(boot_order_parse("a b", 3, order, &n, "ORDER", "t"), PAWL_E_FORMAT);
	t_fails(boot_order_parse("A\tB", 3, order, &n, "ORDER", "t"), PAWL_E_FORMAT);
	t_fails(boot_order_parse("AB", 2, order, &n, "ORDER", "t"), PAWL_E_FORMAT);

	t_ok(custom_parse_answer("b\n", 2, BOOT_ANSWER_SLOT, &x, "t"));
	assert_int_equal(x, BOOT_SLOT_B);
	t_ok(custom_parse_answer("a", 1, BOOT_ANSWER_SLOT, &x, "t"));
	assert_int_equal(x, BOOT_SLOT_A);
	t_ok(custom_parse_answer("bad\n", 4, BOOT_ANSWER_STATE, &x, "t"));
	assert_int_equal(x, BOOT_BAD);
	t_ok(custom_parse_answer("good", 4, BOOT_ANSWER_STATE, &x, "t"));
	assert_int_equal(x, BOOT_GOOD);
	t_fails(custom_parse_answer("good\n\n", 6, BOOT_ANSWER_STATE, &x, "t"), PAWL_E_FORMAT);
	t_fails(custom_parse_answer("\n", 1, BOOT_ANSWER_SLOT, &x, "t"), PAWL_E_FORMAT);
	t_fails(custom_parse_answer("a\0", 2, BOOT_ANSWER_SLOT, &x, "t"), PAWL_E_FORMAT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test_setup_teardown(test_spec, setup, teardown),
		cmocka_unit_test(test_cmdline),
		cmocka_unit_test_setup_teardown(test_cmdline_file, setup, teardown),
		cmocka_unit_test(test_fake),
		cmocka_unit_test(test_parsers),
		cmocka_unit_test_setup_teardown(test_grub_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grub_bad_env, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grub_atomic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grub_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uboot_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uboot_single_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uboot_bad_env, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uboot_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uboot_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_custom_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_custom_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_custom_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_custom_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grub_scenarios, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uboot_scenarios, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scripts, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
