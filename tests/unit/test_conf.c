/*
 * test_conf.c - the bounded configuration reader (src/common/conf.h),
 * the agent's keys on top of it (src/pawl/config.c), and the trusted
 * resolution of slot paths.
 *
 * The slot-path tests need a directory chain nobody but root can write
 * and a second user to own the hostile parts: they make their directory
 * under the build tree and chown to nobody (65534), so they run as root
 * and skip cleanly otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/parse.h"
#include "config.h"
#include "testing.h"

#define NOBODY 65534

/* ---------------- the reader, with a small table ---------------- */

enum { K_NAME, K_SIZE, K_URL, K_ANY };
static const conf_key tkeys[] = {
	[K_NAME] = { "name", 1 },
	[K_SIZE] = { "size", 1 },
	[K_URL] = { "url", 3 },
	[K_ANY] = { "any", 0 },
};

typedef struct got {
	char name[64];
	uint64_t size;
	int n_url, n_any, calls;
	char last_any[64];
} got;

static int tapply(void *ctx, size_t k, const char *key, const char *val)
{
	got *g = ctx;

	g->calls++;
	switch (k) {
	case K_NAME:
		snprintf(g->name, sizeof(g->name), "%s", val);
		return 0;
	case K_SIZE:
		if (cli_parse_u64(val, 1, 1000, &g->size) < 0)
			return pawl_error_prefix(PAWL_E_INVALID, "%s: ", key);
		return 0;
	case K_URL:
		g->n_url++;
		return 0;
	case K_ANY:
		g->n_any++;
		snprintf(g->last_any, sizeof(g->last_any), "%s", val);
		return 0;
	}
	return PAWL_E_INVALID;
}

static conf_spec spec_for(got *g)
{
	memset(g, 0, sizeof(*g));
	return (conf_spec){ .keys = tkeys, .n_keys = 4, .apply = tapply, .ctx = g,
			    .max_file = 1024, .max_line = 64, .max_settings = 8 };
}

static int parse_str(got *g, const char *text)
{
	conf_spec s = spec_for(g);

	return conf_parse("t.conf", text, strlen(text), &s);
}

static void assert_msg(const char *want)
{
	const char *m = pawl_error_last()->message;

	if (!strstr(m, want))
		print_error("message \"%s\" lacks \"%s\"\n", m, want);
	assert_non_null(strstr(m, want));
}

static void test_syntax(void **state)
{
	got g;

	(void)state;
	/* Trimmed blanks, CRLF, '#' comment lines, the first '=' splits,
	 * no quoting; a '#' after a blank ends the line (issue 18's
	 * example pawl.conf has such comments), a '#' inside a word does
	 * not. */
	t_ok(parse_str(&g, "# comment\n\n   \t\n  # indented comment\n"
			   "\tname   =  a b=c#d \t# a comment \r\n"
			   "size=7\n"
			   "any = \"quoted\"\n"
			   "any = last"));
	assert_string_equal(g.name, "a b=c#d");
	assert_int_equal(g.size, 7);
	assert_int_equal(g.n_any, 2);
	assert_string_equal(g.last_any, "last"); /* max 0: the caller's rule */
	assert_int_equal(g.calls, 4);
	/* an empty file and a file of comments are valid */
	t_ok(parse_str(&g, ""));
	t_ok(parse_str(&g, "#\n#\n"));
	assert_int_equal(g.calls, 0);
}

static void test_missing_equals(void **state)
{
	got g;

	(void)state;
	t_fails(parse_str(&g, "name = x\nsize 7\n"), PAWL_E_FORMAT);
	assert_msg("t.conf:2: expected KEY = VALUE");
	t_fails(parse_str(&g, " = 7\n"), PAWL_E_FORMAT);
	assert_msg("t.conf:1: expected KEY = VALUE");
}

static void test_overlong_line(void **state)
{
	char text[200];
	got g;

	(void)state;
	/* 64 bytes is the limit; a '\r' counts, the '\n' does not */
	snprintf(text, sizeof(text), "#\nname = %056d\n", 0);
	assert_int_equal(strlen(text) - 3, 63);
	t_ok(parse_str(&g, text));
	snprintf(text, sizeof(text), "#\nname = %057d\n", 0);
	t_ok(parse_str(&g, text));
	snprintf(text, sizeof(text), "#\nname = %058d\n", 0);
	t_fails(parse_str(&g, text), PAWL_E_LIMIT);
	assert_msg("t.conf:2: line too long");
	/* a comment line is a line too */
	snprintf(text, sizeof(text), "# %070d\n", 0);
	t_fails(parse_str(&g, text), PAWL_E_LIMIT);
	assert_msg("t.conf:1: line too long");
	/* the last line without '\n' as well */
	snprintf(text, sizeof(text), "size = 1\nname = %070d", 0);
	t_fails(parse_str(&g, text), PAWL_E_LIMIT);
	assert_msg("t.conf:2: line too long");
}

static void test_nul_byte(void **state)
{
	static const char text[] = "name = a\nsize = 1\0\nany = b\n";
	conf_spec s;
	got g;

	(void)state;
	s = spec_for(&g);
	t_fails(conf_parse("t.conf", text, sizeof(text) - 1, &s), PAWL_E_FORMAT);
	assert_msg("t.conf:2: contains a NUL byte");
	assert_int_equal(g.calls, 0); /* nothing applied before the refusal */
}

static void test_duplicate_and_repeatable(void **state)
{
	got g;

	(void)state;
	t_fails(parse_str(&g, "name = a\nsize = 1\nname = a\n"), PAWL_E_INVALID);
	assert_msg("t.conf:3: name is given twice");
	t_ok(parse_str(&g, "url = 1\nurl = 2\nurl = 3\n"));
	assert_int_equal(g.n_url, 3);
	t_fails(parse_str(&g, "url = 1\nurl = 2\nurl = 3\nurl = 4\n"), PAWL_E_LIMIT);
	assert_msg("t.conf:4: more than 3 url lines");
}

static void test_unknown_key(void **state)
{
	got g;

	(void)state;
	t_fails(parse_str(&g, "name = a\nbogus = 1\n"), PAWL_E_INVALID);
	assert_msg("t.conf:2: unknown key \"bogus\"");
	t_fails(parse_str(&g, "nmae = a\n"), PAWL_E_INVALID);
	assert_msg("unknown key \"nmae\" (did you mean name?)");
	/* keys are case-sensitive and whole */
	t_fails(parse_str(&g, "Name = a\n"), PAWL_E_INVALID);
	t_fails(parse_str(&g, "name.x = a\n"), PAWL_E_INVALID);
}

static void test_bad_number_and_empty(void **state)
{
	conf_spec s;
	got g;

	(void)state;
	t_fails(parse_str(&g, "size = 12x\n"), PAWL_E_INVALID);
	assert_msg("t.conf:1: size: \"12x\" is not a whole number");
	t_fails(parse_str(&g, "size = -1\n"), PAWL_E_INVALID);
	t_fails(parse_str(&g, "size = 1001\n"), PAWL_E_INVALID);
	assert_msg("t.conf:1: size: 1001 is out of range");
	t_fails(parse_str(&g, "name =\n"), PAWL_E_INVALID);
	assert_msg("t.conf:1: name has no value");
	s = spec_for(&g);
	s.allow_empty = true;
	t_ok(conf_parse("t.conf", "name = \n", 8, &s));
	assert_string_equal(g.name, "");
	assert_int_equal(g.calls, 1);
}

static void test_settings_cap(void **state)
{
	char text[512] = "";
	got g;

	(void)state;
	for (int i = 0; i < 8; i++)
		strcat(text, "any = x\n# comments do not count\n");
	t_ok(parse_str(&g, text));
	strcat(text, "any = y\n");
	t_fails(parse_str(&g, text), PAWL_E_LIMIT);
	assert_msg("t.conf:17: more than 8 settings");
}

/* ---------------- reading the file ---------------- */

static char *tmp_path(const char *dir, const char *name)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
	return p;
}

static void test_file_bounds(void **state)
{
	char *dir = t_mkdtemp(), *f = tmp_path(dir, "a.conf"), *l = tmp_path(dir, "link.conf");
	char *fifo = tmp_path(dir, "fifo.conf"), big[1100];
	conf_spec s;
	got g;

	(void)state;
	t_write_file(f, "name = ok\n", 10);
	s = spec_for(&g);
	t_ok(conf_read_file(f, &s));
	assert_string_equal(g.name, "ok");

	/* too big: 1024 bytes pass, 1025 do not, whatever they hold */
	memset(big, '#', sizeof(big));
	big[1023] = '\n';
	for (int i = 60; i < 1023; i += 61)
		big[i] = '\n';
	t_write_file(f, big, 1024);
	t_ok(conf_read_file(f, &s));
	t_write_file(f, big, 1025);
	t_fails(conf_read_file(f, &s), PAWL_E_LIMIT);
	assert_msg("a.conf: file too large");
	t_fails(conf_parse("t.conf", big, 1025, &s), PAWL_E_LIMIT);

	/* a symbolic link to a good file is refused */
	t_write_file(f, "name = ok\n", 10);
	assert_int_equal(symlink(f, l), 0);
	t_fails(conf_read_file(l, &s), PAWL_E_POLICY);
	assert_msg("is a symbolic link");

	/* not a regular file, and no wait for a writer */
	assert_int_equal(mkfifo(fifo, 0600), 0);
	t_fails(conf_read_file(fifo, &s), PAWL_E_IO);
	assert_msg("not a regular file");
	t_fails(conf_read_file(dir, &s), PAWL_E_IO);

	t_fails(conf_read_file("/nonexistent/pawl.conf", &s), PAWL_E_NOT_FOUND);
	assert_msg("cannot read config /nonexistent/pawl.conf");
	t_rm_rf(dir);
	free(dir), free(f), free(l), free(fifo);
}

/* ---------------- the agent's keys ---------------- */

#define BASE                                                                   \
	"metadata_url = https://u.example/m/\n"                                \
	"target_base_url = https://u.example/t/\n"                             \
	"trusted_root = /usr/share/pawl/root.json\n"                           \
	"state_dir = /var/lib/pawl\n"                                          \
	"app = os\n"

static int agent(agent_config *c, const char *text, char *err, size_t errlen)
{
	int r = config_parse(c, "pawl.conf", text, strlen(text), err, errlen);

	if (r < 0)
		print_message("  (refused: %s)\n", err);
	return r;
}

static void agent_refused(const char *text, const char *want)
{
	agent_config c;
	char err[512];

	assert_int_equal(agent(&c, text, err, sizeof(err)), -1);
	if (!strstr(err, want))
		print_error("\"%s\" lacks \"%s\"\n", err, want);
	assert_non_null(strstr(err, want));
	/* nothing half-filled is left behind */
	assert_null(c.app);
	assert_null(c.slot_a);
}

static void test_agent_folder_mode(void **state)
{
	agent_config c;
	char err[512];

	(void)state;
	assert_int_equal(agent(&c, BASE "install_dir = /opt/app\nmin_rate = 4096\n"
				   "max_bytes_targets = 20000000\nlock_timeout = 0\n"
				   "health_timeout = 5m\nsyslog = no\n",
			       err, sizeof(err)),
			 0);
	assert_false(c.slot_mode);
	assert_string_equal(c.install_dir, "/opt/app");
	assert_int_equal(c.min_rate, 4096);
	assert_int_equal(c.max_bytes[3], 20000000);
	assert_int_equal(c.lock_timeout_s, 0);
	assert_int_equal(c.health_timeout_s, 300);
	assert_false(c.syslog);
	assert_string_equal(c.path, "pawl.conf");
	config_free(&c);

	agent_refused(BASE, "pawl.conf: install_dir is required");
	agent_refused(BASE "install_dir = /opt/app\nmin_rate = fast\n",
		      "pawl.conf:7: min_rate must be 1 to 1073741824");
	agent_refused(BASE "install_dir = /opt/app\nmin_rate = 0\n", "pawl.conf:7: min_rate");
	agent_refused(BASE "install_dir = /opt/app\nmax_delegations = 100001\n",
		      "pawl.conf:7: max_delegations must be");
	agent_refused(BASE "install_dir = /opt/app\nhealth_timeout = 1w\n",
		      "pawl.conf:7: health_timeout must be");
	agent_refused(BASE "install_dir = /opt/app\nmax_bytes_root = 0x10\n",
		      "pawl.conf:7: max_bytes_root must be");
	agent_refused(BASE "install_dir = /opt/app\nmax_bytes_rot = 10\n",
		      "unknown key \"max_bytes_rot\" (did you mean max_bytes_root?)");
	agent_refused(BASE "install_dir = /opt/app\napp = other\n", "pawl.conf:7: app is given twice");
	agent_refused(BASE "install_dir = /opt/app\nsyslog = true\n", "syslog must be yes or no");
	agent_refused("app = a/b\n", "pawl.conf:1: app must be one path component");
}

/* A directory under the build tree that only root can write, or NULL
 * (and a skip) when this process cannot set up the test. */
static char *trusted_dir(void)
{
	const char *b = getenv("PAWL_BUILDDIR");
	char *tmpl, *d, *probe, *real = NULL;
	int r;

	if (geteuid() != 0) {
		print_message("  skipped: the slot-path tests need root (chown to nobody)\n");
		return NULL;
	}
	assert_non_null(b);
	assert_true(asprintf(&tmpl, "%s/conf-test-XXXXXX", b) > 0);
	d = mkdtemp(tmpl);
	assert_non_null(d);
	assert_int_equal(chmod(d, 0755), 0);
	probe = tmp_path(d, "probe");
	t_write_file(probe, "x", 1);
	assert_int_equal(chmod(probe, 0644), 0);
	r = conf_resolve_trusted_path(probe, &real, NULL);
	free(probe);
	free(real);
	if (r < 0) {
		print_message("  skipped: the build tree is not root-owned all the way up: %s\n",
			      pawl_error_last()->message);
		t_rm_rf(d);
		free(d);
		return NULL;
	}
	return d;
}

/* dir/name, a regular file of root's, mode 0644. */
static char *slot_file(const char *dir, const char *name)
{
	char *p = tmp_path(dir, name);

	t_write_file(p, "slot", 4);
	assert_int_equal(chmod(p, 0644), 0);
	return p;
}

static void test_trusted_path(void **state)
{
	char *d = trusted_dir(), *a, *b, *byname, *lnk, *evil, *evil_lnk, *rel, *real = NULL;
	char *nested, *gw;
	struct stat st;

	(void)state;
	if (!d) {
		skip();
		return;
	}
	a = slot_file(d, "slot-a");
	b = slot_file(d, "slot-b");

	/* a plain file resolves to itself */
	t_ok(conf_resolve_trusted_path(a, &real, &st));
	assert_string_equal(real, a);
	assert_true(S_ISREG(st.st_mode));
	free(real);

	/* by-partlabel style: a root-owned link in a root-owned directory,
	 * relative target, through "." and ".." and doubled slashes */
	byname = tmp_path(d, "by-partlabel");
	assert_int_equal(mkdir(byname, 0755), 0);
	lnk = tmp_path(byname, "rootfs-a");
	assert_int_equal(symlink("../slot-a", lnk), 0);
	t_ok(conf_resolve_trusted_path(lnk, &real, NULL));
	assert_string_equal(real, a);
	free(real);
	assert_true(asprintf(&nested, "%s/.//by-partlabel/../by-partlabel//rootfs-a", d) > 0);
	t_ok(conf_resolve_trusted_path(nested, &real, NULL));
	assert_string_equal(real, a);
	free(real);

	/* the same link in a directory another user owns: refused, though
	 * the file it points to is fine */
	evil = tmp_path(d, "evil");
	assert_int_equal(mkdir(evil, 0755), 0);
	evil_lnk = tmp_path(evil, "rootfs-a");
	assert_int_equal(symlink("../slot-a", evil_lnk), 0);
	t_ok(conf_resolve_trusted_path(evil_lnk, &real, NULL)); /* root's: fine */
	free(real);
	assert_int_equal(chown(evil, NOBODY, NOBODY), 0);
	t_fails(conf_resolve_trusted_path(evil_lnk, &real, NULL), PAWL_E_POLICY);
	assert_msg("is owned by uid 65534, not root");
	/* ... and reached through a root-owned link to that directory */
	rel = tmp_path(d, "via");
	assert_int_equal(symlink("evil", rel), 0);
	free(nested);
	assert_true(asprintf(&nested, "%s/rootfs-a", rel) > 0);
	t_fails(conf_resolve_trusted_path(nested, &real, NULL), PAWL_E_POLICY);
	assert_msg("evil is owned by uid 65534");
	assert_int_equal(chown(evil, 0, 0), 0);
	t_ok(conf_resolve_trusted_path(nested, &real, NULL));
	free(real);

	/* a link another user owns, in root's directory */
	assert_int_equal(lchown(lnk, NOBODY, NOBODY), 0);
	t_fails(conf_resolve_trusted_path(lnk, &real, NULL), PAWL_E_POLICY);
	assert_msg("symbolic link");
	assert_int_equal(lchown(lnk, 0, 0), 0);

	/* a directory group or others may write */
	gw = tmp_path(d, "gw");
	assert_int_equal(mkdir(gw, 0755), 0);
	free(nested);
	nested = slot_file(gw, "slot");
	t_ok(conf_resolve_trusted_path(nested, &real, NULL));
	free(real);
	assert_int_equal(chmod(gw, 0775), 0);
	t_fails(conf_resolve_trusted_path(nested, &real, NULL), PAWL_E_POLICY);
	assert_msg("writable by group or others");
	assert_int_equal(chmod(gw, 0777), 0);
	t_fails(conf_resolve_trusted_path(nested, &real, NULL), PAWL_E_POLICY);
	/* sticky, as /tmp: others cannot rename or remove root's entries in
	 * it, so it may be passed; an entry another user put there may not */
	assert_int_equal(chmod(gw, 01777), 0);
	t_ok(conf_resolve_trusted_path(nested, &real, NULL));
	free(real);
	assert_int_equal(chown(nested, NOBODY, NOBODY), 0);
	t_fails(conf_resolve_trusted_path(nested, &real, NULL), PAWL_E_POLICY);
	assert_int_equal(chown(nested, 0, 0), 0);
	assert_int_equal(chmod(gw, 0755), 0);

	/* the slot file itself: another user's, or writable by others */
	assert_int_equal(chown(nested, NOBODY, NOBODY), 0);
	t_fails(conf_resolve_trusted_path(nested, &real, NULL), PAWL_E_POLICY);
	assert_int_equal(chown(nested, 0, 0), 0);
	assert_int_equal(chmod(nested, 0666), 0);
	t_fails(conf_resolve_trusted_path(nested, &real, NULL), PAWL_E_POLICY);

	/* not absolute, not there, not a file or block device, a loop */
	t_fails(conf_resolve_trusted_path("slot-a", &real, NULL), PAWL_E_INVALID);
	free(rel);
	rel = tmp_path(d, "missing");
	t_fails(conf_resolve_trusted_path(rel, &real, NULL), PAWL_E_NOT_FOUND);
	t_fails(conf_resolve_trusted_path(d, &real, NULL), PAWL_E_INVALID);
	t_fails(conf_resolve_trusted_path("/", &real, NULL), PAWL_E_INVALID);
	t_fails(conf_resolve_trusted_path("/dev/null", &real, NULL), PAWL_E_INVALID);
	free(rel);
	rel = tmp_path(d, "loop");
	assert_int_equal(symlink("loop", rel), 0);
	t_fails(conf_resolve_trusted_path(rel, &real, NULL), PAWL_E_LIMIT);

	t_rm_rf(d);
	free(d), free(a), free(b), free(byname), free(lnk), free(evil), free(evil_lnk);
	free(rel), free(nested), free(gw);
}

static void test_agent_slot_mode(void **state)
{
	char *d = trusted_dir(), *a, *b, *lnk, *hard, *text, *evil, *evil_lnk;
	agent_config c;
	char err[512];

	(void)state;
	if (!d) {
		skip();
		return;
	}
	a = slot_file(d, "slot-a");
	b = slot_file(d, "slot-b");
	lnk = tmp_path(d, "rootfs-b");
	assert_int_equal(symlink("slot-b", lnk), 0);

	assert_true(asprintf(&text, BASE "slot.a = %s\nslot.b = %s\n"
					 "bootloader = grub:/boot/grub/grubenv\n"
					 "health_check = /usr/bin/true\n", a, lnk) > 0);
	assert_int_equal(agent(&c, text, err, sizeof(err)), 0);
	assert_true(c.slot_mode);
	assert_string_equal(c.slot_a, a);
	assert_string_equal(c.slot_b, b); /* resolved */
	assert_string_equal(c.bootloader, "grub:/boot/grub/grubenv");
	assert_null(c.install_dir);
	assert_string_equal(c.health_check, "/usr/bin/true");
	config_free(&c);
	free(text);

	for (int i = 0; i < 2; i++) {
		const char *bl = i ? "uboot:/etc/fw_env.config" : "custom:/usr/lib/pawl/boot-script";

		assert_true(asprintf(&text, BASE "slot.a = %s\nslot.b = %s\nbootloader = %s\n", a,
				     b, bl) > 0);
		assert_int_equal(agent(&c, text, err, sizeof(err)), 0);
		assert_string_equal(c.bootloader, bl);
		config_free(&c);
		free(text);
	}

	/* both slots or neither; slots and bootloader together; no
	 * install_dir in slot mode */
	assert_true(asprintf(&text, BASE "slot.a = %s\nbootloader = grub:/g\n", a) > 0);
	agent_refused(text, "slot.a and slot.b go together (slot.b is missing)");
	free(text);
	assert_true(asprintf(&text, BASE "slot.b = %s\nbootloader = grub:/g\n", a) > 0);
	agent_refused(text, "(slot.a is missing)");
	free(text);
	assert_true(asprintf(&text, BASE "slot.a = %s\nslot.b = %s\n", a, b) > 0);
	agent_refused(text, "slot.a and slot.b need bootloader");
	free(text);
	agent_refused(BASE "install_dir = /opt/app\nbootloader = grub:/g\n",
		      "bootloader is for slot mode");
	assert_true(asprintf(&text, BASE "slot.a = %s\nslot.b = %s\nbootloader = grub:/g\n"
					 "install_dir = /opt/app\n", a, b) > 0);
	agent_refused(text, "install_dir is for folder mode");
	free(text);

	/* the bootloader string */
	static const char *const bad_bl[] = { "lilo:/etc/lilo.conf", "grub:boot/grubenv",
					      "grub:", "GRUB:/x", "/boot/grub/grubenv",
					      "custom: /x" };
	for (size_t i = 0; i < sizeof(bad_bl) / sizeof(bad_bl[0]); i++) {
		assert_true(asprintf(&text, BASE "slot.a = %s\nslot.b = %s\nbootloader = %s\n", a,
				     b, bad_bl[i]) > 0);
		agent_refused(text, "pawl.conf:8: bootloader");
		free(text);
	}

	/* the two slots must be two files: the same path, a link to the
	 * other, or a hard link of it */
	assert_true(asprintf(&text, BASE "slot.a = %s\nslot.b = %s\nbootloader = grub:/g\n", b,
			     lnk) > 0);
	agent_refused(text, "slot.a and slot.b are the same file");
	free(text);
	hard = tmp_path(d, "hard-a");
	assert_int_equal(link(a, hard), 0);
	assert_true(asprintf(&text, BASE "slot.a = %s\nslot.b = %s\nbootloader = grub:/g\n", a,
			     hard) > 0);
	agent_refused(text, "slot.a and slot.b are the same file");
	free(text);

	/* block devices: accepted (root:disk 0660 as udev makes them); two
	 * nodes of one device are the same slot */
	{
		char *n1 = tmp_path(d, "blk1"), *n2 = tmp_path(d, "blk2");

		if (mknod(n1, S_IFBLK | 0660, makedev(7, 250)) == 0 &&
		    mknod(n2, S_IFBLK | 0660, makedev(7, 250)) == 0) {
			assert_true(asprintf(&text, BASE "slot.a = %s\nslot.b = %s\n"
							 "bootloader = grub:/g\n", n1, b) > 0);
			assert_int_equal(agent(&c, text, err, sizeof(err)), 0);
			assert_string_equal(c.slot_a, n1);
			config_free(&c);
			free(text);
			assert_true(asprintf(&text, BASE "slot.a = %s\nslot.b = %s\n"
							 "bootloader = grub:/g\n", n1, n2) > 0);
			agent_refused(text, "slot.a and slot.b are the same file");
			free(text);
		} else {
			print_message("  (no block device checks: mknod: %s)\n", strerror(errno));
		}
		free(n1), free(n2);
	}

	/* a slot behind a link in another user's directory, with the line */
	evil = tmp_path(d, "evil");
	assert_int_equal(mkdir(evil, 0755), 0);
	evil_lnk = tmp_path(evil, "rootfs-b");
	assert_int_equal(symlink("../slot-b", evil_lnk), 0);
	assert_int_equal(chown(evil, NOBODY, NOBODY), 0);
	assert_true(asprintf(&text, BASE "slot.a = %s\nslot.b = %s\nbootloader = grub:/g\n", a,
			     evil_lnk) > 0);
	agent_refused(text, "pawl.conf:7: slot.b: ");
	agent_refused(text, "owned by uid 65534");
	free(text);
	agent_refused(BASE "slot.a = dev/sda2\n", "pawl.conf:6: slot.a: \"dev/sda2\" is not an "
						  "absolute path");
	agent_refused(BASE "slot.a = /dev/null\n", "not a block device or regular file");

	t_rm_rf(d);
	free(d), free(a), free(b), free(lnk), free(hard), free(evil), free(evil_lnk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_missing_equals),
		cmocka_unit_test(test_overlong_line),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_duplicate_and_repeatable),
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_bad_number_and_empty),
		cmocka_unit_test(test_settings_cap),
		cmocka_unit_test(test_file_bounds),
		cmocka_unit_test(test_agent_folder_mode),
		cmocka_unit_test(test_trusted_path),
		cmocka_unit_test(test_agent_slot_mode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
