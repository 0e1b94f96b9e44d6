/*
 * criu/config.c - what a caller tells this service beyond CRIU's options:
 * the key that authenticates the bundle (ckpt-oci checkpoint --key).
 *
 * CRIU reads a configuration file the request names (config_file: runc
 * sends /etc/criu/runc.conf, or the file of the container's annotation
 * org.criu.config); so does this service, for its one option there:
 *
 *     ckpt-oci-key FILE
 *
 * in CRIU's syntax (one option a line, a leading "--" allowed, "#"
 * comments). The other options of such a file are CRIU's: logged and
 * ignored. CKPT_OCI_KEY=FILE in the service's environment (runc passes its
 * own on) wins over the file; without either, the host's key.
 */
#define LOG_PREFIX "criu: "
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "criu/swrk.h"
#include "util/util.h"

#define CONFIG_MAX (64u << 10)
#define KEY_OPTION "ckpt-oci-key"

/* One line of a config file: *name and *val point into it, trimmed. */
static void split_line(char *line, char **name, char **val)
{
	char *p = line + strspn(line, " \t"), *end;

	if (!strncmp(p, "--", 2))
		p += 2;
	*name = p;
	p += strcspn(p, " \t=");
	if (*p)
		*p++ = '\0';
	p += strspn(p, " \t=");
	end = p + strlen(p);
	while (end > p && strchr(" \t\r", end[-1]))
		*--end = '\0';
	/* CRIU's values may be quoted */
	if (end - p >= 2 && *p == '"' && end[-1] == '"') {
		end[-1] = '\0';
		p++;
	}
	*val = p;
}

/* The key named in the config file path, if any (*key stays NULL). */
static int config_key(struct swrk *s, const char *path, char **key, ckpt_err_t *err)
{
	cleanup_free char *buf = NULL;
	size_t len = 0;
	char *line, *next;
	int ret, n = 0;

	ret = read_file_at(AT_FDCWD, path, CONFIG_MAX, &buf, &len, err);
	if (ret == -ENOENT) {
		ckpt_error_clear(err);
		return 0; /* as CRIU: a config file that is not there is no error */
	}
	if (ret < 0)
		return ckpt_error_wrap(err, "config_file");
	for (line = buf; line; line = next) {
		char *name, *val;

		n++;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		split_line(line, &name, &val);
		if (!*name || *name == '#')
			continue;
		if (strcmp(name, KEY_OPTION)) {
			swrk_log(s, "config %s:%d: `%s` is CRIU's, ignored", path, n, name);
			continue;
		}
		if (val[0] != '/')
			return ckpt_error_msg(err, EINVAL,
					      "config %s:%d: " KEY_OPTION
					      " wants an absolute path, "
					      "not `%s`",
					      path, n, val);
		free(*key);
		*key = xstrdup(val);
	}
	return 0;
}

int swrk_key(struct swrk *s, char **key, ckpt_err_t *err)
{
	const char *env = getenv("CKPT_OCI_KEY");
	const char *conf = s->opts->config_file;
	int ret;

	*key = NULL;
	if (conf && *conf) {
		ret = config_key(s, conf, key, err);
		if (ret < 0)
			return ret;
	}
	if (env && *env) {
		if (env[0] != '/')
			return ckpt_error_msg(err, EINVAL,
					      "CKPT_OCI_KEY wants an absolute path, not `%s`", env);
		free(*key);
		*key = xstrdup(env);
		swrk_log(s, "key: %s (CKPT_OCI_KEY)", *key);
	} else if (*key) {
		swrk_log(s, "key: %s (%s)", *key, conf);
	}
	return 0;
}
