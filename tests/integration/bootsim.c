/*
 * bootsim.c - a boot simulator for the tests (never installed): one
 * power-on of the device, as GRUB running deploy/boot/grub.cfg or U-Boot
 * running deploy/boot/boot.scr.txt would do it, over the same environment
 * the bootloader backends of src/lib/boot/ write.
 *
 *   bootsim grub GRUBENV            one boot under GRUB
 *   bootsim uboot FW_ENV_CONFIG     one boot under U-Boot
 *   bootsim logic grub|uboot        the script lines simulated here
 *
 * It prints the slot booted ("a" or "b") and exits 0, or prints "none"
 * and exits 2 when the script finds no slot to boot; 1 is an error.
 *
 * LOCKSTEP with the shipped scripts: grub_boot() and uboot_boot() do what
 * the lines in grub_logic[] and uboot_logic[] say, and those are the lines
 * between "pawl-boot-logic begin" and "end" in the two scripts (without
 * indentation, blank lines and comments). tests/unit/test_boot.c compares
 * them with the scripts, so a change to a script fails that test until the
 * simulation here is changed with it.
 *
 * It shares no code with libpawl: the GRUB block and the U-Boot
 * environment (CRC-32, redundant copies, flag byte) are read and written
 * here from their formats, so that what the library writes is checked by
 * a second reader, as the bootloader would read it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------------- the lines simulated ---------------- */

static const char grub_logic[] =
	"set ORDER=\"A B\"\n"
	"set A_OK=0\n"
	"set A_TRY=0\n"
	"set B_OK=0\n"
	"set B_TRY=0\n"
	"load_env --file \"${pawl_env}\" ORDER A_OK A_TRY B_OK B_TRY\n"
	"set pawl_slot=\"\"\n"
	"for s in ${ORDER}; do\n"
	"if [ \"${s}\" = \"A\" -a \"${A_OK}\" = \"1\" -a \"${A_TRY}\" = \"0\" ]; then set pawl_slot=\"a\"; break; fi\n"
	"if [ \"${s}\" = \"B\" -a \"${B_OK}\" = \"1\" -a \"${B_TRY}\" = \"0\" ]; then set pawl_slot=\"b\"; break; fi\n"
	"done\n"
	"if [ -z \"${pawl_slot}\" ]; then\n"
	"if [ \"${A_OK}\" = \"1\" ]; then set A_TRY=0; fi\n"
	"if [ \"${B_OK}\" = \"1\" ]; then set B_TRY=0; fi\n"
	"for s in ${ORDER}; do\n"
	"if [ \"${s}\" = \"A\" -a \"${A_OK}\" = \"1\" ]; then set pawl_slot=\"a\"; break; fi\n"
	"if [ \"${s}\" = \"B\" -a \"${B_OK}\" = \"1\" ]; then set pawl_slot=\"b\"; break; fi\n"
	"done\n"
	"fi\n"
	"if [ \"${pawl_slot}\" = \"a\" ]; then set A_TRY=1; fi\n"
	"if [ \"${pawl_slot}\" = \"b\" ]; then set B_TRY=1; fi\n"
	"save_env --file \"${pawl_env}\" ORDER A_OK A_TRY B_OK B_TRY\n";

static const char uboot_logic[] =
	"test -n \"${BOOT_ORDER}\" || setenv BOOT_ORDER \"A B\"\n"
	"test -n \"${BOOT_A_LEFT}\" || setenv BOOT_A_LEFT 3\n"
	"test -n \"${BOOT_B_LEFT}\" || setenv BOOT_B_LEFT 3\n"
	"setenv pawl_slot\n"
	"for s in \"${BOOT_ORDER}\"; do\n"
	"if test -n \"${pawl_slot}\"; then\n"
	"elif test \"x${s}\" = \"xA\"; then\n"
	"if test 0x${BOOT_A_LEFT} -gt 0; then\n"
	"setexpr BOOT_A_LEFT ${BOOT_A_LEFT} - 1\n"
	"setenv pawl_slot a\n"
	"fi\n"
	"elif test \"x${s}\" = \"xB\"; then\n"
	"if test 0x${BOOT_B_LEFT} -gt 0; then\n"
	"setexpr BOOT_B_LEFT ${BOOT_B_LEFT} - 1\n"
	"setenv pawl_slot b\n"
	"fi\n"
	"fi\n"
	"done\n"
	"if test -z \"${pawl_slot}\"; then\n"
	"echo \"pawl: no slot has tries left; 3 more each, then reset\"\n"
	"setenv BOOT_A_LEFT 3\n"
	"setenv BOOT_B_LEFT 3\n"
	"saveenv\n"
	"reset\n"
	"fi\n"
	"saveenv\n";

/* ---------------- small helpers ---------------- */

#define VAL_MAX 256

typedef struct var {
	char name[64];
	char value[VAL_MAX];
	bool set;
} var;

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bootsim: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static char *read_all(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 4096, n = 0;
	char *p;

	if (!f)
		return NULL;
	p = malloc(cap + 1);
	if (!p)
		die("out of memory");
	for (;;) {
		size_t got = fread(p + n, 1, cap - n, f);

		n += got;
		if (n < cap)
			break;
		if (cap >= (16u << 20))
			die("%s: too large", path);
		cap *= 2;
		p = realloc(p, cap + 1);
		if (!p)
			die("out of memory");
	}
	fclose(f);
	p[n] = '\0';
	*ret_len = n;
	return p;
}

static void set_var(var *v, const char *value)
{
	snprintf(v->value, sizeof(v->value), "%s", value);
	v->set = true;
}

/* Words of a list, split at blanks as both shells split ${VAR}. */
static size_t split_words(const char *s, char words[][VAL_MAX], size_t max)
{
	size_t n = 0;

	while (*s && n < max) {
		size_t k = 0;

		while (*s == ' ' || *s == '\t' || *s == '\n')
			s++;
		if (!*s)
			break;
		while (*s && *s != ' ' && *s != '\t' && *s != '\n' && k + 1 < VAL_MAX)
			words[n][k++] = *s++;
		words[n][k] = '\0';
		n++;
	}
	return n;
}

/* ---------------- GRUB ---------------- */

#define GRUB_HEADER "# GRUB Environment Block\n"

/* The names load_env and save_env are given, in that order. */
static const char *const grub_names[5] = { "ORDER", "A_OK", "A_TRY", "B_OK", "B_TRY" };

/* One entry of the block: a line NAME=VALUE, value unescaped. */
typedef struct grub_line {
	char *name;
	char *value;
} grub_line;

/* Parse the block as GRUB's envblk does: '#' lines are padding or
 * comments, a line without '=' is skipped, '\' escapes the next byte. */
static size_t grub_parse(const char *blk, size_t len, grub_line *lines, size_t max)
{
	size_t i = sizeof(GRUB_HEADER) - 1, n = 0;

	while (i < len && n < max) {
		size_t start = i, eq = 0;
		bool esc = false;

		while (i < len && (esc || blk[i] != '\n')) {
			if (!esc && blk[i] == '=' && !eq)
				eq = i;
			esc = !esc && blk[i] == '\\';
			i++;
		}
		if (blk[start] != '#' && eq > start) {
			size_t k = 0;

			lines[n].name = strndup(blk + start, eq - start);
			lines[n].value = malloc(i - eq);
			for (size_t j = eq + 1; j < i; j++) {
				if (blk[j] == '\\' && j + 1 < i)
					j++;
				lines[n].value[k++] = blk[j];
			}
			lines[n].value[k] = '\0';
			n++;
		}
		i++;
	}
	return n;
}

static int grub_boot(const char *path)
{
	var v[5];
	char words[8][VAL_MAX], *blk;
	grub_line lines[256];
	const char *slot = "";
	size_t len = 0, n = 0, nw;
	bool loaded;

	/* set ORDER="A B" ... set B_TRY=0: the defaults */
	memset(v, 0, sizeof(v));
	for (size_t i = 0; i < 5; i++)
		snprintf(v[i].name, sizeof(v[i].name), "%s", grub_names[i]);
	set_var(&v[0], "A B");
	for (size_t i = 1; i < 5; i++)
		set_var(&v[i], "0");
	/* load_env --file ... ORDER A_OK A_TRY B_OK B_TRY: only those. A
	 * block GRUB cannot read leaves the defaults. */
	blk = read_all(path, &len);
	loaded = blk && len >= sizeof(GRUB_HEADER) - 1 &&
		 memcmp(blk, GRUB_HEADER, sizeof(GRUB_HEADER) - 1) == 0;
	if (!loaded)
		fprintf(stderr, "bootsim: %s: load_env fails; defaults apply\n", path);
	if (loaded)
		n = grub_parse(blk, len, lines, sizeof(lines) / sizeof(lines[0]));
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < 5; k++)
			if (strcmp(lines[i].name, v[k].name) == 0)
				set_var(&v[k], lines[i].value);
#define ORDER v[0].value
#define A_OK v[1].value
#define A_TRY v[2].value
#define B_OK v[3].value
#define B_TRY v[4].value
	/* for s in ${ORDER}: the first OK slot with its try left */
	nw = split_words(ORDER, words, 8);
	for (size_t i = 0; i < nw; i++) {
		if (!strcmp(words[i], "A") && !strcmp(A_OK, "1") && !strcmp(A_TRY, "0")) {
			slot = "a";
			break;
		}
		if (!strcmp(words[i], "B") && !strcmp(B_OK, "1") && !strcmp(B_TRY, "0")) {
			slot = "b";
			break;
		}
	}
	/* if [ -z "${pawl_slot}" ]: every OK slot gets a new try */
	if (!*slot) {
		if (!strcmp(A_OK, "1"))
			set_var(&v[2], "0");
		if (!strcmp(B_OK, "1"))
			set_var(&v[4], "0");
		for (size_t i = 0; i < nw; i++) {
			if (!strcmp(words[i], "A") && !strcmp(A_OK, "1")) {
				slot = "a";
				break;
			}
			if (!strcmp(words[i], "B") && !strcmp(B_OK, "1")) {
				slot = "b";
				break;
			}
		}
	}
	if (!strcmp(slot, "a"))
		set_var(&v[2], "1");
	if (!strcmp(slot, "b"))
		set_var(&v[4], "1");
#undef ORDER
#undef A_OK
#undef A_TRY
#undef B_OK
#undef B_TRY

	/* save_env --file ... : the block is rewritten in place, at its
	 * size, with these five updated where they stand or appended, and
	 * '#' padding; it fails (nothing written) on a block GRUB could not
	 * load or one too small. */
	if (loaded) {
		char *out = malloc(len + 1);
		size_t k = 0;
		bool done[5] = { false, false, false, false, false };
		bool fits = true;
		FILE *f;

#define PUT(s)                                                                 \
	do {                                                                   \
		const char *p_ = (s);                                          \
		for (; *p_; p_++) {                                            \
			if ((*p_ == '\\' || *p_ == '\n') && k < len)           \
				out[k++] = '\\';                               \
			if (k < len)                                           \
				out[k++] = *p_;                                \
			else                                                   \
				fits = false;                                  \
		}                                                              \
	} while (0)
		memcpy(out, GRUB_HEADER, sizeof(GRUB_HEADER) - 1);
		k = sizeof(GRUB_HEADER) - 1;
		for (size_t i = 0; i < n; i++) {
			const char *value = lines[i].value;

			for (size_t j = 0; j < 5; j++)
				if (!strcmp(lines[i].name, grub_names[j])) {
					value = v[j].value;
					done[j] = true;
				}
			PUT(lines[i].name);
			PUT("=");
			PUT(value);
			if (k < len)
				out[k++] = '\n';
			else
				fits = false;
		}
		for (size_t j = 0; j < 5; j++) {
			if (done[j])
				continue;
			PUT(grub_names[j]);
			PUT("=");
			PUT(v[j].value);
			if (k < len)
				out[k++] = '\n';
			else
				fits = false;
		}
#undef PUT
		if (!fits)
			die("%s: save_env: environment block too small", path);
		memset(out + k, '#', len - k);
		f = fopen(path, "r+b");
		if (!f || fwrite(out, 1, len, f) != len || fflush(f) != 0 || fsync(fileno(f)) != 0)
			die("%s: save_env: %s", path, strerror(errno));
		fclose(f);
		free(out);
	}
	for (size_t i = 0; i < n; i++) {
		free(lines[i].name);
		free(lines[i].value);
	}
	free(blk);
	printf("%s\n", *slot ? slot : "none");
	return *slot ? 0 : 2;
}

/* ---------------- U-Boot ---------------- */

typedef struct env_copy {
	char dev[4096];
	long long offset;
	size_t size;
} env_copy;

typedef struct uenv {
	env_copy copy[2];
	int ncopies;
	int current;          /* the copy in force */
	unsigned char flags;  /* its flag byte (redundant only) */
	var vars[128];
	size_t nvars;
} uenv;

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

/* fw_env.config: DEVICE OFFSET SIZE per line, as libubootenv reads it
 * (offset in C notation, size always hexadecimal), at most two lines. */
static void read_config(const char *path, uenv *e)
{
	FILE *f = fopen(path, "r");
	char line[4200];

	if (!f)
		die("%s: %s", path, strerror(errno));
	e->ncopies = 0;
	while (e->ncopies < 2 && fgets(line, sizeof(line), f)) {
		char *p = line, *end;
		env_copy *c = &e->copy[e->ncopies];
		size_t k = 0;

		if (line[0] == '#')
			continue;
		while (*p == ' ' || *p == '\t')
			p++;
		while (*p && *p != ' ' && *p != '\t' && *p != '\n' && k + 1 < sizeof(c->dev))
			c->dev[k++] = *p++;
		c->dev[k] = '\0';
		if (!k)
			continue;
		errno = 0;
		c->offset = strtoll(p, &end, 0);
		if (end == p || errno)
			continue;
		p = end;
		c->size = (size_t)strtoull(p, &end, 16);
		if (end == p || errno || c->size < 16)
			continue;
		e->ncopies++;
	}
	fclose(f);
	if (!e->ncopies)
		die("%s: no environment device", path);
	if (e->ncopies == 2 && e->copy[0].size != e->copy[1].size)
		die("%s: the two copies differ in size", path);
}

static unsigned char *read_copy(const env_copy *c)
{
	unsigned char *buf = malloc(c->size);
	FILE *f = fopen(c->dev, "rb");

	if (!buf || !f || fseek(f, c->offset, SEEK_SET) != 0 || fread(buf, 1, c->size, f) != c->size)
		die("%s: cannot read the environment", c->dev);
	fclose(f);
	return buf;
}

/* Load as U-Boot does: the copy whose CRC holds; of two, the one whose
 * flag byte is newer (incremental flags, wrapping 255 -> 0). */
static bool uenv_load(uenv *e)
{
	unsigned char *buf[2] = { NULL, NULL };
	bool ok[2] = { false, false };
	size_t hdr = e->ncopies == 2 ? 5 : 4;
	const unsigned char *data;
	size_t size = e->copy[0].size - hdr;

	for (int i = 0; i < e->ncopies; i++) {
		uint32_t stored;

		buf[i] = read_copy(&e->copy[i]);
		stored = (uint32_t)buf[i][0] | (uint32_t)buf[i][1] << 8 | (uint32_t)buf[i][2] << 16 |
			 (uint32_t)buf[i][3] << 24;
		ok[i] = crc32_of(buf[i] + hdr, size) == stored;
	}
	if (e->ncopies == 1 || (ok[0] && !ok[1]))
		e->current = 0;
	else if (!ok[0] && ok[1])
		e->current = 1;
	else {
		unsigned char f0 = buf[0][4], f1 = buf[1][4];

		e->current = f1 > f0 ? 1 : 0;
		if (f0 == 0xff && f1 == 0)
			e->current = 1;
		else if (f1 == 0xff && f0 == 0)
			e->current = 0;
	}
	if (!ok[e->current]) {
		free(buf[0]);
		free(buf[1]);
		return false;
	}
	e->flags = e->ncopies == 2 ? buf[e->current][4] : 0;
	data = buf[e->current] + hdr;
	e->nvars = 0;
	for (size_t i = 0; i < size && data[i] && e->nvars < 128;) {
		const char *entry = (const char *)data + i;
		size_t n = strnlen(entry, size - i);
		const char *eq = memchr(entry, '=', n);

		if (eq) {
			var *v = &e->vars[e->nvars++];

			snprintf(v->name, sizeof(v->name), "%.*s", (int)(eq - entry), entry);
			snprintf(v->value, sizeof(v->value), "%.*s", (int)(n - (size_t)(eq - entry) - 1),
				 eq + 1);
			v->set = true;
		}
		i += n + 1;
	}
	free(buf[0]);
	free(buf[1]);
	return true;
}

static var *uget(uenv *e, const char *name)
{
	for (size_t i = 0; i < e->nvars; i++)
		if (e->vars[i].set && !strcmp(e->vars[i].name, name))
			return &e->vars[i];
	return NULL;
}

static const char *uval(uenv *e, const char *name)
{
	var *v = uget(e, name);

	return v ? v->value : "";
}

static void usetenv(uenv *e, const char *name, const char *value)
{
	var *v = uget(e, name);

	if (!v) {
		if (e->nvars >= 128)
			die("too many variables");
		v = &e->vars[e->nvars++];
		snprintf(v->name, sizeof(v->name), "%s", name);
	}
	set_var(v, value);
}

/* saveenv: to the copy not in force, flag byte + 1, as U-Boot does. */
static void uenv_save(uenv *e)
{
	int target = e->ncopies == 2 ? !e->current : 0;
	env_copy *c = &e->copy[target];
	size_t hdr = e->ncopies == 2 ? 5 : 4, k = hdr;
	unsigned char *buf = calloc(1, c->size);
	uint32_t crc;
	FILE *f;

	if (!buf)
		die("out of memory");
	for (size_t i = 0; i < e->nvars; i++) {
		int n;

		if (!e->vars[i].set)
			continue;
		n = snprintf((char *)buf + k, c->size - k, "%s=%s", e->vars[i].name,
			     e->vars[i].value);
		if (n < 0 || (size_t)n + 2 > c->size - k)
			die("saveenv: environment too large for %s", c->dev);
		k += (size_t)n + 1;
	}
	crc = crc32_of(buf + hdr, c->size - hdr);
	buf[0] = (unsigned char)crc;
	buf[1] = (unsigned char)(crc >> 8);
	buf[2] = (unsigned char)(crc >> 16);
	buf[3] = (unsigned char)(crc >> 24);
	if (e->ncopies == 2)
		buf[4] = (unsigned char)(e->flags + 1);
	f = fopen(c->dev, "r+b");
	if (!f || fseek(f, c->offset, SEEK_SET) != 0 || fwrite(buf, 1, c->size, f) != c->size ||
	    fflush(f) != 0 || fsync(fileno(f)) != 0)
		die("saveenv: %s: %s", c->dev, strerror(errno));
	fclose(f);
	free(buf);
	e->current = target;
	e->flags = (unsigned char)(e->flags + 1);
}

/* simple_strtoul(s, NULL, 16) and base 0 of "0x" + s: hex digits until the
 * first other byte. */
static unsigned long hexval(const char *s)
{
	unsigned long x = 0;

	for (; *s; s++) {
		int d;

		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			break;
		x = x * 16 + (unsigned long)d;
	}
	return x;
}

static int uboot_boot(const char *config)
{
	uenv *e = calloc(1, sizeof(*e));
	char words[8][VAL_MAX], buf[32];
	const char *slot = "";

	if (!e)
		die("out of memory");
	read_config(config, e);
	if (!uenv_load(e)) {
		/* U-Boot would boot with its built-in default environment,
		 * which knows nothing of slots. */
		fprintf(stderr, "bootsim: %s: no valid environment copy\n", config);
		printf("none\n");
		free(e);
		return 2;
	}
	/* Two passes at most: one, and one after "reset". */
	for (int pass = 0; pass < 2 && !*slot; pass++) {
		size_t nw;

		if (!*uval(e, "BOOT_ORDER"))
			usetenv(e, "BOOT_ORDER", "A B");
		if (!*uval(e, "BOOT_A_LEFT"))
			usetenv(e, "BOOT_A_LEFT", "3");
		if (!*uval(e, "BOOT_B_LEFT"))
			usetenv(e, "BOOT_B_LEFT", "3");
		nw = split_words(uval(e, "BOOT_ORDER"), words, 8);
		for (size_t i = 0; i < nw && !*slot; i++) {
			if (!strcmp(words[i], "A") && hexval(uval(e, "BOOT_A_LEFT")) > 0) {
				snprintf(buf, sizeof(buf), "%lx", hexval(uval(e, "BOOT_A_LEFT")) - 1);
				usetenv(e, "BOOT_A_LEFT", buf);
				slot = "a";
			} else if (!strcmp(words[i], "B") && hexval(uval(e, "BOOT_B_LEFT")) > 0) {
				snprintf(buf, sizeof(buf), "%lx", hexval(uval(e, "BOOT_B_LEFT")) - 1);
				usetenv(e, "BOOT_B_LEFT", buf);
				slot = "b";
			}
		}
		if (!*slot) {
			usetenv(e, "BOOT_A_LEFT", "3");
			usetenv(e, "BOOT_B_LEFT", "3");
			uenv_save(e);
			/* reset: the board starts over from the saved env */
			if (!uenv_load(e))
				die("%s: lost the environment", config);
		}
	}
	if (*slot)
		uenv_save(e);
	free(e);
	printf("%s\n", *slot ? slot : "none");
	return *slot ? 0 : 2;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "logic")) {
		if (!strcmp(argv[2], "grub"))
			fputs(grub_logic, stdout);
		else if (!strcmp(argv[2], "uboot"))
			fputs(uboot_logic, stdout);
		else
			die("logic: %s is neither grub nor uboot", argv[2]);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "grub"))
		return grub_boot(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "uboot"))
		return uboot_boot(argv[2]);
	fprintf(stderr, "usage: bootsim grub GRUBENV | uboot FW_ENV_CONFIG | logic grub|uboot\n");
	return 1;
}
